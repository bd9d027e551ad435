"""The index, start-up reconciliation and retention, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from support.media import h264_clip
from support.segments import write_segment
from vigil.config import parse_config
from vigil.events.store import EventStore
from vigil.media.probe import probe
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.reconcile import Reconciler
from vigil.storage.retention import STORAGE_ALARM, Janitor
from vigil.storage.schema import segments
from vigil.storage.status import StatusStore
from vigil.timeutil import US, now_us


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = Path(os.environ.get("VIGIL_TEST_CACHE") or tmp_path_factory.mktemp("clips"))
    return h264_clip(cache, width=320, height=180, fps=10, seconds=8)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "storage")
    layout.recordings.mkdir(parents=True)
    return layout


def test_index_finds_segments_by_camera_and_time(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    base = now_us() - 60 * US
    for n in range(3):
        write_segment(layout, clip, "gate", base + n * 2 * US, index=index)
    write_segment(layout, clip, "yard", base, index=index)
    assert [s.start_us for s in index.find("gate")] == [base, base + 2 * US, base + 4 * US]
    window = index.find("gate", since_us=base + 3 * US, until_us=base + 5 * US)
    assert [s.start_us for s in window] == [base + 2 * US, base + 4 * US]
    totals = index.totals()
    assert totals["gate"].segments == 3 and totals["yard"].segments == 1
    assert index.last_end("gate") == index.find("gate")[-1].end_us


def _recount(engine: Engine) -> dict[str, tuple[int, int]]:
    query = (
        select(segments.c.camera, func.count(), func.sum(segments.c.bytes))
        .where(segments.c.state == "ok")
        .group_by(segments.c.camera)
    )
    with engine.connect() as connection:
        return {camera: (n, size) for camera, n, size in connection.execute(query)}


def test_running_totals_equal_a_recount_through_every_change(engine: Engine) -> None:
    index = SegmentIndex(engine)
    base = now_us() - 600 * US
    ids = [
        index.add(
            camera,
            base + n * 2 * US,
            base + (n + 1) * 2 * US,
            f"{camera}/{n}.ts",
            1000 + n,
            "0" * 64,
        )
        for camera in ("gate", "yard")
        for n in range(6)
    ]
    steps = [
        lambda: index.set_state(ids[:2], "missing"),
        lambda: index.set_state(ids[:1], "ok"),
        lambda: index.set_state(ids[1:4], "deleting"),  # one already not ok
        lambda: index.remove(ids[1:4], "test"),
        lambda: index.remove(ids[6:12], "test"),  # every yard segment
        lambda: index.set_state(ids[4:5], "deleting"),
        lambda: index.set_state(ids[4:5], "deleting"),  # twice: no double count
    ]
    for step in steps:
        step()
        totals = index.totals()
        assert {c: (t.segments, t.bytes) for c, t in totals.items()} == _recount(engine)
    gate = index.totals()["gate"]
    assert gate.oldest_us == base and gate.newest_us == base + 12 * US


def test_orphan_file_is_cut_back_and_indexed(engine: Engine, layout: Layout, clip: Path) -> None:
    index = SegmentIndex(engine)
    start = now_us() - 30 * US
    relative = write_segment(
        layout, clip, "gate", start, seconds=4
    )  # no row: a crash before commit
    path = layout.absolute(relative)
    with open(path, "r+b") as file:  # and a torn tail, as a power cut leaves it
        file.truncate(path.stat().st_size - 1000)
    report = Reconciler(layout, index).run()
    assert report.recovered == [relative]
    [segment] = index.find("gate")
    assert segment.start_us == start and start < segment.end_us <= start + 4 * US
    assert segment.bytes == path.stat().st_size and segment.bytes % 188 == 0
    assert probe(path) is not None


def test_undecodable_orphan_goes_to_quarantine(engine: Engine, layout: Layout) -> None:
    index = SegmentIndex(engine)
    relative = layout.relative_path("gate", now_us())
    path = layout.absolute(relative)
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(50_000))
    report = Reconciler(layout, index).run()
    assert report.quarantined == [relative]
    assert not path.exists() and (layout.quarantine / relative).exists()
    assert index.find("gate") == []


def test_row_without_file_is_marked_missing_and_found_again(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    relative = write_segment(layout, clip, "gate", now_us() - 10 * US, index=index)
    path = layout.absolute(relative)
    saved = path.read_bytes()
    path.unlink()
    assert Reconciler(layout, index).run().missing == 1
    assert index.find("gate")[0].state == "missing"
    path.write_bytes(saved)  # the disk came back
    assert Reconciler(layout, index).run().found_again == 1
    assert index.find("gate")[0].state == "ok"


def test_interrupted_deletion_is_finished(engine: Engine, layout: Layout, clip: Path) -> None:
    index = SegmentIndex(engine)
    first = write_segment(layout, clip, "gate", now_us() - 20 * US, index=index)
    second = write_segment(layout, clip, "gate", now_us() - 10 * US, index=index)
    ids = [s.id for s in index.find("gate")]
    index.set_state(ids, "deleting")
    layout.absolute(first).unlink()  # the crash came after one unlink
    report = Reconciler(layout, index).run()
    assert report.deletions_finished == 2
    assert index.find("gate") == [] and not layout.absolute(second).exists()


def config_for(layout: Layout, min_free: str = "0%", retention: float = 30) -> object:
    return parse_config(
        f"storage: {{path: '{layout.root}', min_free: '{min_free}'}}\n"
        "cameras:\n"
        f"  gate: {{purpose: testing, main: 'file:///x.mp4', retention_days: {retention}}}\n"
        f"  yard: {{purpose: testing, main: 'file:///y.mp4', retention_days: {retention}}}\n"
    )


def test_retention_deletes_expired_but_never_held(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    old = now_us() - 3 * 86_400 * US
    expired = write_segment(layout, clip, "gate", old, index=index)
    held = write_segment(layout, clip, "gate", old + 5 * US, index=index)
    fresh = write_segment(layout, clip, "gate", now_us() - 60 * US, index=index)
    index.set_hold([s.id for s in index.find("gate") if s.path == held], True)
    janitor = Janitor(
        config_for(layout, retention=2),
        index,
        StatusStore(engine),
        expire_events=EventStore(engine, layout.snapshots).expire,
    )  # type: ignore[arg-type]
    assert janitor.run_once() == 1
    assert [s.path for s in index.find("gate")] == [held, fresh]
    assert not layout.absolute(expired).exists() and layout.absolute(held).exists()


def test_free_space_floor_deletes_oldest_across_cameras_then_alarms(
    engine: Engine, layout: Layout, clip: Path
) -> None:
    index = SegmentIndex(engine)
    status = StatusStore(engine)
    base = now_us() - 600 * US
    order = []
    for n in range(6):
        camera = "gate" if n % 2 else "yard"
        order.append(write_segment(layout, clip, camera, base + n * 10 * US, index=index))
    index.set_hold([s.id for s in index.find("yard") if s.path == order[4]], True)
    sizes = {rel: layout.absolute(rel).stat().st_size for rel in order}
    total = 10**9
    budget = {"free": total - sum(sizes.values())}

    def free_space() -> tuple[int, int]:
        on_disk = sum(s for rel, s in sizes.items() if layout.absolute(rel).exists())
        return budget["free"] + sum(sizes.values()) - on_disk, total

    # The floor sits just above what deleting the three oldest frees.
    floor = total - sum(sizes.values()) + sum(sizes[r] for r in order[:3]) - 1
    events = EventStore(engine, layout.snapshots)

    def janitor_pass(min_free: str) -> Janitor:
        config = config_for(layout, min_free=min_free)
        janitor = Janitor(config, index, status, free_space=free_space, expire_events=events.expire)  # type: ignore[arg-type]
        janitor.run_once()
        return janitor

    janitor_pass(f"{floor}")
    remaining = [s.path for s in index.find("gate") + index.find("yard")]
    assert sorted(remaining) == sorted(order[3:])  # oldest first, whichever camera
    assert status.alarms() == []

    janitor = janitor_pass(f"{total}")  # nothing can satisfy this floor
    assert [s.path for s in index.find("yard")] == [order[4]]  # the held one survives
    assert index.find("gate") == []
    [alarm] = status.alarms()
    assert alarm.kind == STORAGE_ALARM and "held" in alarm.message

    janitor.config = config_for(layout, min_free="0%")  # space came back
    janitor.run_once()
    assert status.alarms() == []


def test_the_layout_names_every_path_under_the_storage_root(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "storage")
    paths = [layout.recordings, layout.quarantine, layout.snapshots, layout.database,
             layout.audit_key, layout.reserve, layout.models, layout.detector_socket]  # fmt: skip
    assert all(p.is_relative_to(layout.root) for p in paths)
    assert len(set(paths)) == len(paths)
    config = parse_config(f"storage: {{path: '{layout.root}'}}")
    assert config.database_url() == f"sqlite:///{layout.database}"
    # A socket's path has at most 108 bytes: a deep storage root gets one in the temp dir.
    deep = Layout(tmp_path / ("d" * 120))
    assert len(str(deep.detector_socket)) < 100
    assert deep.detector_socket == Layout(tmp_path / ("d" * 120)).detector_socket
