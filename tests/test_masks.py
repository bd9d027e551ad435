"""Privacy masks on real footage: the masked part of the picture is solid black in playback
(MP4 and HLS) and exports, and in what analysis looks at; an unmasked camera keeps the zero-copy
path. A lift needs the mask.lift permission, a second person, and works once, audited."""

from __future__ import annotations

import io
import json
from typing import Any

import av
import numpy as np
import yaml

from support.assets import MODEL
from support.console import PASSWORD, REASON, Console
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.audit import read_records
from vigil.config import CameraConfig, PrivacyConfig, RoleSettings, load_config
from vigil.export.worker import Exporter
from vigil.masks import PrivacyMasks
from vigil.timeutil import to_iso

pytest_plugins = ["support.console"]
MASK = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))  # the top-left quarter
CASE = REASON["X-Vigil-Case"]


def _mask(console: Console, *, approval: bool = True) -> None:
    context: Any = console.context
    gate = context.config.cameras["gate"].model_copy(update={"privacy_masks": [MASK]})
    context.config = context.config.model_copy(
        update={
            "cameras": {**context.config.cameras, "gate": gate},
            "roles": {"investigator": RoleSettings(mask_lift=True)},
            "privacy": PrivacyConfig(lift_approval=approval),
        }
    )


def _as(console: Console, role: str, method: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    console.client.cookies.clear()
    headers = {"Authorization": f"Bearer {console.tokens[role]}", **kwargs.pop("headers", {})}
    return console.client.request(method, path, headers=headers, **kwargs)


def _pictures(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def _masked(picture: np.ndarray) -> bool:
    """The top-left quarter is solid black, and the rest is not."""
    h, w = picture.shape
    inside, outside = picture[2 : h // 2 - 2, 2 : w // 2 - 2], picture[h // 2 + 4 :, :]
    return bool(inside.max() <= 24 and outside.mean() > 40)


def _span(console: Console) -> dict[str, str]:
    return {"since": to_iso(console.start_us), "until": to_iso(console.end_us)}


def test_playback_of_a_masked_camera_is_masked_and_an_unmasked_one_is_not(console: Console) -> None:
    plain = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/video.mp4",
        headers=REASON,
        params=_span(console),
    )
    assert plain.status_code == 200 and not _masked(_pictures(plain.content)[5])
    _mask(console)
    video = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/video.mp4",
        headers=REASON,
        params=_span(console),
    )
    pictures = _pictures(video.content)
    assert len(pictures) > 30 and all(_masked(p) for p in pictures)
    playlist = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/playlist.m3u8",
        headers=REASON,
        params=_span(console),
    )
    segment = next(line for line in playlist.text.splitlines() if ".ts?" in line)
    hls = _as(console, "investigator", "GET", f"/api/v1/playback/gate/{segment}")
    assert hls.status_code == 200
    assert all(_masked(p) for p in _pictures(hls.content))


def test_analysis_never_sees_what_a_mask_hides() -> None:
    camera = CameraConfig(main="rtsp://h/x", purpose="a test", privacy_masks=[MASK])
    pipeline = AnalysisPipeline("gate", camera, detector=None, width=64, height=48)  # type: ignore[arg-type]
    picture = np.full((48, 64, 3), 200, np.uint8)
    pipeline.process(1, picture)
    assert picture[:24, :32].max() == 0, "the quarter is black"
    assert picture[26:, :].min() == 200 and picture[:, 34:].min() == 200, "the rest is untouched"
    assert 32 * 24 <= PrivacyMasks([MASK]).pixels(64, 48)[0].sum() <= 33 * 25


