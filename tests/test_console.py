"""The browser console end to end: a real `vigil run` with a real RTSP camera, driven through
Debian's Chromium as an investigator, an auditor and a first-time administrator would.

Screenshots of every step go to test-artifacts/console/.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from support.assets import MODEL, needs
from support.browser import (
    CHROMIUM,
    PASSWORD,
    add_accounts,
    console,
    new_page,
    shot,
    sign_in,
)
from support.fixtures import RtspServerFactory, free_port
from support.vigil import Vigil, VigilFactory, wait_for
from vigil.accounts.sessions import Tokens
from vigil.accounts.store import Accounts
from vigil.audit import read_records
from vigil.storage.database import connect
from vigil.timeutil import US, to_iso

CASE, REASON = "CASE-2026/17", "theft reported in the hall overnight"
WHOLE_PICTURE = [[0, 0], [1, 0], [1, 1], [0, 1]]

pytest_plugins = ["support.browser"]  # the `browser` fixture: Debian's Chromium
pytestmark = [
    pytest.mark.slow,
    needs(CHROMIUM, hint="Debian's chromium, which scripts/setup.sh test installs"),
]


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A local map tile server: its URL template, and the tile paths asked of it."""
    tile = cv2.imencode(".png", np.full((256, 256, 3), (200, 230, 210), np.uint8))[1].tobytes()
    asked: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png", asked
    server.shutdown()
    server.server_close()


def video_js(selector: str, condition: str) -> str:
    """A predicate for wait_for_function: `condition` holds of the video `v` at `selector`."""
    find = f"document.querySelector({selector!r})"
    return f"() => {{ const v = {find}; return !!v && ({condition}); }}"


def recorded_seconds(vigil: Vigil, camera: str) -> float:
    return sum(s.end_us - s.start_us for s in vigil.segments(camera)) / US


