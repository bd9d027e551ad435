"""Events and camera states on a real Mosquitto broker, through outages."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from support.fixtures import free_port
from support.mqtt import Listener, MosquittoBroker
from support.vigil import wait_for
from vigil.box import Box
from vigil.events.bus import EventBus
from vigil.events.model import Event, EventUpdate
from vigil.events.mqtt import MqttPublisher
from vigil.settings.events import MqttSettings
from vigil.timeutil import US, now_us, parse_iso


def settings(port: int, **overrides: object) -> MqttSettings:
    values = {"host": "127.0.0.1", "port": port, "client_id": f"vigil-{uuid.uuid4().hex[:8]}"}
    return MqttSettings.model_validate({**values, **overrides})


def intrusion(**changes: object) -> Event:
    fields = {
        "id": str(uuid.uuid4()),
        "camera": "gate-north",
        "type": "intrusion",
        "start_us": now_us(),
        "label": "person",
        "zone": "yard",
        "score": 0.71,
        "box": Box(10, 20, 110, 220),
    }
    return Event(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def test_new_update_end_and_retained_status(
    mosquitto: MosquittoBroker, listeners: list[Listener]
) -> None:
    listener = Listener(mosquitto, "site/vigil/#")
    listeners.append(listener)
    bus = EventBus()
    with MqttPublisher(settings(mosquitto.port, topic_prefix="site/vigil"), True) as publisher:
        bus.subscribe(publisher.publish_event)
        assert listener.next().payload == b"online"  # site/vigil/available
        event = intrusion()
        bus.publish(EventUpdate("new", event))
        better = intrusion(id=event.id, start_us=event.start_us, score=0.9, box=Box(0, 0, 5, 5))
        bus.publish(EventUpdate("update", better))
        ended = intrusion(id=event.id, start_us=event.start_us, end_us=event.start_us + 4 * US)
        bus.publish(EventUpdate("end", ended))

        new = listener.json("site/vigil/events")
        assert new["type"] == "new" and new["before"] is None
        after = new["after"]
        assert (after["id"], after["camera"], after["type"]) == (
            event.id,
            "gate-north",
            "intrusion",
        )
        assert (after["label"], after["zone"], after["end"]) == ("person", "yard", None)
        assert after["box"] == [10, 20, 110, 220] and after["score"] == 0.71
        assert parse_iso(after["start"]) == event.start_us and after["start"].endswith("Z")
        update = listener.json("site/vigil/events")
        assert update["type"] == "update" and update["before"] == after
        assert update["after"]["score"] == 0.9
        end = listener.json("site/vigil/events")
        assert end["type"] == "end" and end["before"] == update["after"]
        assert parse_iso(end["after"]["end"]) == event.start_us + 4 * US

        publisher.publish_status("gate-north", {"state": "online", "fps": 15.0})
        publisher.publish_counts("gate-north", {"line": "entry", "in": {"person": 2}})
        counts = listener.json("site/vigil/gate-north/counts")
        assert counts == {"line": "entry", "in": {"person": 2}}
        assert publisher.dropped == 0

    # A client arriving later gets the camera's last state at once: it is retained.
    late = Listener(mosquitto, "site/vigil/+/status")
    listeners.append(late)
    message = late.next()
    assert message.retain and message.topic == "site/vigil/gate-north/status"
    assert message.payload == b'{"state": "online", "fps": 15.0}'


def test_broker_outage_never_blocks_and_later_messages_arrive(
    persistent_mosquitto: MosquittoBroker, listeners: list[Listener]
) -> None:
    broker = persistent_mosquitto
    # A persistent session: the broker keeps what arrives for the listener across its restart.
    listener = Listener(broker, "vigil/events", client_id="outage-listener")
    listeners.append(listener)
    with MqttPublisher(settings(broker.port)) as publisher:
        wait_for("the publisher connected", publisher.connected.is_set, 10)
        first = intrusion()
        publisher.publish_event(EventUpdate("new", first))
        assert listener.json("vigil/events")["after"]["id"] == first.id

        broker.stop()
        wait_for("the publisher to notice", lambda: not publisher.connected.is_set(), 30)
        during = [EventUpdate("end", intrusion(id=first.id, end_us=now_us()))]
        during += [EventUpdate("new", intrusion()) for _ in range(5)]
        publishing = threading.Thread(target=lambda: [publisher.publish_event(u) for u in during])
        publishing.start()
        publishing.join(10)
        # It returned with the broker still down: had it waited for the broker, it would hang.
        assert not publishing.is_alive(), "publishing blocked while the broker was down"

        broker.start()
        expected = [(u.phase, u.event.id) for u in during]
        # QoS 1 is at-least-once: a message in flight at the outage may arrive again, so
        # consumers de-duplicate by (type, id), as the hub does; the order must hold.
        received: list[tuple[str, str]] = []
        for _ in range(len(expected) + 5):
            message = listener.json("vigil/events", timeout=60)
            key = (message["type"], message["after"]["id"])
            if key not in received and key != ("new", first.id):
                received.append(key)
            if len(received) == len(expected):
                break
        assert received == expected
        assert publisher.dropped == 0
        later = intrusion()
        publisher.publish_event(EventUpdate("new", later))
        for _ in range(5):  # past any late repeat of the messages above
            if listener.json("vigil/events")["after"]["id"] == later.id:
                break
        else:
            raise AssertionError("the message sent after the outage never arrived")


def test_full_queue_drops_and_counts_while_the_broker_is_away(
    persistent_mosquitto: MosquittoBroker, listeners: list[Listener]
) -> None:
    broker = persistent_mosquitto
    listener = Listener(broker, "vigil/events", client_id="queue-listener")
    listeners.append(listener)
    broker.stop()
    with MqttPublisher(settings(broker.port, queue_size=3)) as publisher:
        updates = [EventUpdate("new", intrusion()) for _ in range(10)]
        for update in updates:
            publisher.publish_event(update)
        assert publisher.dropped == 7
        broker.start()
        kept = [listener.json("vigil/events", timeout=60)["after"]["id"] for _ in range(3)]
        assert kept == [u.event.id for u in updates[:3]]


def test_unreachable_broker_at_start_is_retried_not_fatal() -> None:
    publisher = MqttPublisher(settings(free_port()))
    publisher.start()  # nothing listens there: the background thread keeps trying
    publisher.publish_event(EventUpdate("new", intrusion()))
    assert not publisher.connected.is_set() and publisher.dropped == 0
    publisher.stop()


def test_password_never_appears_in_settings_repr() -> None:
    secret = "s3cret-Passw0rd"
    configured = settings(1883, username="vigil", password=secret)
    assert secret not in repr(configured) and secret not in str(configured.model_dump())
    assert configured.password is not None and configured.password.get_secret_value() == secret


@pytest.mark.parametrize("prefix", ["", "/vigil", "vigil/", "vi#gil", "a b"])
def test_bad_topic_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="topic_prefix"):
        settings(1883, topic_prefix=prefix)
