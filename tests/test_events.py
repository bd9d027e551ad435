"""Events in the index (SQLite and PostgreSQL), their snapshots, recordings and the bus."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from support.media import h264_clip
from support.segments import write_segment
from vigil.analytics.offline import clip_seconds
from vigil.api.routes.events import event_json as api_event_json
from vigil.box import Box
from vigil.config import parse_config
from vigil.events.bus import EventBus
from vigil.events.model import Event, EventUpdate
from vigil.events.payload import event_json
from vigil.events.query import list_events
from vigil.events.store import EventStore
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.schema import events
from vigil.timeutil import US, now_us, parse_iso

BOX = Box(60, 40, 180, 150)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("clips")
    return h264_clip(cache, width=320, height=180, fps=10, seconds=8)


@pytest.fixture(scope="module")
def frames(clip: Path) -> list[np.ndarray]:
    """Real pictures, BGR as OpenCV and the analysis use them: the first and a later one."""
    with av.open(str(clip)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    return [decoded[0], decoded[40]]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "storage")
    layout.recordings.mkdir(parents=True)
    return layout


@pytest.fixture
def store(engine: Engine, layout: Layout) -> EventStore:
    return EventStore(engine, layout.root / "snapshots")


def event(**changes: object) -> Event:
    fields = {
        "id": str(uuid.uuid4()),
        "camera": "gate",
        "type": "intrusion",
        "start_us": now_us() - 60 * US,
        "label": "person",
        "zone": "yard",
        "score": 0.6,
        "box": BOX,
    }
    return Event(**{**fields, **changes})  # type: ignore[arg-type]


def read_jpeg(path: Path) -> np.ndarray:
    assert path.read_bytes()[:2] == b"\xff\xd8", f"{path} is not a JPEG"
    picture = cv2.imread(str(path))
    assert picture is not None, f"{path} does not decode"
    return picture


def test_new_stores_event_box_and_both_snapshots(
    store: EventStore, frames: list[np.ndarray]
) -> None:
    new = event(attributes={"direction": "in"})
    store.apply(EventUpdate("new", new), frames[0])
    stored = store.get(new.id)
    assert stored is not None
    assert (stored.camera, stored.type, stored.label, stored.zone) == (
        "gate", "intrusion", "person", "yard"
    )  # fmt: skip
    assert (stored.start_us, stored.end_us, stored.score) == (new.start_us, None, 0.6)
    assert stored.attributes == {"direction": "in"}
    height, width = frames[0].shape[:2]
    assert stored.frame_size == (width, height)
    assert stored.box == Box(60 / width, 40 / height, 180 / width, 150 / height)
    assert stored.to_event().box == BOX

    assert stored.snapshot is not None and stored.clean_snapshot is not None
    day = stored.snapshot.parent.name
    assert stored.snapshot.relative_to(store.snapshots_dir) == Path(f"gate/{day}/{new.id}.jpg")
    assert stored.clean_snapshot.name == f"{new.id}-clean.jpg"
    boxed, clean = read_jpeg(stored.snapshot), read_jpeg(stored.clean_snapshot)
    assert boxed.shape == clean.shape == frames[0].shape
    # The outline is drawn in red on the boxed picture only.
    edge = (slice(50, 140), slice(59, 62))  # the box's left side, below any caption
    assert boxed[edge][..., 2].mean() - boxed[edge][..., 1].mean() > 100
    assert abs(int(clean[edge][..., 2].mean()) - int(clean[edge][..., 1].mean())) < 60
    # Far from the box and its caption, JPEG blocks are coded alike: the pictures are the same.
    assert np.array_equal(boxed[:, 240:], clean[:, 240:])
    assert np.array_equal(boxed[170:, :], clean[170:, :])


def test_update_keeps_the_best_snapshot_and_end_closes(
    store: EventStore, frames: list[np.ndarray]
) -> None:
    new = event(score=0.6)
    store.apply(EventUpdate("new", new), frames[0])
    stored = store.get(new.id)
    assert stored is not None and stored.snapshot is not None
    first = stored.snapshot.read_bytes(), stored.clean_snapshot.read_bytes()  # type: ignore[union-attr]

    worse = event(id=new.id, start_us=new.start_us, score=0.5, box=Box(0, 0, 50, 50))
    store.apply(EventUpdate("update", worse), frames[1])
    stored = store.get(new.id)
    assert stored is not None and stored.score == 0.6 and stored.to_event().box == BOX
    assert (stored.snapshot.read_bytes(), stored.clean_snapshot.read_bytes()) == first  # type: ignore[union-attr]

    better = event(id=new.id, start_us=new.start_us, score=0.8, box=Box(100, 60, 300, 170))
    store.apply(EventUpdate("update", better), frames[1])
    stored = store.get(new.id)
    assert stored is not None and stored.score == 0.8
    assert stored.to_event().box == Box(100, 60, 300, 170)
    assert stored.snapshot.read_bytes() != first[0]  # type: ignore[union-attr]
    assert np.array_equal(
        read_jpeg(stored.clean_snapshot), cv2.imdecode(  # type: ignore[arg-type]
            cv2.imencode(".jpg", frames[1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR
        ),
    )  # fmt: skip
    assert not list(store.snapshots_dir.rglob("*.tmp")), "a temporary file was left behind"

    end_us = new.start_us + 7 * US
    ended = event(id=new.id, start_us=new.start_us, end_us=end_us, score=None, box=None)
    store.apply(EventUpdate("end", ended), None)
    stored = store.get(new.id)
    assert stored is not None and stored.end_us == end_us and stored.score == 0.8
    assert stored.snapshot is not None and stored.snapshot.is_file()


def test_redelivered_new_is_ignored_and_a_lost_new_is_recovered(
    store: EventStore, engine: Engine, frames: list[np.ndarray]
) -> None:
    new = event()
    store.apply(EventUpdate("new", new), frames[0])
    store.apply(EventUpdate("new", new), frames[0])  # the bus delivered it twice
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(events)).scalar()
    assert count == 1

    # An `end` whose `new` never arrived still stores the event, ended.
    orphan = event(type="tamper", label=None, zone=None, box=None, score=None)
    store.apply(EventUpdate("end", orphan), None)
    stored = store.get(orphan.id)
    assert stored is not None and stored.type == "tamper" and stored.end_us is not None
    assert stored.snapshot is None and stored.box is None


def test_events_a_dead_run_left_open_end_at_their_last_update(
    store: EventStore, engine: Engine
) -> None:
    ours, theirs, ended = event(), event(camera="elsewhere"), event(end_us=now_us() - 30 * US)
    for e in (ours, theirs, ended):
        store.apply(EventUpdate("new", e), None)
    with engine.connect() as connection:
        last_update = connection.execute(
            select(events.c.updated_us).where(events.c.id == ours.id)
        ).scalar()
    assert store.end_abandoned(["gate"]) == 1
    assert store.get(ours.id).end_us == last_update  # type: ignore[union-attr]
    assert store.get(theirs.id).end_us is None  # type: ignore[union-attr]  # another node's
    assert store.get(ended.id).end_us == ended.end_us  # type: ignore[union-attr]
    assert store.end_abandoned(["gate"]) == 0


def test_find_filters_by_camera_type_and_time(store: EventStore) -> None:
    base = now_us() - 3600 * US
    made = {
        "gate-early": event(camera="gate", start_us=base, end_us=base + 10 * US),
        "gate-tamper": event(camera="gate", type="tamper", start_us=base + 100 * US,
                             end_us=base + 130 * US),
        "yard-open": event(camera="yard", start_us=base + 200 * US),  # still going on
        "gate-late": event(camera="gate", start_us=base + 300 * US, end_us=base + 305 * US),
    }  # fmt: skip
    for item in made.values():
        store.apply(EventUpdate("new", item), None)
    ids = {item.id: name for name, item in made.items()}

    def names(found: list) -> list[str]:  # type: ignore[type-arg]
        return [ids[e.id] for e in found]

    assert names(store.find()) == ["gate-late", "yard-open", "gate-tamper", "gate-early"]
    assert names(store.find(camera="gate")) == ["gate-late", "gate-tamper", "gate-early"]
    assert names(store.find(type="tamper")) == ["gate-tamper"]
    assert names(store.find(camera="yard", type="tamper")) == []
    # Overlap with [since, until]: an event that began before `since` but lasts into it counts.
    assert names(store.find(since_us=base + 120 * US, until_us=base + 250 * US)) == [
        "yard-open", "gate-tamper"
    ]  # fmt: skip
    assert names(store.find(since_us=base + 400 * US)) == ["yard-open"]
    assert names(store.find(until_us=base + 5 * US)) == ["gate-early"]
    assert names(store.find(limit=2)) == ["gate-late", "yard-open"]
    assert store.get("no-such-id") is None


def test_playback_finds_the_event_recording(
    store: EventStore, engine: Engine, layout: Layout, clip: Path, frames: list[np.ndarray]
) -> None:
    index = SegmentIndex(engine)
    base = now_us() - 120 * US
    for n in range(10):  # 2 s segments covering [base, base + 20 s]
        write_segment(layout, clip, "gate", base + n * 2 * US, seconds=2, index=index)
    write_segment(layout, clip, "yard", base + 10 * US, seconds=2, index=index)
    segments = index.find("gate")
    assert len(segments) == 10

    start, end = base + 9 * US, base + 11 * US
    new = event(camera="gate", start_us=start, end_us=end)
    store.apply(EventUpdate("new", new), frames[0])
    # [start - 3, end + 3] = [6 s, 14 s] of the recording.
    wanted = [s for s in segments if s.end_us > start - 3 * US and s.start_us < end + 3 * US]
    found = store.segments_for(new, pre_s=3, post_s=3)
    assert found == wanted and found[0].start_us <= start - 3 * US < found[0].end_us
    assert found[-1].start_us < end + 3 * US <= found[-1].end_us
    assert store.segments_for(new, pre_s=0, post_s=0) == [
        s for s in segments if s.end_us > start and s.start_us < end
    ]
    # An open event reaches now: its recording runs to the newest segment.
    still = event(camera="gate", start_us=base + 15 * US)
    assert store.segments_for(still, 0, 0)[-1] == segments[-1]

    config = parse_config(
        f"storage: {{path: '{layout.root}'}}\ncameras:\n  gate: {{purpose: testing, main: 'file:///x.mp4'}}\n"
    )
    [report] = list_events(config, engine, camera="gate", type="intrusion")
    assert report["id"] == new.id and report["end"].endswith("Z")
    assert (parse_iso(report["start"]), parse_iso(report["end"])) == (start, end)
    assert report["box"] == [60, 40, 180, 150] and report["frame"] == [320, 180]
    assert report["box_normalised"] == [round(v, 4) for v in (60 / 320, 40 / 180, 180 / 320,
                                                              150 / 180)]  # fmt: skip
    assert report["snapshot"] is True
    # The default pre/post roll is 5 s each: [4 s, 16 s].
    expected = [s for s in segments if s.end_us > start - 5 * US and s.start_us < end + 5 * US]
    assert report["recording"] == [s.id for s in expected]
    # Metadata only: no path to footage or snapshot leaves through the command line.
    assert str(layout.root) not in json.dumps(report)
    assert list_events(config, engine, camera="yard") == []


def test_every_consumer_renders_an_event_the_same_way(
    store: EventStore, engine: Engine, layout: Layout, frames: list[np.ndarray]
) -> None:
    """MQTT, `vigil events`, the API and `vigil analyze` share one rendering, plus extras."""
    new = event(end_us=now_us() - 30 * US, attributes={"direction": "in"})
    store.apply(EventUpdate("new", new), frames[0])
    stored = store.get(new.id)
    assert stored is not None
    mqtt = event_json(new)
    config = parse_config(
        f"storage: {{path: '{layout.root}'}}\ncameras:\n  gate: {{purpose: testing, main: 'file:///x.mp4'}}\n"
    )
    [listed] = list_events(config, engine, camera="gate")
    api = api_event_json(stored, None)
    for consumer in (listed, api):
        assert {k: consumer[k] for k in mqtt} == mqtt
    assert set(listed) - set(mqtt) == {"box_normalised", "frame", "snapshot", "recording"}
    assert set(api) - set(mqtt) == {"box_normalised", "frame", "snapshot", "review"}
    analysed = event_json(new, times=clip_seconds, frame=[320, 180])
    assert set(analysed) - set(mqtt) == {"frame"}
    assert (analysed["start"], analysed["end"]) == (
        round(new.start_us / US, 3), round(new.end_us / US, 3)  # type: ignore[operator]
    )  # fmt: skip


def test_bus_delivers_to_all_even_when_one_subscriber_fails() -> None:
    bus = EventBus()
    got: list[tuple[str, EventUpdate]] = []

    def broken(_update: EventUpdate) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(lambda u: got.append(("first", u)))
    bus.subscribe(broken)
    unsubscribe = bus.subscribe(lambda u: got.append(("third", u)))
    update = EventUpdate("new", event())
    bus.publish(update)  # must not raise
    assert got == [("first", update), ("third", update)] and bus.failures == 1
    unsubscribe()
    bus.publish(update)
    assert [name for name, _ in got] == ["first", "third", "first"]
