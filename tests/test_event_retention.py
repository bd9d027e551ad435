"""Event recording mode: only footage around events is kept; event footage may be kept longer."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from support.media import h264_clip
from support.segments import write_segment
from vigil.box import Box
from vigil.config import VigilConfig, parse_config
from vigil.events.model import Event, EventUpdate
from vigil.events.reviews import ReviewStore
from vigil.events.store import EventStore
from vigil.settings.record import RecordSettings
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.retention import Janitor
from vigil.storage.schema import event_reviews
from vigil.storage.status import StatusStore
from vigil.timeutil import US, now_us

DAY = 86_400 * US


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h264_clip(tmp_path_factory.mktemp("clips"), width=320, height=180, fps=10, seconds=4)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "storage")
    layout.recordings.mkdir(parents=True)
    return layout


def config_for(layout: Layout, retention_days: float) -> VigilConfig:
    return parse_config(
        f"storage: {{path: '{layout.root}', min_free: '0%'}}\nrecord: {{segment_seconds: 2}}\n"
        "cameras:\n"
        f"  gate: {{purpose: testing, main: 'file:///x.mp4', retention_days: {retention_days}}}\n"
        f"  yard: {{purpose: testing, main: 'file:///y.mp4', retention_days: {retention_days}}}\n"
    )


def store_event(store: EventStore, camera: str, start_us: int, end_us: int | None) -> str:
    event = Event(str(uuid.uuid4()), camera, "intrusion", start_us, end_us, "person",
                  score=0.8, box=Box(1, 1, 8, 8))  # fmt: skip
    store.apply(EventUpdate("new", event), np.zeros((16, 16, 3), np.uint8))
    return event.id


def test_events_mode_keeps_only_footage_around_events(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    store = EventStore(engine, layout.snapshots)
    base = now_us() - 400 * US
    at = {
        s: write_segment(layout, clip, "gate", base + s * US, index=index)
        for s in range(0, 100, 10)
    }
    recent = write_segment(layout, clip, "gate", now_us() - 20 * US, index=index)
    other = write_segment(layout, clip, "yard", base + 50 * US, index=index)
    index.set_hold([s.id for s in index.find("gate") if s.path == at[0]], True)
    # Windows with pre 5 s, post 10 s: [26 s, 43 s] (ended), and from 66 s on (still open).
    store_event(store, "gate", base + 31 * US, base + 33 * US)
    store_event(store, "gate", base + 71 * US, None)
    store_event(store, "yard", base + 50 * US, base + 52 * US)  # another camera's event

    record = RecordSettings(mode="events", pre_seconds=5, post_seconds=10)
    janitor = Janitor(
        config_for(layout, retention_days=30),
        index,
        StatusStore(engine),
        record={"gate": record},
        expire_events=EventStore(engine, layout.snapshots).expire,
    )
    assert janitor.run_once() == 4
    kept = [s.path for s in index.find("gate")]
    assert kept == [at[0], at[30], at[40], at[70], at[80], at[90], recent]
    for second in (10, 20, 50, 60):
        assert not layout.absolute(at[second]).exists()
    assert all(layout.absolute(p).exists() for p in kept)
    # Younger than the grace (pre + post + a segment + the claim delay): an event may still
    # claim it as pre-roll. The yard camera records continuously and keeps everything.
    assert [s.path for s in index.find("yard")] == [other]
    assert janitor.run_once() == 0


def test_event_footage_outlives_continuous_footage(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    store = EventStore(engine, layout.snapshots)
    now = now_us()
    # gate: continuous, 2 days, event footage 5 days. yard: events mode, event footage 2 days.
    gate = {
        days: write_segment(layout, clip, "gate", now - int(days * DAY), index=index)
        for days in (6, 3.5, 3, 1)
    }
    yard = {
        days: write_segment(layout, clip, "yard", now - int(days * DAY), index=index)
        for days in (3, 1.5, 1)
    }
    old_gate = store_event(store, "gate", now - 6 * DAY + 1 * US, now - 6 * DAY + 2 * US)
    store_event(store, "gate", now - 3 * DAY + 1 * US, now - 3 * DAY + 2 * US)
    old_yard = store_event(store, "yard", now - 3 * DAY + 1 * US, now - 3 * DAY + 2 * US)
    store_event(store, "yard", now - int(1.5 * DAY) + US, now - int(1.5 * DAY) + 2 * US)
    old_snapshot = store.get(old_yard).snapshot  # type: ignore[union-attr]
    assert old_snapshot is not None and old_snapshot.is_file()

    record = {
        "gate": RecordSettings(event_retention_days=5),
        "yard": RecordSettings(mode="events", event_retention_days=2),
    }
    janitor = Janitor(
        config_for(layout, retention_days=2),
        index,
        StatusStore(engine),
        record=record,
        expire_events=EventStore(engine, layout.snapshots).expire,
    )
    janitor.run_once()
    assert [s.path for s in index.find("gate")] == [gate[3], gate[1]]
    assert [s.path for s in index.find("yard")] == [yard[1.5]]
    # Events and their snapshots go with their footage.
    assert store.get(old_gate) is None and store.get(old_yard) is None
    assert not old_snapshot.exists()
    assert len(store.find()) == 2


def test_held_segments_survive_events_mode(engine: Engine, layout: Layout, clip: Path) -> None:
    index = SegmentIndex(engine)
    old = [write_segment(layout, clip, "gate", now_us() - n * DAY, index=index) for n in (9, 2)]
    index.set_hold([s.id for s in index.find("gate")], True)
    record = RecordSettings(mode="events", event_retention_days=1)
    janitor = Janitor(
        config_for(layout, 1),
        index,
        StatusStore(engine),
        record={"gate": record},
        expire_events=EventStore(engine, layout.snapshots).expire,
    )
    assert janitor.run_once() == 0
    assert [s.path for s in index.find("gate")] == old
    assert all(layout.absolute(p).exists() for p in old)


def test_cameras_without_record_settings_keep_their_old_retention(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    store = EventStore(engine, layout.snapshots)
    now = now_us()
    expired = write_segment(layout, clip, "gate", now - 3 * DAY, index=index)
    fresh = write_segment(layout, clip, "gate", now - 60 * US, index=index)
    # An event does not extend footage without record settings; it expires with it.
    old_event = store_event(store, "gate", now - 3 * DAY, now - 3 * DAY + US)
    open_event = store_event(store, "gate", now - 3 * DAY, None)
    reviews = ReviewStore(engine)
    for event_id in (old_event, open_event):
        reviews.put(event_id, "acknowledged", "seen", "investigator1")
    janitor = Janitor(
        config_for(layout, retention_days=2),
        index,
        StatusStore(engine),
        expire_events=EventStore(engine, layout.snapshots).expire,
    )
    assert janitor.run_once() == 1
    assert [s.path for s in index.find("gate")] == [fresh]
    assert not layout.absolute(expired).exists()
    assert store.get(old_event) is None and store.get(open_event) is not None
    # The event's review goes with it: no review outlives its event.
    assert set(reviews.get_many([old_event, open_event])) == {open_event}
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(event_reviews)).scalar() == 1
