"""In-process publish/subscribe of event updates.

Subscribers run in the publisher's thread, in subscription order, so they must be quick (the
MQTT publisher only queues). One that raises is logged and skipped: it never stops the others
nor reaches the analysis that published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vigil.events.model import EventUpdate

log = logging.getLogger(__name__)

Subscriber = Callable[[EventUpdate], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.failures = 0  # subscriber calls that raised

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, update: EventUpdate) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(update)
            except Exception:
                with self._lock:
                    self.failures += 1
                log.exception(
                    "event subscriber failed; the others still get the event",
                    extra={
                        "camera": update.event.camera,
                        "event": update.event.id,
                        "subscriber": getattr(callback, "__qualname__", repr(callback)),
                    },
                )