@needs(MODEL)
def test_investigator_watches_live_plays_back_and_reviews_events(
    rtsp_server: RtspServerFactory,
    camera_clip: Path,
    vigil_factory: VigilFactory,
    browser: Browser,
) -> None:
    server = rtsp_server({"hall": camera_clip, "yard": camera_clip})
    vigil = vigil_factory(
        {
            "hall": {
                "main": server.url("hall"),
                "site": "north",
                "location": [51.501, -0.142],
                "purpose": "the hall of the ministry, against theft",
                "analysis": {"fps": 3},
                "zones": {
                    "floor": {"polygon": WHOLE_PICTURE, "intrusion": {"objects": ["person"]}}
                },
            },
            "yard": {
                "main": server.url("yard"),
                "site": "south",
                "location": [51.498, -0.135],
                # A neighbour's window: the top-left quarter is never shown.
                "privacy_masks": [[[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]],
            },
        },
        detector={"model": str(MODEL)},
        api={"enabled": True, "port": free_port()},
        # Only an account that also holds the supervisor role may lift masks here.
        roles={"supervisor": {"mask_lift": True}},
    )
    add_accounts(
        vigil,
        {
            "inv": ["investigator", "viewer"],
            "aud": ["auditor"],
            "sup": ["supervisor"],
            "lifter": ["investigator", "supervisor"],
        },
    )
    vigil.start()
    url = console(vigil)
    vigil.wait_state("hall", "online", timeout=60)
    vigil.wait_state("yard", "online", timeout=60)
    page, errors = new_page(browser)

    # Signing in through the form lands on the cameras page, showing the camera online.
    sign_in(page, url, "inv", PASSWORD)
    state = page.locator("tr[data-camera=hall] td.state")
    state.get_by_text("online").wait_for(timeout=15_000)
    page.locator("tr[data-camera=yard] td.state").get_by_text("online").wait_for()
    assert page.locator(".map .marker").count() == 2, "both cameras are on the map"
    nav = page.locator("#nav a").all_inner_texts()
    assert nav == ["Cameras", "Live", "Playback", "Events", "Cases", "Exports"], (
        "only what the roles allow"
    )
    shot(page, "01-cameras")

    # Evidence pages refuse to open until a case and a reason are given.
    page.goto(f"{url}#/events")
    page.get_by_text("fill in the case bar").wait_for()
    shot(page, "02-case-required")
    page.fill("#casebar input[name=case]", CASE)
    page.fill("#casebar input[name=reason]", REASON)
    page.click("#casebar button[type=submit]")
    page.locator("#casebar .case-reference").get_by_text(CASE).wait_for()

    # Live: the real camera's picture, moving.
    page.goto(f"{url}#/live?camera=hall")
    live = "figure.live-tile[data-camera=hall] video"
    page.wait_for_function(video_js(live, "v.videoWidth > 0"), timeout=30_000)
    start = page.evaluate(f"document.querySelector({live!r}).currentTime")
    page.wait_for_function(video_js(live, f"v.currentTime > {start} + 1.5"), timeout=20_000)
    assert page.evaluate(f"document.querySelector({live!r}).videoWidth") == 640
    shot(page, "03-live")
    page.click("button.toggle:has-text('2×2')")
    for camera in ("hall", "yard"):
        tile = f".live-grid.grid-2 figure[data-camera={camera}] video"
        page.wait_for_function(video_js(tile, "v.videoWidth > 0"), timeout=30_000)
    shot(page, "04-live-grid")

    # The masked camera's live view shows its mask in solid black, and the rest of the picture.
    page.goto(f"{url}#/live?camera=yard")
    masked = "figure.live-tile[data-camera=yard] video"
    page.wait_for_function(
        video_js(masked, "v.videoWidth > 0 && v.currentTime > 1"), timeout=30_000
    )
    assert_masked(page, masked)
    shot(page, "04b-live-masked")

    # Events: a real intrusion from the detector, its snapshot, and a review.
    def intrusion_listed() -> bool:
        page.goto(f"{url}#/events?type=intrusion")
        page.reload()
        page.locator(".results .summary").wait_for(timeout=15_000)
        return page.locator("article.event img").count() > 0

    wait_for("an intrusion on the events page", intrusion_listed, 120, every=3)
    card = page.locator("article.event").first
    card.locator("img").evaluate("img => img.decode()")
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0
    card.locator("button.thumbnail").click()
    large = page.locator("dialog.snapshot-viewer img.large")
    large.evaluate("img => img.decode()")
    assert large.evaluate("img => img.naturalWidth") == 640
    shot(page, "05-event-snapshot")
    page.click("dialog.snapshot-viewer button[value=close]")
    card.locator("input[name=note]").fill("a visitor, expected")
    card.locator("button:has-text('Acknowledge')").click()
    card.locator(".review.acknowledged").get_by_text("acknowledged by inv").wait_for()
    card.locator("button.play").click()
    page.wait_for_url(re.compile(r"#/playback\?camera=hall&at="))
    page.wait_for_function(video_js("video.playback", "v.currentTime > 0"), timeout=30_000)
    shot(page, "06-event-playback")

    # Playback of a recorded minute, across many 2 s segments, from a deep link.
    wait_for("a minute recorded", lambda: recorded_seconds(vigil, "hall") >= 65, 120, every=2)
    first = vigil.segments("hall")[0].start_us
    page.goto(f"{url}#/playback?camera=hall&at={to_iso(first)}")
    page.locator("svg.timeline rect.span").first.wait_for()
    playing = "video.playback"
    page.wait_for_function(
        video_js(playing, "v.videoWidth > 0 && v.currentTime > 0"), timeout=30_000
    )
    page.evaluate(f"document.querySelector({playing!r}).playbackRate = 16")
    # The wall clock shown under the picture reaches a minute after the first frame recorded.
    minute_later = first // 1000 + 60_000
    page.wait_for_function(
        f"() => Number(document.getElementById('wallclock').dataset.ms) >= {minute_later}",
        timeout=60_000,
    )
    played = page.evaluate(f"document.querySelector({playing!r}).currentTime")
    assert played >= 55, "the picture itself played through the minute"
    span = page.locator("svg.timeline rect.span").first
    assert float(span.get_attribute("width") or 0) > 10, "the timeline shows the recorded span"
    shot(page, "07-playback-minute")
    page.goto(f"{url}#/playback?camera=yard&at={to_iso(first)}")
    page.wait_for_function(
        video_js(playing, "v.videoWidth > 0 && v.currentTime > 1"), timeout=30_000
    )
    assert_masked(page, playing)
    shot(page, "07b-playback-masked")
    playlist = page.locator("a:has-text('Download HLS playlist')").get_attribute("href") or ""
    assert "playlist.m3u8" in playlist and "case=CASE-2026" in playlist

    # A hold on the first 20 s: the investigator opens the case and asks; the supervisor, who
    # did not ask, approves; only then is the footage kept.
    page.goto(f"{url}#/cases")
    opening = page.locator("form.open-case")
    opening.locator("input[name=reference]").fill(CASE)
    opening.locator("input[name=title]").fill("theft in the hall")
    opening.locator("button[type=submit]").click()
    page.locator(f"tr[data-case='{CASE}']").wait_for()
    asking = page.locator("form.request-hold")
    asking.locator("input[name=case]").fill(CASE)
    asking.locator("select[name=camera]").select_option("hall")
    local = (
        "(ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); "
        "return d.toISOString().slice(0, 19); }"
    )
    for name, at in (("since", first), ("until", first + 20 * US)):
        value = page.evaluate(f"({local})({at // 1000})")
        asking.locator(f"input[name={name}]").fill(value)
    asking.locator("input[name=reason]").fill("the theft happened in these seconds")
    asking.locator("button[type=submit]").click()
    row = page.locator("table.holds tr[data-state=requested]")
    row.wait_for()
    assert row.locator("button[data-action=approve]").count() == 0, "no approving one's own"
    assert not any(s.hold for s in vigil.segments("hall"))
    shot(page, "08-hold-requested")
    boss, boss_errors = new_page(browser, width=1400)
    sign_in(boss, url, "sup", PASSWORD)
    boss.goto(f"{url}#/cases")
    boss.locator("table.holds tr[data-state=requested] button[data-action=approve]").click()
    boss.locator("table.holds tr[data-state=active]").wait_for()
    kept = boss.locator("p.held-total").inner_text()
    assert "keep 0 B" not in kept, kept
    shot(boss, "09-hold-approved")
    assert not boss_errors
    boss.close()
    held = [s for s in vigil.segments("hall") if s.hold]
    assert held and held[0].start_us <= first + US and held[-1].end_us >= first + 19 * US
    page.goto(f"{url}#/playback?camera=hall&at={to_iso(first)}")
    page.locator("svg.timeline rect.held").first.wait_for()

    # Lifting the masks for one look. An investigator without mask.lift is refused; one
    # whose role has it asks under the case bar's case, another supervisor approves, the next
    # play is unmasked, and the lift is then spent.
    page.goto(f"{url}#/playback?camera=yard&at={to_iso(first)}")
    page.wait_for_function(
        video_js(playing, "v.videoWidth > 0 && v.currentTime > 1"), timeout=30_000
    )
    page.click("button[data-action=ask-lift]")
    page.get_by_text("needs the mask.lift permission").wait_for()
    lifter, lifter_errors = new_page(browser)
    sign_in(lifter, url, "lifter", PASSWORD)
    lifter.fill("#casebar input[name=case]", CASE)
    lifter.fill("#casebar input[name=reason]", "who broke the neighbour's window")
    lifter.click("#casebar button[type=submit]")
    lifter.goto(f"{url}#/playback?camera=yard&at={to_iso(first)}")
    lifter.wait_for_function(
        video_js(playing, "v.videoWidth > 0 && v.currentTime > 1"), timeout=30_000
    )
    lifter.click("button[data-action=ask-lift]")
    lifter.locator(".lift-state").get_by_text("requested").wait_for()
    approver, approver_errors = new_page(browser, width=1400)
    sign_in(approver, url, "sup", PASSWORD)
    approver.goto(f"{url}#/cases")
    approver.locator("table.lifts tr[data-state=requested] button[data-action=approve]").click()
    approver.locator("table.lifts tr[data-state=active]").wait_for()
    assert not approver_errors
    approver.close()
    lifter.click("button[data-action=check-lift]")
    lifter.locator("button[data-action=play-unmasked]:enabled").click()
    lifter.wait_for_function(
        video_js(playing, "v.videoWidth > 0 && v.currentTime > 1"), timeout=30_000
    )
    assert_masked(lifter, playing, masked=False)
    shot(lifter, "07c-playback-lifted")
    lifter.click("button[data-action=check-lift]")
    lifter.locator(".lift-state").get_by_text("used").wait_for()
    assert not lifter_errors
    lifter.close()

    # The held range is exported, redacted (the default); the package opens in the browser,
    # and the downloaded zip verifies with its own verify.py and Python alone.
    page.goto(f"{url}#/exports")
    exporting = page.locator("form.request-export")
    exporting.locator("input[name=case]").fill(CASE)
    exporting.locator("select[name=camera]").select_option("hall")
    for name, at in (("since", first), ("until", first + 20 * US)):
        value = page.evaluate(f"({local})({at // 1000})")
        exporting.locator(f"input[name={name}]").fill(value)
    exporting.locator("input[name=reason]").fill("the theft, for the prosecutor")
    exporting.locator("button[type=submit]").click()
    page.locator("table.exports tr[data-state=complete]").wait_for(timeout=180_000)
    page.locator("table.exports tr[data-state=complete] button[data-action=open]").click()
    page.wait_for_function(
        video_js("video.package-video", "v.videoWidth > 0 && v.currentTime > 0"), timeout=30_000
    )
    assert '"redacted": true' in page.locator("pre.manifest").inner_text()
    shot(page, "10-export-package")
    with page.expect_download() as downloading:
        page.locator("table.exports tr[data-state=complete] button[data-action=download]").click()
    archive = vigil.directory / "package.zip"
    downloading.value.save_as(archive)
    assert_package_verifies(archive, vigil.directory / "unpacked")
    assert_package_plays(browser, archive)

    # The camera goes offline when its RTSP server stops; the cameras page shows it.
    page.goto(f"{url}#/cameras")
    state.get_by_text("online").wait_for(timeout=15_000)
    server.stop()
    state.get_by_text("offline").wait_for(timeout=30_000)
    page.locator(".map .marker.state-offline[data-camera=hall]").wait_for()
    shot(page, "11-camera-offline")
    assert not errors
    page.close()

    # The auditor sees the playback under its case, and the chain verifies.
    auditor, auditor_errors = new_page(browser, width=1400)
    sign_in(auditor, url, "aud", PASSWORD)
    auditor.locator("table.audit tbody tr").first.wait_for(timeout=15_000)
    auditor.fill("input[name=action]", "playback")
    auditor.click("form.toolbar button[type=submit]")
    auditor.locator("table.audit td", has_text=f"{CASE}: {REASON}").first.wait_for()
    auditor.click("button.verify")
    auditor.get_by_text("The audit trail is intact").wait_for(timeout=15_000)
    shot(auditor, "12-audit")
    with auditor.context.expect_page() as opening:
        auditor.click("form.transparency button[type=submit]")
    report = opening.value
    report.locator("h1").get_by_text("Vigil transparency report").wait_for(timeout=30_000)
    assert report.locator("svg rect").count() > 0, "the accesses chart is drawn"
    assert "The audit trail verifies" in report.content()
    shot(report, "12b-transparency-report")
    report.close()
    auditor.click("#who button:has-text('Sign out')")
    auditor.locator("form#signin").get_by_text("Signed out.").wait_for()
    auditor.reload()
    auditor.locator("form#signin").wait_for()  # the session is gone, not just the page
    assert auditor.locator("table.audit").count() == 0
    assert not auditor_errors
    auditor.close()

    assert_witnessed(vigil, url)

    # Anyone, signed in or not, reads the public register: purposes, and no way to footage.
    public, public_errors = new_page(browser)
    public.goto(f"{url}register")
    public.locator("table#register").get_by_text(
        "the hall of the ministry, against theft"
    ).wait_for()
    assert public.locator("video, img, a").count() == 0
    assert "rtsp://" not in public.content()
    shot(public, "13-register")
    assert not public_errors
    public.close()
    assert_audited(vigil)


def assert_masked(page: Page, selector: str, *, masked: bool = True) -> None:
    """In a screenshot of the playing video, the middle of the masked top-left quarter is the
    mask's solid black (or, lifted, picture) and the middle of the bottom-right quarter is
    picture."""
    page.evaluate(f"document.querySelector({selector!r}).pause()")
    box = page.evaluate(
        f"(() => {{ const v = document.querySelector({selector!r});"
        " const r = v.getBoundingClientRect();"
        " const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);"
        " const w = v.videoWidth * s, h = v.videoHeight * s;"
        " return [r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h]; })()"
    )
    picture = cv2.imdecode(np.frombuffer(page.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = (round(v) for v in box)
    inside = picture[y + h // 8 : y + 3 * h // 8, x + w // 8 : x + 3 * w // 8]
    outside = picture[y + 5 * h // 8 : y + 7 * h // 8, x + 5 * w // 8 : x + 7 * w // 8]
    if masked:
        assert inside.max() <= 30, f"the mask is solid black (brightest {inside.max()})"
    else:
        assert inside.mean() > 40, "the lifted mask shows the picture"
    assert outside.mean() > 40, "the rest of the picture is shown"


def assert_package_verifies(archive: Path, into: Path) -> None:
    """The zip's own verify.py accepts it with nothing but Python; its redacted video decodes
    at the camera's resolution."""
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(into)
    (package,) = into.iterdir()
    command = [sys.executable, "-I", "-S", str(package / "verify.py"), str(archive)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "VERIFIED export" in checked.stdout and "redacted: redacted.mp4" in checked.stdout
    with av.open(str(package / "redacted.mp4")) as container:
        frames = [f for _, f in zip(range(30), container.decode(video=0), strict=False)]
    assert len(frames) == 30 and frames[0].width == 640


def assert_package_plays(browser: Browser, archive: Path) -> None:
    """`vigil export play` serves the verified package on loopback: its video plays in the
    browser beside the manifest."""
    port = free_port()
    command = [sys.executable, "-m", "vigil", "export", "play", str(archive), "--port", str(port)]
    player = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert player.stdout is not None
        for line in player.stdout:
            if line.startswith("playing at"):
                break
        page, errors = new_page(browser)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(
            video_js("#video", "v.videoWidth > 0 && v.currentTime > 0.5"), timeout=30_000
        )
        assert "VERIFIED export" in page.locator("#summary").inner_text()
        assert '"redacted": true' in page.locator("#manifest").inner_text()
        shot(page, "10b-export-play")
        assert not errors
        page.close()
    finally:
        player.terminate()
        player.wait(timeout=10)


def assert_witnessed(vigil: Vigil, url: str) -> None:
    """An outside witness, with a token of a witness account, collects the site's signed
    checkpoints over HTTP and finds each consistent with what it saw before."""
    engine = connect(vigil.config.database_url())
    user = Accounts(engine).add("overseer", PASSWORD, ["witness"])
    (vigil.directory / "witness.token").write_text(Tokens(engine).issue(user.id, "witness"))
    engine.dispose()
    config = str(vigil.config_path)
    key = subprocess.run(
        [sys.executable, "-m", "vigil", "audit", "public-key", "-c", config],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (vigil.directory / "site.pem").write_text(key)
    command = [
        sys.executable,
        "-m",
        "vigil",
        "audit",
        "witness",
        "--url",
        url,
        "--token-file",
        str(vigil.directory / "witness.token"),
        "--key",
        str(vigil.directory / "site.pem"),
        "--store",
        str(vigil.directory / "witnessed.jsonl"),
        "--once",
    ]
    for _ in range(2):  # the second look finds nothing new, and still nothing wrong
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (vigil.directory / "witnessed.jsonl").read_text().count("\n") >= 1


def assert_audited(vigil: Vigil) -> None:
    engine = connect(vigil.config.database_url())
    records = read_records(engine, actor="inv", limit=5000)
    engine.dispose()
    seen: dict[str, Any] = {r.action: r for r in records if r.outcome == "ok"}
    for action in (
        "login",
        "live.start",
        "events.search",
        "snapshot.view",
        "event.review",
        "recordings.list",
        "playback",
        "case.open",
        "hold.request",
        "export.request",
        "export.open",
        "export.download",
    ):
        assert action in seen, f"{action} was not audited"
    assert seen["playback"].reason == f"{CASE}: {REASON}"
    everyone = read_records(connect(vigil.config.database_url()), limit=10_000)
    lifts = {(r.actor, r.action, r.outcome) for r in everyone if r.action.startswith("mask.lift")}
    assert lifts >= {
        ("inv", "mask.lift.request", "denied"),
        ("lifter", "mask.lift.request", "ok"),
        ("sup", "mask.lift.approve", "ok"),
        ("lifter", "mask.lift.use", "ok"),
    }


def test_first_admin_signs_in_with_the_one_time_password_and_must_change_it(
    vigil_factory: VigilFactory, browser: Browser, tile_server: tuple[str, list[str]]
) -> None:
    tile_url, tiles_asked = tile_server
    vigil = vigil_factory(
        {
            "gate": {
                "main": "rtsp://127.0.0.1:9/gate",
                "site": "north",
                "location": [51.501, -0.142],
            }
        },
        api={"enabled": True, "port": free_port(), "tile_url": tile_url},
    )
    vigil.start()
    url = console(vigil)
    announced = re.compile(r"one-time password\s+(\S+)\s+Sign in", re.S)
    password = wait_for(
        "the one-time password on stderr",
        lambda: (m := announced.search(vigil.log_path.read_text())) and m.group(1),
        30,
    )
    page, errors = new_page(browser)
    sign_in(page, url, "admin", password)
    page.locator("form#password-change").wait_for()
    assert page.locator("#nav a").count() == 0, "nothing else until the password is changed"
    shot(page, "10-first-admin-change-password")
    form = page.locator("form#password-change")
    form.locator("input[name=current]").fill(password)
    form.locator("input[name=new]").fill("a brand new passphrase for the site")
    form.locator("input[name=again]").fill("a brand new passphrase for the site")
    form.locator("button[type=submit]").click()
    page.locator("tr[data-camera=gate]").wait_for()
    assert page.locator("#nav a").all_inner_texts() == ["Cameras", "Storage", "Users"]
    # With a tile server configured the map draws its tiles behind the camera (the page's
    # Content-Security-Policy lets images come from that one host).
    page.locator(".map .marker[data-camera=gate]").wait_for()
    tiles = page.locator(".map .tiles img")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.map .tiles img')]"
        ".every(img => img.complete && img.naturalWidth === 256)"
    )
    assert tiles.count() >= 4, "the view is covered by tiles"
    placed = "new Set([...document.querySelectorAll('.map .tiles img')].map(i => i.offsetLeft))"
    assert page.evaluate(f"{placed}.size") > 1, "tiles are laid side by side"
    zooms = {int(path.split("/")[2]) for path in tiles_asked}
    assert zooms and all(15 <= z <= 19 for z in zooms), "a street-level zoom for one camera"
    shot(page, "11-first-admin-cameras")

    # An admin adds an account and sees its one-time password once; storage is reported.
    page.goto(f"{url}#/users")
    page.fill("form.add-user input[name=name]", "jo")
    page.check("form.add-user input[value=viewer]")
    page.click("form.add-user button[type=submit]")
    issued = page.locator(".one-time code.password").inner_text()
    assert len(issued) >= 12
    page.locator("tr[data-user=jo]").get_by_text("must change password").wait_for()
    shot(page, "12-users")
    page.goto(f"{url}#/storage")
    page.locator("tr[data-camera=gate]").wait_for()
    shot(page, "13-storage")
    assert not errors
    page.close()

    # The password is shown once: a restart does not print another.
    assert vigil.stop() == 0
    vigil.start()
    console(vigil)
    assert len(announced.findall(vigil.log_path.read_text())) == 1
