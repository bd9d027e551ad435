"""The API as it is served: the real `vigil run` process tree with uvicorn in front, reached
over TCP. What the review found there: forwarded addresses believed from anyone, a server
banner, redirects to the Host header, and records left unsigned by every stop."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.requests import Request

from support.fixtures import free_port
from support.vigil import Vigil, VigilFactory, wait_for
from vigil.accounts.store import Accounts
from vigil.api.origin import origin_of
from vigil.audit import read_records
from vigil.storage.database import connect, migrate
from vigil.storage.schema import audit_checkpoints, audit_records

PASSWORD = "correct horse battery staple"


def _served(vigil: Vigil, accounts: dict[str, list[str]]) -> tuple[str, Engine]:
    engine = connect(vigil.config.database_url())
    migrate(engine)
    for name, roles in accounts.items():
        Accounts(engine).add(name, PASSWORD, roles)
    vigil.start()
    url = f"http://127.0.0.1:{vigil.config.api.port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for("the API to answer", healthy, 60)
    return url, engine


def _api(factory: VigilFactory) -> Vigil:
    return factory({}, api={"enabled": True, "port": free_port()})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    vigil = Vigil(tmp_path_factory.mktemp("served"), {}, api={"enabled": True, "port": free_port()})
    try:
        yield _served(vigil, {"viewer1": ["viewer"]})
    finally:
        vigil.close()


def _login(url: str, name: str, password: str, forwarded: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/auth/login",
        json={"name": name, "password": password},
        headers={"X-Forwarded-For": forwarded},
        timeout=30,
    )


def test_forwarded_for_is_not_believed_from_an_untrusted_peer(served: tuple[str, Engine]) -> None:
    url, engine = served
    forged = "not-an-ip;<script>" + "9" * 70
    response = _login(url, "viewer1", PASSWORD, forged)
    assert response.status_code == 200, response.text
    record = [r for r in read_records(engine) if r.action == "login"][-1]
    assert record.outcome == "ok"
    assert record.source == "127.0.0.1"
    assert "forwarded_for" not in record.detail


def test_no_server_banner_and_relative_redirects(served: tuple[str, Engine]) -> None:
    url, _ = served
    response = httpx.get(f"{url}/api/v1/cameras/", headers={"Host": "evil.example"}, timeout=10)
    assert "server" not in response.headers
    assert response.status_code in (307, 308)
    assert response.headers["location"] == "/api/v1/cameras"


def _answer_before_the_body(url: str, path: str, headers: str, first: bytes) -> bytes:
    """Send a request's head and the first bytes of its body, then wait for the answer
    without sending the rest: a server that reads bodies before refusing them never answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as connection:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n"
        connection.sendall(head.encode() + first)
        try:
            return connection.recv(4096)
        except TimeoutError:
            return b""


def test_huge_bodies_are_refused_unread(served: tuple[str, Engine]) -> None:
    url, _ = served
    declared = _answer_before_the_body(
        url, "/api/v1/users",
        "Content-Type: application/json\r\nContent-Length: 209715200\r\n", b'{"name": "',
    )  # fmt: skip
    assert declared.startswith(b"HTTP/1.1 413"), declared
    chunked = _answer_before_the_body(
        url, "/api/v1/users",
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b"10000\r\n{",
    )  # fmt: skip
    assert chunked.startswith(b"HTTP/1.1 401"), chunked
    small = httpx.post(f"{url}/api/v1/auth/login", json={}, timeout=10)
    assert small.status_code == 422, "a small body still reaches the route"


def test_forwarded_addresses_do_not_dodge_the_address_throttle(
    vigil_factory: VigilFactory,
) -> None:
    url, _ = _served(_api(vigil_factory), {})
    codes = [
        _login(url, f"user{n}", "wrong password", f"198.51.100.{n}").status_code for n in range(25)
    ]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}


def _request(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_trusted_proxies_name_the_client_and_nothing_else_does() -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert origin_of(_request("10.1.2.3", ["203.0.113.9"]), proxies).forwarded == "203.0.113.9"
    # The right-most address that is not a proxy is the client; spoofed hops to its left
    # are ignored.
    chain = _request("10.1.2.3", ["192.0.2.66, 203.0.113.9", "10.9.9.9"])
    found = origin_of(chain, proxies)
    assert (found.peer, found.forwarded, found.client) == ("10.1.2.3", "203.0.113.9", "203.0.113.9")
    assert origin_of(_request("10.1.2.3", ["<script>"]), proxies).forwarded is None
    assert origin_of(_request("::1", ["2001:db8::7"]), proxies).forwarded == "2001:db8::7"
    untrusted = origin_of(_request("192.0.2.1", ["203.0.113.9"]), proxies)
    assert (untrusted.forwarded, untrusted.client) == (None, "192.0.2.1")
    assert origin_of(_request("10.1.2.3", ["203.0.113.9"]), []).forwarded is None


def test_sigterm_to_the_whole_tree_signs_the_last_records(vigil_factory: VigilFactory) -> None:
    vigil = _api(vigil_factory)
    url, engine = _served(vigil, {"viewer1": ["viewer"]})
    for _ in range(3):
        assert _login(url, "viewer1", PASSWORD, "-").status_code == 200
    assert vigil.process is not None
    os.killpg(vigil.process.pid, signal.SIGTERM)
    assert vigil.process.wait(60) == 0
    vigil.process = None
    with engine.connect() as connection:
        records = connection.execute(select(func.count()).select_from(audit_records)).scalar()
        signed = connection.execute(select(func.max(audit_checkpoints.c.size))).scalar()
    assert records and records >= 3
    assert signed == records, "every record is covered by a signed checkpoint"
