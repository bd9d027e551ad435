"""Export packages end to end on real footage: asked for through the API, made by the real
exporter, checked by the package's own verify.py with nothing but Python. Redacted by default
(no person left for the detector to find), unredacted only with a second person, every
tampering named, and a kill -9 mid-export never leaves a half package reported complete."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from typer.testing import CliRunner

from support.assets import MODEL
from support.console import PASSWORD, REASON, Console, open_console
from support.segments import write_segment
from vigil.analytics.detection.factory import load_detector
from vigil.audit import offline, read_records
from vigil.audit.keys import public_key_pem
from vigil.config import load_config
from vigil.export import names
from vigil.export.cli import export_app
from vigil.export.worker import Exporter
from vigil.storage.exports import ExportStore
from vigil.storage.index import SegmentIndex
from vigil.storage.schema import exports
from vigil.timeutil import DAY_US, US, now_us, to_iso

CASE = REASON["X-Vigil-Case"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, camera_clip: Path) -> Iterator[Console]:
    """A console with footage of people at the gate, its configuration naming the detector
    the exporter uses (the shared YOLOX-Nano when present, else what a fresh install has)."""
    with open_console(tmp_path_factory.mktemp("export"), camera_clip) as console:
        path = console.directory / "vigil.yaml"
        document = yaml.safe_load(path.read_text())
        if MODEL.exists():
            document["detector"] = {"model": str(MODEL)}
        path.write_text(yaml.safe_dump(document))
        context: Any = console.context
        _as(
            console,
            "investigator",
            "POST",
            "/api/v1/cases",
            json={"reference": CASE, "title": "the gate"},
        )
        index = SegmentIndex(context.engine)
        at = console.start_us - 60 * US  # older footage of the market, for the long exports
        for _ in range(8):
            write_segment(context.layout, camera_clip, "market", at, 4.0, index)
            at = index.last_end("market") or at
        yield console


def _as(console: Console, role: str, method: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    console.client.cookies.clear()
    headers = {**console.as_role(role), **kwargs.pop("headers", {})}
    return console.client.request(method, path, headers=headers, **kwargs)


def _exporter(console: Console) -> Exporter:
    return Exporter(load_config(console.directory / "vigil.yaml"))


def _request(console: Console, camera: str = "gate", role: str = "investigator", **body: Any):  # type: ignore[no-untyped-def]
    found = SegmentIndex(console.context.engine).find(camera)  # type: ignore[attr-defined]
    document = {
        "case": CASE,
        "camera": camera,
        "since": to_iso(found[0].start_us),
        "until": to_iso(found[-1].end_us),
        "reason": "the bag left at the gate",
        **body,
    }
    response = _as(console, role, "POST", "/api/v1/exports", json=document)
    assert response.status_code == 201, response.text
    return response.json()


def _package(console: Console, job: dict[str, Any]) -> Path:
    return console.directory / "storage" / "exports" / names.package_name(job["id"])


def _verify(package: Path, *key: Path) -> subprocess.CompletedProcess[str]:
    """The package's own verify.py, with only the standard library (-I -S)."""
    script = package / names.VERIFIER if package.is_dir() else key[-1].parent / "verify.py"
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(package), *map(str, key)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def redacted(site: Console) -> Path:
    """The default export of the gate's footage, made by the exporter."""
    job = _request(site)
    assert job["state"] == "queued" and job["redacted"] is True
    assert _exporter(site).run_once()
    done = _as(site, "investigator", "GET", f"/api/v1/exports/{job['id']}").json()
    assert done["state"] == "complete", done
    progress = done["progress"]
    assert progress["segments_done"] == progress["segments_total"] == 3
    assert progress["bytes_done"] == progress["bytes_total"] > 0
    return _package(site, job)


