"""Local accounts: password hashing and policy, the account store, sessions, API tokens, the
login throttle and the `vigil user` commands."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from vigil.accounts.cli import user_app
from vigil.accounts.passwords import (
    DUMMY_HASH,
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    needs_rehash,
    one_time_password_for,
    verify_password,
)
from vigil.accounts.roles import Role, parse_roles
from vigil.accounts.sessions import TOKEN_PREFIX, Sessions, Tokens, secret_hash
from vigil.accounts.store import AccountError, AccountExists, Accounts, LoginFailed, User
from vigil.accounts.throttle import LoginThrottle
from vigil.config import load_config
from vigil.storage.database import connect
from vigil.storage.schema import api_tokens, audit_records, sessions, users
from vigil.timeutil import US, now_us

PASSWORD = "correct horse battery"
OTHER_PASSWORD = "purple elephant kettle"


def test_hashes_are_argon2id_salted_and_verify() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and PASSWORD not in first
    assert first != second  # salted
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, OTHER_PASSWORD)
    assert not verify_password("not a hash", PASSWORD)
    assert not needs_rehash(first)
    # The unknown-user decoy must cost what a real verification costs.
    assert not needs_rehash(DUMMY_HASH)
    assert needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")


def test_password_policy() -> None:
    check_password_policy("alice", PASSWORD)
    for bad in ("short1", "Alice-the-great!", "x" * 1025, " " * 14):
        with pytest.raises(PasswordPolicyError):
            check_password_policy("alice", bad)
    with pytest.raises(PasswordPolicyError, match="at least 12"):
        check_password_policy("alice", "eleven char")
    generated = {one_time_password_for("admin") for _ in range(20)}
    assert len(generated) == 20 and all(len(p) == 20 for p in generated)
    for password in generated:
        check_password_policy("admin", password)


def test_roles_parse_from_repeats_and_comma_lists() -> None:
    assert parse_roles(["viewer,auditor", "Admin"]) == {Role.VIEWER, Role.AUDITOR, Role.ADMIN}
    with pytest.raises(ValueError, match="investigator"):
        parse_roles(["operator"])


def test_scope() -> None:
    def user(cameras: set[str] | None, sites: set[str] | None) -> User:
        return User(1, "u", frozenset({Role.VIEWER}), cameras and frozenset(cameras),
                    sites and frozenset(sites), False, False)  # fmt: skip

    assert user(None, None).can_see("gate", None)
    assert user({"gate"}, None).can_see("gate", "north")
    assert not user({"gate"}, None).can_see("yard", "north")
    assert user(None, {"north"}).can_see("yard", "north")
    assert not user(None, {"north"}).can_see("yard", "south")
    assert not user(None, {"north"}).can_see("yard", None)


def test_authenticate(engine: Engine) -> None:
    accounts = Accounts(engine)
    added = accounts.add("alice", PASSWORD, [Role.VIEWER, "investigator"], cameras=["gate"])
    assert added.roles == {Role.VIEWER, Role.INVESTIGATOR} and added.cameras == {"gate"}
    assert added.sites is None and not added.must_change_password and not added.disabled
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    assert accounts.authenticate("alice", PASSWORD) == added
    assert accounts.authenticate(" Alice ", PASSWORD) == added
    failures = {}
    for name, password in (("alice", OTHER_PASSWORD), ("bob", PASSWORD), ("x" * 200, PASSWORD)):
        with pytest.raises(LoginFailed) as caught:
            accounts.authenticate(name, password)
        failures[name[:5]] = caught.value
    assert failures["alice"].reason == "password" and failures["bob"].reason == "unknown"
    assert len({str(f) for f in failures.values()}) == 1  # nothing tells them apart

    accounts.add("root", PASSWORD + "!", [Role.ADMIN])
    accounts.disable("alice")
    with pytest.raises(LoginFailed) as caught:
        accounts.authenticate("alice", PASSWORD)
    assert caught.value.reason == "disabled" and str(caught.value) == str(failures["bob"])
    accounts.enable("alice")
    assert accounts.authenticate("alice", PASSWORD).name == "alice"


def test_old_parameters_are_rehashed_at_login(engine: Engine) -> None:
    from argon2 import PasswordHasher

    accounts = Accounts(engine)
    accounts.add("alice", PASSWORD, [Role.VIEWER])
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with engine.begin() as connection:
        connection.execute(update(users).values(password_hash=weak))
    accounts.authenticate("alice", PASSWORD)
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash)).scalar_one()
    assert stored != weak and not needs_rehash(stored) and verify_password(stored, PASSWORD)


def test_accounts_are_validated(engine: Engine) -> None:
    accounts = Accounts(engine)
    accounts.add("alice", PASSWORD, [Role.VIEWER])
    with pytest.raises(AccountExists):
        accounts.add("alice", OTHER_PASSWORD, [Role.VIEWER])
    for name in ("", "Alice", "a b", "a" * 65, "ali/ce"):
        with pytest.raises(AccountError, match="a-z"):
            accounts.add(name, PASSWORD, [Role.VIEWER])
    with pytest.raises(AccountError, match="at least one role"):
        accounts.add("bob", PASSWORD, [])
    with pytest.raises(AccountError, match="use viewer"):
        accounts.add("bob", PASSWORD, ["operator"])
    with pytest.raises(AccountError, match="not both"):
        accounts.add("bob", PASSWORD, [Role.VIEWER], cameras=["gate"], sites=["north"])
    with pytest.raises(AccountError, match="empty"):
        accounts.add("bob", PASSWORD, [Role.VIEWER], cameras=[])
    with pytest.raises(PasswordPolicyError):
        accounts.add("bob", "bob-password-1", [Role.VIEWER])
    assert [u.name for u in accounts.list()] == ["alice"] and accounts.count() == 1

    accounts.set_roles("alice", [Role.AUDITOR])
    accounts.set_scope("alice", sites=["north"])
    alice = accounts.get("alice")
    assert alice is not None and alice.roles == {Role.AUDITOR} and alice.sites == {"north"}
    assert alice.cameras is None and accounts.by_id(alice.id) == alice
    accounts.set_scope("alice")
    assert accounts.get("alice").can_see("anything", None)  # type: ignore[union-attr]
    with pytest.raises(AccountError, match="no user"):
        accounts.disable("nobody")


def test_the_last_administrator_stays(engine: Engine) -> None:
    accounts = Accounts(engine)
    accounts.add("root", PASSWORD, [Role.ADMIN])
    with pytest.raises(AccountError, match="only enabled administrator"):
        accounts.disable("root")
    with pytest.raises(AccountError, match="only enabled administrator"):
        accounts.set_roles("root", [Role.VIEWER])
    accounts.add("second", PASSWORD, [Role.ADMIN, Role.AUDITOR])
    accounts.set_roles("root", [Role.VIEWER])
    with pytest.raises(AccountError, match="only enabled administrator"):
        accounts.disable("second")


def test_first_admin_is_created_once(engine: Engine) -> None:
    accounts = Accounts(engine)
    created = accounts.ensure_first_admin()
    assert created is not None
    name, password = created
    admin = accounts.authenticate(name, password)
    assert name == "admin" and admin.roles == {Role.ADMIN} and admin.must_change_password
    assert accounts.ensure_first_admin() is None and accounts.count() == 1
    with pytest.raises(PasswordPolicyError, match="current one"):
        accounts.set_password("admin", password)
    accounts.set_password("admin", PASSWORD)
    assert not accounts.authenticate("admin", PASSWORD).must_change_password


def test_first_admin_race_makes_one_account(engine: Engine) -> None:
    results: list[tuple[str, str] | None] = []
    start = threading.Barrier(4)

    def contend() -> None:
        accounts = Accounts(engine)
        start.wait()
        results.append(accounts.ensure_first_admin())

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is not None]
    assert len(results) == 4 and len(winners) == 1
    Accounts(engine).authenticate(*winners[0])


def test_first_admin_is_not_made_beside_other_accounts(engine: Engine) -> None:
    accounts = Accounts(engine)
    accounts.add("alice", PASSWORD, [Role.VIEWER])
    assert accounts.ensure_first_admin() is None and accounts.get("admin") is None


def test_sessions(engine: Engine) -> None:
    accounts = Accounts(engine)
    alice = accounts.add("alice", PASSWORD, [Role.VIEWER])
    live = Sessions(engine, lifetime_s=3600)
    token, csrf = live.create(alice.id)
    second, second_csrf = live.create(alice.id)
    assert len({token, csrf, second, second_csrf}) == 4 and len(token) >= 43
    with engine.connect() as connection:
        stored = set(connection.execute(select(sessions.c.token_hash)).scalars())
    assert stored == {secret_hash(token), secret_hash(second)}  # never the secret itself

    assert live.lookup(token) == (alice, csrf)
    assert live.lookup("forged") is None and live.lookup("") is None
    accounts.set_roles("alice", [Role.INVESTIGATOR])
    found = live.lookup(token)
    assert found is not None and found[0].roles == {Role.INVESTIGATOR}

    with engine.begin() as connection:
        connection.execute(update(sessions).values(last_seen_us=0))
    live.lookup(token)
    with engine.connect() as connection:
        seen = connection.execute(
            select(sessions.c.last_seen_us).where(sessions.c.token_hash == secret_hash(token))
        ).scalar_one()
    assert seen > now_us() - 3600 * US

    live.revoke(token)
    assert live.lookup(token) is None and live.lookup(second) is not None
    accounts.set_password("alice", OTHER_PASSWORD)
    assert live.lookup(second) is None

    third, _ = live.create(alice.id)
    accounts.add("root", PASSWORD, [Role.ADMIN])
    accounts.disable("alice")
    assert live.lookup(third) is None
    accounts.enable("alice")
    fourth, _ = live.create(alice.id)
    assert live.revoke_user(alice.id) == 1 and live.lookup(fourth) is None


def test_expired_sessions_are_refused_and_removed(engine: Engine) -> None:
    alice = Accounts(engine).add("alice", PASSWORD, [Role.VIEWER])
    expired = Sessions(engine, lifetime_s=0)
    token, _ = expired.create(alice.id)
    assert expired.lookup(token) is None
    with engine.connect() as connection:
        assert connection.execute(select(sessions)).first() is None


def test_api_tokens(engine: Engine) -> None:
    accounts = Accounts(engine)
    bot = accounts.add("bot", PASSWORD, [Role.VIEWER])
    accounts.add("root", PASSWORD, [Role.ADMIN])
    tokens = Tokens(engine)
    secret = tokens.issue(bot.id, "backup")
    assert secret.startswith(TOKEN_PREFIX) and tokens.lookup(secret) == bot
    assert tokens.lookup(secret[len(TOKEN_PREFIX) :]) is None
    assert tokens.lookup(TOKEN_PREFIX + "forged") is None
    with engine.connect() as connection:
        assert connection.execute(select(api_tokens.c.token_hash)).scalar_one() == secret_hash(
            secret
        )
    with pytest.raises(AccountError, match="already has a token"):
        tokens.issue(bot.id, "backup")
    with pytest.raises(AccountError, match="no account"):
        tokens.issue(9999, "backup")

    assert tokens.revoke(bot.id, "backup") == 1 and tokens.lookup(secret) is None
    assert tokens.revoke(bot.id, "backup") == 0
    again = tokens.issue(bot.id, "backup")  # the label is free once revoked
    stale = tokens.issue(bot.id, "stale", expires_us=now_us() - 1)
    assert tokens.lookup(stale) is None and tokens.lookup(again) == bot
    listed = tokens.list(bot.id)
    assert [(t.label, t.revoked) for t in listed] == [
        ("backup", True),
        ("backup", False),
        ("stale", False),
    ]
    assert tokens.revoke_hash(secret_hash(again)) and tokens.lookup(again) is None

    latest = tokens.issue(bot.id, "latest")
    accounts.disable("bot")
    accounts.enable("bot")
    assert tokens.lookup(latest) is None  # disabling revoked it for good


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_an_account_after_five_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=5, window_s=300, lockout_s=60, clock=clock)
    for n in range(5):
        assert throttle.reserve("alice", f"10.0.0.{n}") == 0
        throttle.failure("Alice", f"10.0.0.{n}")  # spelling and address do not matter
        clock.now += 1
    assert throttle.reserve("alice", "10.0.0.99") == pytest.approx(59)
    assert throttle.reserve("bob", "10.0.0.1") == 0
    clock.now += 59
    assert throttle.reserve("alice", "10.0.0.1") == 0
    throttle.failure("alice", "10.0.0.1")  # straight after the lock: locked again, twice as long
    assert throttle.reserve("alice", "10.0.0.1") == pytest.approx(120)
    clock.now += 120 + 300  # a quiet window forgives
    throttle.failure("alice", "10.0.0.1")
    assert throttle.reserve("alice", "10.0.0.1") == 0


def test_throttle_failures_outside_the_window_do_not_count() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=5, window_s=300, clock=clock)
    for _ in range(10):
        throttle.failure("alice", None)
        clock.now += 100
    assert throttle.reserve("alice", None) == 0


def test_throttle_limits_an_address_trying_many_names() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(per_address_max=20, clock=clock)
    for n in range(20):
        throttle.failure(f"user{n}", "203.0.113.7")
    assert throttle.reserve("someone-else", "203.0.113.7") > 0
    assert throttle.reserve("someone-else", "198.51.100.1") == 0
    throttle.success("user0", "203.0.113.7")  # a login of their own does not clear the address
    assert throttle.reserve("user0", "203.0.113.7") > 0


def test_throttle_success_forgives_the_account() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=5, clock=clock)
    for _ in range(4):
        throttle.failure("alice", "10.0.0.1")
    throttle.success("alice", "10.0.0.1")
    for _ in range(4):
        throttle.failure("alice", "10.0.0.1")
    assert throttle.reserve("alice", "10.0.0.1") == 0
    throttle.failure("alice", "10.0.0.1")
    assert throttle.reserve("alice", "10.0.0.1") > 0


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        f"storage: {{path: {tmp_path / 'storage'}}}\n"
        "cameras:\n"
        '  cam1: {purpose: testing, main: "rtsp://127.0.0.1:8554/x", site: north}\n'
        '  cam2: {purpose: testing, main: "rtsp://127.0.0.1:8554/y"}\n'
    )
    return path


@pytest.fixture
def cli_engine(config_file: Path) -> Iterator[Engine]:
    """The database the CLI writes, to read its work back directly."""
    engine = connect(load_config(config_file).database_url())
    yield engine
    engine.dispose()


def test_cli_adds_and_changes_accounts(config_file: Path, cli_engine: Engine) -> None:
    runner = CliRunner()
    c = ["-c", str(config_file)]
    done = runner.invoke(user_app, ["add", "alice", *c, "--role", "viewer,investigator",
                                    "--cameras", "cam1", "--password-stdin"],
                         input=PASSWORD + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    accounts = Accounts(cli_engine)
    alice = accounts.authenticate("alice", PASSWORD)
    assert alice.roles == {Role.VIEWER, Role.INVESTIGATOR} and alice.cameras == {"cam1"}

    done = runner.invoke(user_app, ["add", "bob", *c, "-r", "viewer", "--cameras", "cam1,gate"])
    assert done.exit_code == 2 and "gate" in done.output and "cam1, cam2" in done.output
    done = runner.invoke(user_app, ["add", "bob", *c, "-r", "viewer", "--sites", "south"])
    assert done.exit_code == 2 and "north" in done.output
    done = runner.invoke(user_app, ["add", "bob", *c, "-r", "operator"])
    assert done.exit_code == 2 and "auditor" in done.output
    done = runner.invoke(user_app, ["add", "alice", *c, "-r", "viewer", "--password-stdin"],
                         input=OTHER_PASSWORD + "\n")  # fmt: skip
    assert done.exit_code == 1 and "already exists" in done.output
    done = runner.invoke(user_app, ["add", "bob", *c, "-r", "viewer", "--password-stdin"],
                         input="short\n")  # fmt: skip
    assert done.exit_code == 1 and "at least 12" in done.output and accounts.get("bob") is None

    done = runner.invoke(user_app, ["add", "bob", *c, "-r", "admin", "--sites", "north"],
                         input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert accounts.authenticate("bob", PASSWORD).sites == {"north"}

    done = runner.invoke(user_app, ["add", "carol", *c, "-r", "auditor", "--one-time"])
    assert done.exit_code == 0, done.output
    one_time = done.stdout.strip()
    carol = accounts.authenticate("carol", one_time)
    assert carol.must_change_password and carol.roles == {Role.AUDITOR}

    done = runner.invoke(user_app, ["passwd", "carol", *c, "--password-stdin"],
                         input=OTHER_PASSWORD + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert not accounts.authenticate("carol", OTHER_PASSWORD).must_change_password
    with pytest.raises(LoginFailed):
        accounts.authenticate("carol", one_time)

    assert runner.invoke(user_app, ["roles", "carol", *c, "-r", "viewer"]).exit_code == 0
    assert runner.invoke(user_app, ["scope", "carol", *c, "--cameras", "cam2"]).exit_code == 0
    assert accounts.authenticate("carol", OTHER_PASSWORD) == User(
        carol.id, "carol", frozenset({Role.VIEWER}), frozenset({"cam2"}), None, False, False
    )

    done = runner.invoke(user_app, ["disable", "alice", *c])
    assert done.exit_code == 0, done.output
    with pytest.raises(LoginFailed):
        accounts.authenticate("alice", PASSWORD)
    done = runner.invoke(user_app, ["list", *c, "--json"])
    assert done.exit_code == 0, done.output
    listed = {u["name"]: u for u in json.loads(done.stdout)}
    assert set(listed) == {"alice", "bob", "carol"} and listed["alice"]["disabled"]
    assert listed["bob"]["roles"] == ["admin"] and listed["alice"]["cameras"] == ["cam1"]
    done = runner.invoke(user_app, ["enable", "alice", *c])
    assert done.exit_code == 0 and accounts.authenticate("alice", PASSWORD).name == "alice"
    done = runner.invoke(user_app, ["disable", "nobody", *c])
    assert done.exit_code == 1 and "no user" in done.output
    # Every change, and only the changes made, is in the audit trail.
    with cli_engine.connect() as connection:
        audited = connection.execute(
            select(audit_records.c.action, audit_records.c.source).order_by(audit_records.c.seq)
        ).all()
    assert audited == [
        (action, "cli")
        for action in ("user.add", "user.add", "user.add", "user.password", "user.roles",
                       "user.scope", "user.disable", "user.enable")
    ]  # fmt: skip


def test_cli_tokens(config_file: Path, cli_engine: Engine) -> None:
    runner = CliRunner()
    c = ["-c", str(config_file)]
    done = runner.invoke(user_app, ["add", "bot", *c, "-r", "viewer", "--password-stdin"],
                         input=PASSWORD + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    done = runner.invoke(user_app, ["token", "bot", *c, "--label", "backup", "--days", "30"])
    assert done.exit_code == 0, done.output
    secret = done.stdout.strip()
    tokens = Tokens(cli_engine)
    bot = tokens.lookup(secret)
    assert secret.startswith(TOKEN_PREFIX) and bot is not None and bot.name == "bot"
    [info] = tokens.list(bot.id)
    assert 29 * 86400 * US < info.expires_us - now_us() <= 30 * 86400 * US  # type: ignore[operator]
    done = runner.invoke(user_app, ["list", *c])
    assert done.exit_code == 0 and "backup" in done.output

    done = runner.invoke(user_app, ["revoke-token", "bot", *c, "--label", "backup"])
    assert done.exit_code == 0 and tokens.lookup(secret) is None
    done = runner.invoke(user_app, ["revoke-token", "bot", *c, "--label", "backup"])
    assert done.exit_code == 1 and "no live token" in done.output
    done = runner.invoke(user_app, ["token", "nobody", *c, "--label", "x"])
    assert done.exit_code == 1 and "no user" in done.output


def test_cli_reports_a_bad_configuration(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("cameras: [not, a, mapping]\n")
    done = CliRunner().invoke(user_app, ["list", "-c", str(path)])
    assert done.exit_code == 2 and "cameras" in done.output
