"""Camera offline / back online as events, and the camera's state on MQTT."""

from __future__ import annotations

from vigil.analytics.ids import uuid7
from vigil.analytics.types import Event, EventUpdate
from vigil.events.sink import EventSink
from vigil.timeutil import now_us

DOWN = ("offline", "error")


class Availability:
    def __init__(self, camera: str, sink: EventSink) -> None:
        self.camera = camera
        self.sink = sink
        self._open: Event | None = None

    def on_state(self, state: str, error: str | None) -> None:
        self.sink.status(self.camera, {"state": state, "error": error})
        if state in DOWN and self._open is None:
            self._open = Event(
                id=uuid7(), camera=self.camera, type="camera_offline", start_us=now_us(),
                attributes={"reason": error or state},
            )  # fmt: skip
            self.sink.emit(EventUpdate("new", self._open))
        elif state == "online" and self._open is not None:
            self._open.end_us = now_us()
            self.sink.emit(EventUpdate("end", self._open))
            self._open = None
