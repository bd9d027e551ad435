"""Events and camera states to an MQTT broker, in the style of Frigate's topics.

Topics, under the configured prefix (default `vigil`), all QoS 1:
- `<prefix>/events`: {"type": "new"|"update"|"end", "before": event|null, "after": event};
- `<prefix>/<camera>/status`: the camera's state as JSON, retained;
- `<prefix>/<camera>/counts`: line-crossing counts per interval, per line;
- `<prefix>/available`: "online" / "offline", retained (offline is also the last will). Only
  the node's own client (the supervisor's) announces it: a camera process that crashes or is
  killed by the watchdog must not mark the whole node offline.

Publishing never blocks the caller: paho's network thread connects, reconnects with backoff and
sends; while the broker is unreachable messages wait in paho's bounded queue and go out on
reconnection. When that queue is full a message is dropped and counted in `dropped`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from vigil.events.model import EventUpdate
from vigil.events.payload import event_json
from vigil.settings.events import MqttSettings

log = logging.getLogger(__name__)

QOS = 1
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
OPEN_EVENTS_REMEMBERED = 10_000  # bounds "before" memory if `end` updates are ever lost
FLUSH_TIMEOUT_S = 2.0


class MqttPublisher:
    def __init__(self, settings: MqttSettings, announces: bool = False) -> None:
        """`announces`: this client speaks for the node on `<prefix>/available`."""
        self.settings = settings
        self.announces = announces
        self.prefix = settings.topic_prefix
        self.broker = f"{settings.host}:{settings.port}"
        self.dropped = 0
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, Any]] = {}  # open event id -> its last "after"
        self._latest: Any = None  # the last message handed to paho, to wait for at stop
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id)
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        client.max_queued_messages_set(settings.queue_size)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        if announces:
            client.will_set(self.topic("available"), "offline", qos=QOS, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self.client = client

    def topic(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def start(self) -> None:
        """Connect in the background; an unreachable broker is retried, never waited for."""
        self.client.connect_async(
            self.settings.host, self.settings.port, keepalive=int(self.settings.keepalive)
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Send what is queued (the last events' `end` above all), then disconnect."""
        if self.announces:
            self._publish(self.topic("available"), "offline", retain=True)
        info = self._latest
        if self.connected.is_set() and info is not None:
            # Messages leave in order, so the last one acknowledged means all were. The
            # connection may go while stopping; the last will then says offline anyway.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(FLUSH_TIMEOUT_S)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttPublisher:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def publish_event(self, update: EventUpdate) -> None:
        """An event bus subscriber: `bus.subscribe(publisher.publish_event)`."""
        after = event_json(update.event)
        with self._lock:
            before = self._last.pop(update.event.id, None)
            if update.phase != "end":
                self._last[update.event.id] = after
                if len(self._last) > OPEN_EVENTS_REMEMBERED:
                    del self._last[next(iter(self._last))]
        payload = {"type": update.phase, "before": before, "after": after}
        self._publish(self.topic("events"), json.dumps(payload))

    def publish_status(self, camera: str, status: Mapping[str, Any]) -> None:
        """The camera's state (e.g. {"state": "online", "since": ...}), retained."""
        self._publish(self.topic(camera, "status"), json.dumps(dict(status)), retain=True)

    def publish_counts(self, camera: str, counts: Mapping[str, Any]) -> None:
        """Aggregate line-crossing counts, e.g. {"line": "entry", "start": ..., "end": ...,
        "in": {"person": 3}, "out": {"person": 1}}: counts only, never individuals."""
        self._publish(self.topic(camera, "counts"), json.dumps(dict(counts)))

    def _publish(self, topic: str, payload: str, retain: bool = False) -> Any:
        info = self.client.publish(topic, payload, qos=QOS, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped == 1 or dropped % 100 == 0:
                log.warning(
                    "MQTT queue full: message dropped",
                    extra={"broker": self.broker, "topic": topic, "dropped": dropped},
                )
            return None
        self._latest = info
        return info

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                    _properties: Any) -> None:  # fmt: skip
        if reason.is_failure:
            log.error(
                "MQTT broker refused the connection; check mqtt.username/password and its ACL",
                extra={"broker": self.broker, "reason": str(reason)},
            )
            return
        self.connected.set()
        log.info("MQTT connected", extra={"broker": self.broker})
        if self.announces:
            client.publish(self.topic("available"), "online", qos=QOS, retain=True)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:  # fmt: skip
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected:
            log.warning(
                "MQTT disconnected; reconnecting, messages are queued meanwhile",
                extra={"broker": self.broker, "reason": str(reason)},
            )