def test_a_lift_needs_the_permission_a_second_person_and_works_once(console: Console) -> None:
    _mask(console)
    context: Any = console.context
    body = {"case": CASE, "camera": "gate", **_span(console), "reason": "identify the thief"}
    _as(console, "investigator", "POST", "/api/v1/cases", json={"reference": CASE, "title": "t"})
    context.config = context.config.model_copy(update={"roles": {}})
    refused = _as(console, "investigator", "POST", "/api/v1/lifts", json=body)
    assert refused.status_code == 403 and "mask.lift permission" in refused.text
    _mask(console)  # now investigators may
    lift = _as(console, "investigator", "POST", "/api/v1/lifts", json=body).json()
    assert lift["state"] == "requested"
    own = _as(console, "investigator", "POST", f"/api/v1/lifts/{lift['id']}/approve")
    assert own.status_code == 403  # the access table: investigators do not approve
    both = context.accounts.add("both", PASSWORD, ["investigator", "supervisor"])
    console.tokens["both"] = context.tokens.issue(both.id, "tests")
    mine = _as(console, "both", "POST", "/api/v1/lifts", json=body).json()
    self_approved = _as(console, "both", "POST", f"/api/v1/lifts/{mine['id']}/approve")
    assert self_approved.status_code == 403 and "two-person rule" in self_approved.text
    early = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/video.mp4",
        headers=REASON,
        params={**_span(console), "lift": lift["id"]},
    )
    assert early.status_code == 409, "not approved yet"
    approved = _as(console, "supervisor", "POST", f"/api/v1/lifts/{lift['id']}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "active"
    lifted = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/video.mp4",
        headers=REASON,
        params={**_span(console), "lift": lift["id"]},
    )
    assert lifted.status_code == 200 and not _masked(_pictures(lifted.content)[5])
    again = _as(
        console,
        "investigator",
        "GET",
        "/api/v1/playback/gate/video.mp4",
        headers=REASON,
        params={**_span(console), "lift": lift["id"]},
    )
    assert again.status_code == 409 and "used" in again.text, "a lift works once"
    actions = [(r.actor, r.action, r.outcome) for r in read_records(context.engine, limit=10_000)]
    for expected in (
        ("investigator1", "mask.lift.request", "denied"),
        ("investigator1", "mask.lift.request", "ok"),
        ("both", "mask.lift.approve", "denied"),
        ("supervisor1", "mask.lift.approve", "ok"),
        ("investigator1", "mask.lift.use", "ok"),
    ):
        assert expected in actions, expected


def test_an_unredacted_export_of_a_masked_camera_needs_a_lift(console: Console) -> None:
    _mask(console)
    _as(console, "investigator", "POST", "/api/v1/cases", json={"reference": CASE, "title": "t"})
    body = {
        "case": CASE,
        "camera": "gate",
        **_span(console),
        "reason": "for the court",
        "redacted": False,
    }
    refused = _as(console, "investigator", "POST", "/api/v1/exports", json=body)
    assert refused.status_code == 422 and "needs a mask lift" in refused.text


def test_a_redacted_export_burns_the_masks_in(console: Console) -> None:
    _mask(console)
    path = console.directory / "vigil.yaml"
    document = yaml.safe_load(path.read_text())
    document["cameras"]["gate"]["privacy_masks"] = [[list(p) for p in MASK]]
    if MODEL.exists():
        document["detector"] = {"model": str(MODEL)}
    path.write_text(yaml.safe_dump(document))
    _as(console, "investigator", "POST", "/api/v1/cases", json={"reference": CASE, "title": "t"})
    body = {"case": CASE, "camera": "gate", **_span(console), "reason": "for the court"}
    job = _as(console, "investigator", "POST", "/api/v1/exports", json=body).json()
    assert Exporter(load_config(path)).run_once()
    package = console.directory / "storage" / "exports" / f"export-{job['id']}"
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["redaction"][0]["what"] == "the camera's privacy masks"
    pictures = _pictures((package / "redacted.mp4").read_bytes())
    # The burned-in caption sits at the top left, inside the mask: judge below it.
    assert all(p[40 : p.shape[0] // 2 - 2, 2 : p.shape[1] // 2 - 2].max() <= 24 for p in pictures)
