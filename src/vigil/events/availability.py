"""Camera offline / back online as events, and every camera's state on MQTT.

Kept by the supervisor, which sees every camera's state, including a camera whose process
has died. The event store and MQTT client are created at the first change of state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from vigil.config import VigilConfig
from vigil.events.ids import uuid7
from vigil.events.model import Event, EventUpdate
from vigil.timeutil import now_us

if TYPE_CHECKING:
    from vigil.events.sink import EventSink

DOWN = ("offline", "error")
EVENT_TYPES = ("camera_offline",)  # the events this supervisor-side watcher owns


class Availability:
    def __init__(self, config: VigilConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self._sink: EventSink | None = None
        self._open: dict[str, Event] = {}

    @property
    def sink(self) -> EventSink:
        if self._sink is None:
            from vigil.events.sink import EventSink

            self._sink = EventSink(self.config, self.engine, "vigil-supervisor", announces=True)
        return self._sink

    def on_state(self, camera: str, state: str, error: str | None) -> None:
        self.sink.status(camera, {"state": state, "error": error})
        if state in DOWN and camera not in self._open:
            event = Event(
                id=uuid7(), camera=camera, type="camera_offline", start_us=now_us(),
                attributes={"reason": error or state},
            )  # fmt: skip
            self._open[camera] = event
            self.sink.emit(EventUpdate("new", event))
        elif state == "online" and camera in self._open:
            event = self._open.pop(camera)
            event.end_us = now_us()
            self.sink.emit(EventUpdate("end", event))

    def close(self) -> None:
        """Vigil stops watching: an outage still open ends now."""
        for camera in list(self._open):
            event = self._open.pop(camera)
            event.end_us = now_us()
            self.sink.emit(EventUpdate("end", event))
        if self._sink is not None:
            self._sink.close()