def test_a_redacted_export_verifies_with_python_alone(site: Console, redacted: Path) -> None:
    checked = _verify(redacted)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = checked.stdout
    assert "VERIFIED export" in summary and "camera gate (site north)" in summary
    assert f"case {CASE}; asked by investigator1" in summary
    assert "the bag left at the gate" in summary
    assert "3 original segments" in summary and "3 linked in the camera's hash chain" in summary
    assert "redacted: redacted.mp4" in summary and "gaps: none" in summary
    assert "kept at the site, listed by hash" in summary
    assert not (redacted / names.SEGMENTS).exists(), "no original footage in a redacted package"
    found = SegmentIndex(site.context.engine).find("gate")  # type: ignore[attr-defined]
    with av.open(str(redacted / names.DERIVATIVE)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
        frames = sum(1 for _ in container.decode(stream))
    with av.open(str(site.context.layout.absolute(found[0].path))) as container:  # type: ignore[attr-defined]
        per_segment = sum(1 for _ in container.decode(video=0))
    assert frames >= 3 * per_segment - 3
    # The same through Vigil, and against the site's published key.
    key = site.directory / "site.pem"
    key.write_bytes(public_key_pem(site.context.audit_log.signing_key))  # type: ignore[attr-defined]
    done = CliRunner().invoke(export_app, ["verify", str(redacted), "--key", str(key)])
    assert done.exit_code == 0 and "checked with the key given" in done.output, done.output


def test_the_downloaded_zip_verifies_and_taking_it_is_audited(
    site: Console, redacted: Path
) -> None:
    export_id = int(redacted.name.split("-")[1])
    path = f"/api/v1/exports/{export_id}/package.zip"
    assert _as(site, "investigator", "GET", path).status_code == 400  # no case and reason
    response = _as(site, "investigator", "GET", path, headers=REASON)
    assert response.status_code == 200, response.text
    archive = site.directory / "download.zip"
    archive.write_bytes(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        assert f"{redacted.name}/{names.MANIFEST}" in zipped.namelist()
    script = site.directory / "verify.py"
    shutil.copy(redacted / names.VERIFIER, script)
    checked = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(archive)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    records = read_records(site.context.engine, limit=10_000)  # type: ignore[attr-defined]
    taken = [r for r in records if r.action == "export.download" and r.outcome == "ok"]
    assert len(taken) == 1 and taken[0].reason and taken[0].detail["export"] == export_id
    assert [r.action for r in records if r.detail.get("export") == export_id][:2] == [
        "export.request",
        "export.complete",
    ]


def test_no_person_is_left_for_the_detector_to_find(site: Console, redacted: Path) -> None:
    """The detector's people in the redacted video are at most 1% of those in the originals,
    over the same frames."""
    config = load_config(site.directory / "vigil.yaml")
    detector = load_detector(config.detector, config.storage.path)
    manifest = json.loads((redacted / names.MANIFEST).read_text())

    def people(paths: list[Path]) -> int:
        count = 0
        for path in paths:
            with av.open(str(path)) as container:
                for n, frame in enumerate(container.decode(video=0)):
                    if n % 3 == 1:  # frames the redaction's detector did not look at, mostly
                        found = detector.detect([frame.to_ndarray(format="bgr24")], {"person"})
                        count += len(found[0])
        return count

    found = SegmentIndex(site.context.engine).find("gate")  # type: ignore[attr-defined]
    assert [s.sha256 for s in found] == manifest["derivative"]["from"]
    originals = people([site.context.layout.absolute(s.path) for s in found])  # type: ignore[attr-defined]
    left = people([redacted / names.DERIVATIVE])
    assert originals >= 30, "the footage should show people"
    assert left <= originals * 0.01, f"{left} people left of {originals}"
    fills = {op["what"] for op in manifest["redaction"] if op["op"] == "fill"}
    assert fills == {"person", "face"} and all(
        op["fill"] == "solid black" for op in manifest["redaction"] if op["op"] == "fill"
    )


TAMPERINGS = [
    ("segment byte", "unredacted"),
    ("removed segment", "unredacted"),
    ("added segment", "unredacted"),
    ("derivative byte", "redacted"),
    ("originals in a redacted package", "redacted"),
    ("changed manifest", "redacted"),
    ("wrong key", "redacted"),
    ("proof against the checkpoint", "unredacted"),
]


@pytest.mark.parametrize(("how", "which"), TAMPERINGS)
def test_the_verifier_names_each_tampering(
    request: pytest.FixtureRequest, site: Console, tmp_path: Path, how: str, which: str
) -> None:
    made: Path = request.getfixturevalue(which)
    package = tmp_path / made.name
    shutil.copytree(made, package)
    manifest = json.loads((package / names.MANIFEST).read_text())
    first = package / manifest["segments"][0].get("file", "-")
    key: list[Path] = []
    if how == "segment byte":
        _flip(first, 5000)
        says = f"{manifest['segments'][0]['file']} was altered"
    elif how == "removed segment":
        first.unlink()
        says = "was removed from the package"
    elif how == "added segment":
        shutil.copy(first, package / names.SEGMENTS / "00009-extra.ts")
        says = "a segment was added"
    elif how == "derivative byte":
        _flip(package / names.DERIVATIVE, 20000)
        says = "redacted.mp4 was altered"
    elif how == "originals in a redacted package":
        (package / names.SEGMENTS).mkdir()
        shutil.copy(package / names.DERIVATIVE, package / names.SEGMENTS / "00001-x.ts")
        says = "a redacted package holds original footage"
    elif how == "changed manifest":
        manifest["reason"] = "something else"
        (package / names.MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        says = "signature does not verify"
    elif how == "wrong key":
        stranger = tmp_path / "stranger.pem"
        stranger.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
        key = [stranger]
        says = "wrong key"
    else:  # a proof that does not lead to the signed checkpoint, in a manifest signed anew
        proof = manifest["audit"][-1]
        proof["proof"] = ["00" * 32, *proof["proof"][1:]] if proof["proof"] else ["00" * 32]
        body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        signing = site.context.audit_log.signing_key  # type: ignore[attr-defined]
        (package / names.MANIFEST).write_bytes(body)
        (package / names.SIGNATURE).write_text(signing.sign(names.SIGNED_PREFIX + body).hex())
        says = "proof refused"
    checked = _verify(package, *key)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert says in checked.stdout and "NOT VERIFIED" in checked.stdout, checked.stdout


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_standalone_verifier_uses_the_packages_names() -> None:
    assert (
        offline.FORMAT,
        offline.SIGNED_PREFIX,
        offline.MANIFEST,
        offline.SIGNATURE,
        offline.KEY,
        offline.DERIVATIVE,
    ) == (
        names.FORMAT,
        names.SIGNED_PREFIX,
        names.MANIFEST,
        names.SIGNATURE,
        names.KEY,
        names.DERIVATIVE,
    )


@pytest.fixture(scope="module")
def unredacted(site: Console) -> Path:
    """An export of the originals: asked for by an account that is also a supervisor, which
    may not approve it itself, then approved by another supervisor."""
    context: Any = site.context
    both = context.accounts.add("both", PASSWORD, ["investigator", "supervisor"])
    site.tokens["both"] = context.tokens.issue(both.id, "tests")
    job = _request(site, role="both", redacted=False)
    assert job["state"] == "requested"
    assert not _exporter(site).run_once(), "nothing is exported before approval"
    own = _as(site, "both", "POST", f"/api/v1/exports/{job['id']}/approve")
    assert own.status_code == 403 and "two-person rule" in own.text
    records = read_records(context.engine, limit=10_000)
    assert any(
        r.action == "export.approve" and r.outcome == "denied" and r.actor == "both"
        for r in records
    )
    approved = _as(site, "supervisor", "POST", f"/api/v1/exports/{job['id']}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "queued"
    assert _exporter(site).run_once()
    return _package(site, job)


def test_an_unredacted_export_needs_a_second_person(
    site: Console, unredacted: Path, tmp_path: Path
) -> None:
    context: Any = site.context
    package = unredacted
    job = {"id": int(package.name.split("-")[1])}
    manifest = json.loads((package / names.MANIFEST).read_text())
    found = SegmentIndex(context.engine).find("gate")
    for entry, segment in zip(manifest["segments"], found, strict=True):  # byte for byte
        original = context.layout.absolute(segment.path)
        assert (package / entry["file"]).read_bytes() == original.read_bytes()
    assert not (package / names.DERIVATIVE).exists()
    checked = _verify(package)
    assert checked.returncode == 0, checked.stdout
    assert "UNREDACTED" in checked.stdout and "approved by supervisor1" in checked.stdout
    assert "each as hashed at ingest" in checked.stdout
    assert manifest["redacted"] is False and manifest["derivative"] is None
    assert {p["record"]["action"] for p in manifest["audit"]} == {
        "export.request",
        "export.approve",
    }
    # No redacted.mp4 stand-in can be slipped into an unredacted package.
    stand_in = tmp_path / package.name
    shutil.copytree(package, stand_in)
    shutil.copy(
        site.context.layout.absolute(  # type: ignore[attr-defined]
            SegmentIndex(context.engine).find("gate")[0].path
        ),
        stand_in / names.DERIVATIVE,
    )
    refused = _verify(stand_in)
    assert refused.returncode == 1 and "unredacted package holds a redacted.mp4" in refused.stdout
    # Opening it plays the originals, remuxed for the browser.
    opened = _as(site, "investigator", "GET", f"/api/v1/exports/{job['id']}/open", headers=REASON)
    assert opened.status_code == 200 and opened.json()["manifest"]["redacted"] is False
    video = _as(site, "investigator", "GET", opened.json()["video"])
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0


def _wait_for(console: Console, export_id: int, test: Any, seconds: float = 300) -> Any:
    store = ExportStore(console.context.engine)  # type: ignore[attr-defined]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = store.get(export_id)
        if job is not None and test(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"export {export_id} never got there: {store.get(export_id)}")


def _worker(console: Console) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil.export.worker", str(console.directory / "vigil.yaml")]
    )


def test_kill_9_during_an_export_then_it_resumes_and_completes(site: Console) -> None:
    job = _request(site, camera="market")
    exports = site.directory / "storage" / "exports"
    worker = _worker(site)
    try:
        _wait_for(site, job["id"], lambda j: j.phase == "redacting" and j.segments_done >= 2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        worker.kill()
    killed = ExportStore(site.context.engine).get(job["id"])  # type: ignore[attr-defined]
    assert killed is not None and killed.state == "running" and killed.package is None
    assert not (exports / names.package_name(job["id"])).exists(), "no package before the seal"
    assert names.partial_dir(exports, job["id"]).is_dir()
    worker = _worker(site)
    try:
        done = _wait_for(site, job["id"], lambda j: j.state in ("complete", "failed"))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert done.state == "complete", done.error
    assert not names.partial_dir(exports, job["id"]).exists()
    checked = _verify(_package(site, job))
    assert checked.returncode == 0, checked.stdout
    assert "8 original segments" in checked.stdout


def test_a_cancelled_export_leaves_nothing_and_the_next_one_runs(site: Console) -> None:
    first = _request(site, camera="market")
    worker = _worker(site)
    exports = site.directory / "storage" / "exports"
    try:
        _wait_for(site, first["id"], lambda j: j.state == "running" and j.bytes_done > 0)
        cancelled = _as(site, "investigator", "POST", f"/api/v1/exports/{first['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        second = _request(site)
        _wait_for(site, second["id"], lambda j: j.state == "complete")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert not names.partial_dir(exports, first["id"]).exists()
    assert not (exports / names.package_name(first["id"])).exists()
    again = _as(site, "investigator", "POST", f"/api/v1/exports/{first['id']}/cancel")
    assert again.status_code == 409


def test_a_package_is_removed_after_export_days_and_that_is_audited(site: Console) -> None:
    context: Any = site.context
    job = _request(site)
    exporter = _exporter(site)
    assert exporter.run_once()
    package = _package(site, job)
    assert (package / names.MANIFEST).is_file()
    days = exporter.config.evidence.export_days
    with context.engine.begin() as connection:  # it finished longer ago than that
        connection.execute(
            update(exports).where(exports.c.id == job["id"])
            .values(finished_us=now_us() - int((days + 1) * DAY_US))
        )  # fmt: skip
    assert not exporter.run_once()  # no job to run, but the tidying is done
    expired = ExportStore(context.engine).get(job["id"])
    assert expired is not None and expired.state == "expired"
    assert not package.exists()
    records = read_records(context.engine, limit=10_000)
    assert any(r.action == "export.expire" and r.detail["export"] == job["id"] for r in records)
    gone = _as(site, "investigator", "GET", f"/api/v1/exports/{job['id']}/open", headers=REASON)
    assert gone.status_code == 409
