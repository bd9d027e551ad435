"""Where a camera's events go: the store (row + snapshots), then the bus (MQTT and others).

An event that cannot be stored is logged and dropped, never allowed to stop the camera.
"""

from __future__ import annotations

import logging

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.events.bus import EventBus
from vigil.events.model import EventUpdate
from vigil.events.mqtt import MqttPublisher
from vigil.events.store import EventStore
from vigil.storage.layout import Layout

log = logging.getLogger(__name__)


class EventSink:
    def __init__(
        self, config: VigilConfig, engine: Engine, client_id: str, announces: bool = False
    ) -> None:
        """`announces`: the node's own sink, whose MQTT client says the node is available."""
        self.store = EventStore(engine, Layout(config.storage.path).snapshots)
        self.bus = EventBus()
        self.mqtt: MqttPublisher | None = None
        if config.mqtt is not None:
            settings = config.mqtt.model_copy(update={"client_id": client_id[:64]})
            self.mqtt = MqttPublisher(settings, announces)
            self.mqtt.start()
            self.bus.subscribe(self.mqtt.publish_event)

    def emit(self, update: EventUpdate, frame: np.ndarray | None = None) -> None:
        try:
            self.store.apply(update, frame)
        except (SQLAlchemyError, OSError, VigilError) as exc:
            log.error(
                "cannot store an event",
                extra={"camera": update.event.camera, "event": update.event.id, "error": str(exc)},
            )
        self.bus.publish(update)

    def status(self, camera: str, state: dict[str, object]) -> None:
        if self.mqtt is not None:
            self.mqtt.publish_status(camera, state)

    def counts(self, camera: str, counts: dict[str, object]) -> None:
        if self.mqtt is not None:
            self.mqtt.publish_counts(camera, counts)

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
