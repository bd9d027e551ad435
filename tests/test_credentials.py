"""Camera and service credentials reach no one: not a viewer, not the log, not `vigil status`,
not the configuration an admin reads. The review saw a camera answering 401 put its password
in every viewer's camera list, through FFmpeg's error message that repeats the whole URL."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from support.fixtures import free_port
from support.vigil import Vigil, wait_for
from vigil.accounts.store import Accounts
from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.audit import open_audit_log
from vigil.config import VigilConfig, parse_config
from vigil.errors import SourceError
from vigil.media.source import Source
from vigil.redact import redact_document, redact_text, redact_url
from vigil.storage.database import connect, migrate

SECRET = "S3cretPW"
PASSWORD = "correct horse battery staple"


class RefusingCamera:
    """An RTSP server on loopback that answers every request 401, as a camera does to a
    wrong password: FFmpeg's real error then names the URL it was given."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    @staticmethod
    def _answer(connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while data := connection.recv(4096):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    match = re.search(rb"CSeq:\s*(\d+)", head)
                    cseq = match.group(1) if match else b"1"
                    connection.sendall(
                        b"RTSP/1.0 401 Unauthorized\r\nCSeq: " + cseq
                        + b'\r\nWWW-Authenticate: Basic realm="camera"\r\n\r\n'
                    )  # fmt: skip

    def urls(self) -> list[str]:
        """The three places cameras carry credentials: userinfo, query and (cheap recorders)
        the path."""
        base = f"rtsp://127.0.0.1:{self.port}"
        return [
            f"rtsp://admin:{SECRET}@127.0.0.1:{self.port}/stream1",
            f"{base}/stream1?user=admin&password={SECRET}",
            f"{base}/user=admin&password={SECRET}&channel=1&stream=0.sdp",
        ]


@pytest.fixture(scope="module")
def refusing_camera() -> Iterator[RefusingCamera]:
    camera = RefusingCamera()
    yield camera
    camera.socket.close()


def test_real_ffmpeg_errors_leave_the_media_layer_redacted(
    refusing_camera: RefusingCamera,
) -> None:
    for url in refusing_camera.urls():
        with pytest.raises(SourceError) as caught:
            Source("door", url, "tcp", 5.0).open()
        raw = str(caught.value.__cause__)
        assert SECRET in raw, f"FFmpeg no longer echoes the URL, so this test proves nothing: {raw}"
        message = str(caught.value)
        assert SECRET not in message and "admin" not in message, message
        assert "refused the credentials" in message and "'door'" in message


def test_every_form_of_a_credential_is_hidden() -> None:
    assert redact_url(f"rtsp://admin:{SECRET}@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"
    assert redact_url(f"rtsp://a:b@c@{SECRET}@h/s") == "rtsp://***@h/s"
    assert redact_url("rtsp://10.0.0.5/s?channel=1") == "rtsp://10.0.0.5/s?channel=1"
    assert (
        redact_url(f"rtsp://h/s?User=admin&PWD={SECRET}&channel=1&api-key=k&keyframes=1")
        == "rtsp://h/s?User=***&PWD=***&channel=1&api-key=***&keyframes=1"
    )
    assert redact_url(f"rtsp://h/user=admin_password={SECRET}") == "rtsp://h/user=***"
    assert SECRET not in redact_url(f"rtsp://[::1:{SECRET}@h/x")  # not even a valid URL
    text = f"open 'rtsp://u:{SECRET}@h/a' then \"http://x/?token={SECRET}\" (postgresql://v:{SECRET}@db/x)"
    assert SECRET not in redact_text(text)
    assert redact_text("no URL here: user=admin") == "no URL here: user=admin"


def _secret_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    from vigil.redact import is_secret_name

    found = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if is_secret_name(name):
            found.add(path)
        nested = [field.annotation, *typing.get_args(field.annotation)]
        nested += [inner for outer in nested for inner in typing.get_args(outer)]
        for kind in nested:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found |= _secret_fields(kind, f"{path}.")
    return found


def test_the_configuration_an_admin_reads_holds_no_secret(tmp_path: Path) -> None:
    # A field added under a secret name must be considered here, and so must this list.
    assert _secret_fields(VigilConfig) == {
        "mqtt.username",
        "mqtt.password",
        "audit.signing_key",
        "federation.credentials",
    }
    config = parse_config(
        f"""
        storage: {{path: {tmp_path / "storage"}}}
        database: {{url: "postgresql+psycopg://vigil:{SECRET}@db.example/vigil"}}
        mqtt: {{host: broker, username: admin{SECRET}, password: {SECRET}}}
        audit: {{signing_key: {tmp_path / f"{SECRET}.pem"}}}
        api: {{tile_url: "https://tiles.example/{{z}}/{{x}}/{{y}}.png?api_key={SECRET}"}}
        federation: {{role: site, site: north, hub: "tls://hub.example:7422",
                      credentials: {tmp_path / f"{SECRET}.json"}}}
        cameras:
          gate:
            main: rtsp://admin:{SECRET}@10.0.0.5/main
            purpose: testing
            sub: rtsp://10.0.0.5/sub?user=admin&password={SECRET}
        """
    )
    document = config.model_dump(mode="json")
    assert SECRET in json.dumps(document)  # the secrets are really in the configuration
    engine = connect(f"sqlite:///{tmp_path / 'index.db'}")
    migrate(engine)
    context = ApiContext(config, engine, open_audit_log(config, engine))
    admin = Accounts(engine).add("admin1", PASSWORD, ["admin"])
    token = context.tokens.issue(admin.id, "tests")
    with TestClient(create_app(context), base_url="http://127.0.0.1") as client:
        answer = client.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert SECRET not in answer.text, answer.text
    shown = answer.json()
    assert shown == redact_document(document)
    assert shown["cameras"]["gate"]["main"] == "rtsp://***@10.0.0.5/main"
    assert shown["database"]["url"] == "postgresql+psycopg://***@db.example/vigil"
    assert shown["mqtt"]["host"] == "broker" and shown["mqtt"]["password"] == "***"
    engine.dispose()


@pytest.fixture(scope="module")
def refused_vigil(
    tmp_path_factory: pytest.TempPathFactory, refusing_camera: RefusingCamera
) -> Iterator[tuple[Vigil, str]]:
    cameras = {f"door{n}": {"main": url, "purpose": "testing"}
               for n, url in enumerate(refusing_camera.urls())}  # fmt: skip
    vigil = Vigil(
        tmp_path_factory.mktemp("refused"), cameras, api={"enabled": True, "port": free_port()}
    )
    engine = connect(vigil.config.database_url())
    migrate(engine)
    Accounts(engine).add("viewer1", PASSWORD, ["viewer"])
    engine.dispose()
    vigil.start()
    try:
        for name in cameras:
            vigil.wait_state(name, "error", timeout=60)
        yield vigil, f"http://127.0.0.1:{vigil.config.api.port}"
    finally:
        vigil.close()


def _viewer_cameras(url: str) -> dict[str, Any]:
    def answer() -> httpx.Response | None:
        try:
            login = httpx.post(
                f"{url}/api/v1/auth/login",
                json={"name": "viewer1", "password": PASSWORD},
                timeout=30,
            )
        except httpx.HTTPError:
            return None
        return login if login.status_code == 200 else None

    login = wait_for("the console", answer, 60)
    response = httpx.get(f"{url}/api/v1/cameras", cookies=login.cookies, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_camera_refusing_its_credentials_shows_them_to_no_one(
    refused_vigil: tuple[Vigil, str],
) -> None:
    vigil, url = refused_vigil
    cameras = _viewer_cameras(url)
    assert SECRET not in json.dumps(cameras)
    errors = [c["error"] for c in cameras["cameras"]]
    assert len(errors) == 3 and all("refused the credentials" in e for e in errors), errors
    log = vigil.log_path.read_text()
    assert "refused the credentials" in log and SECRET not in log
    for extra in ([], ["--json"]):
        status = subprocess.run(
            [sys.executable, "-m", "vigil", "status", "-c", str(vigil.config_path), *extra],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert "refused the credentials" in status.stdout and SECRET not in status.stdout
