"""`vigil models`: listing, checking and pulling models, against a real local HTTP server."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.assets import MODEL, needs
from vigil.analytics.detection import models
from vigil.analytics.detection.cli import models_app
from vigil.analytics.detection.models import (
    KNOWN_MODELS,
    ModelError,
    check,
    list_models,
    models_dirs,
    pull,
)

NANO = KNOWN_MODELS["yolox-nano"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    """The base URL of an HTTP server on 127.0.0.1 serving a copy of the model."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(MODEL, served / MODEL.name)
    handler = functools.partial(QuietHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs(MODEL)
def test_pull_a_known_model_with_the_right_checksum(tmp_path: Path, model_server: str) -> None:
    models = tmp_path / "models"
    assert not list_models(models)[0].present
    path = pull("yolox-nano", models, url=f"{model_server}/yolox_nano.onnx")
    assert path == models / NANO.file
    assert path.read_bytes() == MODEL.read_bytes()
    info, installed = list_models(models)
    assert (info.name, info.present, info.sha_ok) == ("yolox-nano", True, True)
    assert (installed.name, installed.present, installed.sha_ok) == ("ssd-mobilenet-v2", True, True)
    assert check(models) == []
    assert sorted(p.name for p in models.iterdir()) == [NANO.file]  # no temporary file left


@needs(MODEL)
def test_pull_with_a_wrong_checksum_is_refused_and_leaves_nothing(
    tmp_path: Path, model_server: str
) -> None:
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=r"SHA-256 of the download is .*refused and deleted"):
        pull(f"{model_server}/yolox_nano.onnx", models, sha256="0" * 64)
    assert list(models.iterdir()) == []


@needs(MODEL)
def test_pull_refuses_unverifiable_or_failed_downloads(tmp_path: Path, model_server: str) -> None:
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="pass --sha256"):
        pull(f"{model_server}/yolox_nano.onnx", models)
    with pytest.raises(ModelError, match="download failed"):
        pull(f"{model_server}/absent.onnx", models, sha256=NANO.sha256)
    with pytest.raises(ModelError, match="only http"):
        pull("yolox-nano", models, url=MODEL.as_uri())
    with pytest.raises(ModelError, match="known with SHA-256"):
        pull("yolox-nano", models, url=f"{model_server}/yolox_nano.onnx", sha256="1" * 64)
    assert not models.exists() or list(models.iterdir()) == []


@needs(MODEL)
def test_check_reports_a_corrupted_model(tmp_path: Path) -> None:
    data = bytearray(MODEL.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / NANO.file).write_bytes(bytes(data))
    (problem,) = check(tmp_path)
    assert str(tmp_path / NANO.file) in problem
    assert "corrupt" in problem and "vigil models pull yolox-nano" in problem
    assert list_models(tmp_path)[0].sha_ok is False


def test_check_reports_an_empty_directory_and_lists_other_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check(tmp_path) == []  # the model installed with Vigil is there, and intact
    (tmp_path / "custom.onnx").write_bytes(b"x")
    names = {(i.name, i.present, i.sha_ok) for i in list_models(tmp_path)}
    assert names == {
        ("yolox-nano", False, None), ("ssd-mobilenet-v2", True, True), ("custom.onnx", True, None)
    }  # fmt: skip
    (tmp_path / "custom.onnx").unlink()
    monkeypatch.setattr(models, "packaged_dir", lambda _package: None)
    (problem,) = check(tmp_path)
    assert "HOG" in problem and "vigil models pull yolox-nano" in problem


def test_models_directory_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_MODELS_DIR", raising=False)
    assert models_dirs(tmp_path) == [tmp_path / "models"]
    monkeypatch.setenv("VIGIL_MODELS_DIR", "/opt/models")
    assert models_dirs(tmp_path) == [Path("/opt/models"), tmp_path / "models"]
    assert models_dirs(tmp_path, override=Path("/x")) == [Path("/x")]


@needs(MODEL)
def test_command_line(tmp_path: Path, model_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_MODELS_DIR", raising=False)
    runner = CliRunner()
    models = str(tmp_path / "models")
    # Without YOLOX the model installed with Vigil is in use, and the listing says why.
    done = runner.invoke(models_app, ["check", "--dir", models])
    assert done.exit_code == 0, done.output
    done = runner.invoke(models_app, ["list", "--dir", models])
    assert done.output.startswith("in use: ssd-mobilenet-v2 (no yolox-nano at"), done.output
    assert "weaker than YOLOX-Nano" in done.output.splitlines()[0]
    url = f"{model_server}/yolox_nano.onnx"
    done = runner.invoke(models_app, ["pull", "yolox-nano", "--url", url, "--dir", models])
    assert done.exit_code == 0, done.output
    done = runner.invoke(models_app, ["check", "--dir", models])
    assert done.exit_code == 0, done.output
    done = runner.invoke(models_app, ["list", "--dir", models])
    assert done.exit_code == 0 and "yolox-nano" in done.output and " ok " in done.output
    assert done.output.startswith("in use: yolox-nano (the preferred model, at"), done.output
    done = runner.invoke(models_app, ["pull", "ssd-mobilenet-v2", "--dir", models])
    assert done.exit_code == 1 and "reinstall" in done.output
    config = tmp_path / "vigil.yaml"
    config.write_text(f"storage: {{path: {tmp_path}}}\n")
    done = runner.invoke(models_app, ["list", "-c", str(config), "--json"])
    assert done.exit_code == 0 and '"present": true' in done.output
    assert json.loads(done.output)["in_use"]["name"] == "yolox-nano"  # <storage>/models
    # The configuration's detector.models_dir is honoured, as `vigil run` honours it.
    empty = tmp_path / "empty"
    config.write_text(f"storage: {{path: {tmp_path}}}\ndetector: {{models_dir: {empty}}}\n")
    done = runner.invoke(models_app, ["list", "-c", str(config), "--json"])
    assert json.loads(done.output)["in_use"]["name"] == "ssd-mobilenet-v2", done.output
    done = runner.invoke(models_app, ["pull", url, "--sha256", "0" * 64, "--dir", models])
    assert done.exit_code == 1 and "refused" in done.output
