"""Configuration: valid files load; each kind of mistake names its key path and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.redact import redact_url

GOOD = """\
storage:
  path: /var/lib/vigil
  min_free: 10%
cameras:
  gate-north:
    main: rtsp://user:pass@10.0.0.5:554/stream1
    sub: rtsp://user:pass@10.0.0.5:554/stream2
    site: market-north
    location: [34.5281, 69.1723]
    retention_days: 30
    enabled: true
    purpose: the market's north gate, against intrusion
"""


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "vigil", "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_issue_example_is_valid(tmp_path: Path) -> None:
    config = parse_config(GOOD)
    camera = config.cameras["gate-north"]
    assert camera.site == "market-north"
    assert camera.location == (34.5281, 69.1723)
    assert config.storage.min_free.floor_bytes(1000) == 100
    result = check(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    assert "ok (1 camera(s))" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("    enabled: true", "    enabeld: true"), "cameras.gate-north.enabeld (line 11): unknown key"),
        (GOOD.replace("rtsp://user:pass@10.0.0.5:554/stream1", "http://10.0.0.5/x"), "cameras.gate-north.main (line 6)"),
        (GOOD.replace("retention_days: 30", "retention_days: -3"), "cameras.gate-north.retention_days (line 10): Input should be greater than 0"),
        (GOOD + "  gate-north:\n    main: rtsp://10.0.0.6/s\n", "cameras.gate-north (line 13): duplicate key, first defined on line 5"),
        (GOOD.replace("min_free: 10%", "min_free: lots"), "storage.min_free (line 3): 'lots' is not a size"),
        (GOOD.replace("gate-north:", "Gate North:"), "cameras.Gate North (line 5): camera name"),
        (GOOD.replace("554/stream1", "5x4/stream1"), "cameras.gate-north.main (line 6)"),
        (GOOD.replace("    purpose: the market's north gate, against intrusion\n", ""), "cameras.gate-north (line 5): purpose is missing: say why this camera records"),
    ],
    ids=["unknown-key", "bad-scheme", "negative-retention", "duplicate-camera", "bad-size", "bad-name", "bad-port", "no-purpose"],
)  # fmt: skip
def test_bad_config_names_key_path_and_line(tmp_path: Path, text: str, expected: str) -> None:
    result = check(tmp_path, text)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "user:pass" not in result.stderr  # credentials never printed


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    result = check(tmp_path, "cameras: [unclosed")
    assert result.returncode != 0 and "not valid YAML" in result.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "vigil", "config", "check", str(tmp_path / "nope.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0 and "cannot read the configuration" in missing.stderr


def test_sizes_and_defaults() -> None:
    config = parse_config(
        "storage: {min_free: 20GB}\ncameras: {a: {purpose: testing, main: 'file:///x.mp4'}}"
    )
    assert config.storage.min_free.floor_bytes(10**15) == 20 * 10**9
    assert config.record_for("a").segment_seconds == 10.0
    assert config.transport("a") == "tcp"
    assert parse_config("storage: {min_free: 1GiB}").storage.min_free.bytes == 2**30
    with pytest.raises(ConfigError):
        parse_config("storage: {min_free: 150%}")


def test_a_camera_record_block_mirrors_the_global_one() -> None:
    config = parse_config(
        "record: {segment_seconds: 4, pre_seconds: 8}\n"
        "cameras:\n"
        "  a: {purpose: testing, main: 'file:///a.mp4', record: {mode: events, segment_seconds: 6}}\n"
        "  b: {purpose: testing, main: 'file:///b.mp4'}\n"
    )
    a, b = config.record_for("a"), config.record_for("b")
    assert (a.segment_seconds, a.mode, a.pre_seconds, a.post_seconds) == (6, "events", 8, 5)
    assert (b.segment_seconds, b.mode, b.pre_seconds) == (4, "continuous", 8)
    assert config.record_for("gone") == config.record  # footage of a removed camera
    assert config.record.mode == "continuous"  # the global block takes every field too
    with pytest.raises(ConfigError) as caught:
        parse_config("cameras: {a: {purpose: testing, main: 'file:///a.mp4', segment_seconds: 5}}")
    assert "cameras.a" in str(caught.value)
    assert "record: {segment_seconds: N}" in str(caught.value)


def test_credentials_are_redacted() -> None:
    assert redact_url("rtsp://admin:s3cret@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"
    assert redact_url("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"
    with pytest.raises(ConfigError) as caught:
        parse_config("cameras: {a: {purpose: testing, main: 'ftp://admin:s3cret@h/x'}}")
    assert "s3cret" not in str(caught.value)
