"""`vigil user ...`: the local accounts of the operator console and their API tokens.

Every change is appended to the audit trail. Secrets (one-time passwords, tokens) go alone to
standard output, once, so a script can capture them; explanations go to standard error.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from vigil.accounts.passwords import one_time_password_for
from vigil.accounts.roles import Role, parse_roles
from vigil.accounts.sessions import Tokens
from vigil.accounts.store import Accounts, User, check_user_name
from vigil.cli_support import ConfigOption, fail, load, open_database
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.timeutil import US, now_us, to_iso

user_app = typer.Typer(
    no_args_is_help=True,
    help="Add, change and list the accounts of the operator console and their API tokens.",
)

NameArgument = Annotated[str, typer.Argument(help="The user name.")]
RoleOption = Annotated[
    list[str],
    typer.Option(
        "--role", "-r", help="viewer, investigator, admin or auditor; repeat or comma-separate."
    ),
]
CamerasOption = Annotated[
    str | None, typer.Option(help="Only these cameras, comma-separated (default: every camera).")
]
SitesOption = Annotated[
    str | None, typer.Option(help="Only the cameras of these sites, comma-separated.")
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
]
OneTimeOption = Annotated[
    bool,
    typer.Option(
        "--one-time", help="Generate a password, print it once; it must be changed at login."
    ),
]
LabelOption = Annotated[str, typer.Option(help="What the token is for, e.g. 'backup-script'.")]


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def _opened(path: Path) -> Iterator[tuple[VigilConfig, Engine]]:
    """The configuration and its migrated database; a Vigil error ends the command with 1."""
    config = load(path)
    engine = None
    try:
        engine = open_database(config)
        yield config, engine
    except VigilError as exc:
        raise fail(exc) from None
    finally:
        if engine is not None:
            engine.dispose()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry, as in some containers
        return "unknown"


def _audit(
    config: VigilConfig, engine: Engine, action: str, subject: str, detail: dict[str, Any]
) -> None:
    """Record a change just made; an AuditError ends the command with 1 before any secret
    is shown."""
    # Imported here: loading the signing-key code is not needed to list accounts.
    from vigil.audit import AuditRecord, open_audit_log

    open_audit_log(config, engine).append(
        AuditRecord(
            at_us=now_us(),
            actor=f"cli:{_operator()}",
            role="admin-cli",
            action=action,
            outcome="ok",
            cameras=(),
            since_us=None,
            until_us=None,
            reason=None,
            source="cli",
            detail={"user": subject, **detail},
        )
    )


def _roles(values: list[str]) -> frozenset[Role]:
    try:
        roles = parse_roles(values)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    if not roles:
        raise _usage_error("give at least one --role, e.g. --role viewer")
    return roles


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return sorted({part.strip() for part in text.split(",") if part.strip()})


def _scope(
    config: VigilConfig, path: Path, cameras: str | None, sites: str | None
) -> tuple[list[str] | None, list[str] | None]:
    """The scope asked for, every camera and site checked against the configuration."""
    if cameras is not None and sites is not None:
        raise _usage_error("give --cameras or --sites, not both")
    camera_list, site_list = _names(cameras), _names(sites)
    for kind, given, known in (
        ("camera", camera_list, set(config.cameras)),
        ("site", site_list, {c.site for c in config.cameras.values() if c.site}),
    ):
        if given == []:
            raise _usage_error(f"--{kind}s is empty; name at least one {kind}")
        unknown = sorted(set(given or ()) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise _usage_error(f"{kind}(s) {', '.join(unknown)} not in {path}; known: {listed}")
    return camera_list, site_list


def _require(accounts: Accounts, name: str) -> User:
    user = accounts.get(name)
    if user is None:
        typer.echo(f"error: no user {name!r}; `vigil user list` shows the accounts", err=True)
        raise typer.Exit(1)
    return user


def _new_password(name: str, from_stdin: bool, one_time: bool) -> str:
    if from_stdin and one_time:
        raise _usage_error("give --password-stdin or --one-time, not both")
    if one_time:
        return one_time_password_for(name)
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _usage_error("--password-stdin: standard input had no password line")
    else:
        password = typer.prompt(
            f"New password for {name}", hide_input=True, confirmation_prompt=True
        )
    return password


def _show_once(secret: str, explanation: str) -> None:
    typer.echo(explanation, err=True)
    typer.echo(secret)


@user_app.command()
def add(
    name: NameArgument,
    config: ConfigOption,
    role: RoleOption,
    cameras: CamerasOption = None,
    sites: SitesOption = None,
    password_stdin: PasswordStdinOption = False,
    one_time: OneTimeOption = False,
) -> None:
    """Create an account; asks for its password twice unless told otherwise."""
    with _opened(config) as (settings, engine):
        roles = _roles(role)
        camera_list, site_list = _scope(settings, config, cameras, sites)
        check_user_name(name)
        accounts = Accounts(engine)
        if accounts.get(name) is not None:
            typer.echo(f"error: user {name!r} already exists; see `vigil user passwd`", err=True)
            raise typer.Exit(1)
        password = _new_password(name, password_stdin, one_time)
        user = accounts.add(name, password, roles, camera_list, site_list, must_change=one_time)
        _audit(
            settings,
            engine,
            "user.add",
            name,
            {
                "roles": sorted(r.value for r in user.roles),
                "cameras": camera_list,
                "sites": site_list,
                "one_time": one_time,
            },
        )
        if one_time:
            _show_once(password, f"user {name!r} added; its one-time password, shown only now:")
        else:
            typer.echo(f"user {name!r} added")


@user_app.command()
def passwd(
    name: NameArgument,
    config: ConfigOption,
    password_stdin: PasswordStdinOption = False,
    one_time: OneTimeOption = False,
) -> None:
    """Set an account's password; its browser sessions end."""
    with _opened(config) as (settings, engine):
        accounts = Accounts(engine)
        _require(accounts, name)
        password = _new_password(name, password_stdin, one_time)
        accounts.set_password(name, password, must_change=one_time)
        _audit(settings, engine, "user.password", name, {"one_time": one_time})
        if one_time:
            _show_once(password, f"{name!r}: one-time password, shown only now:")
        else:
            typer.echo(f"password of {name!r} changed; its sessions have ended")


@user_app.command()
def disable(name: NameArgument, config: ConfigOption) -> None:
    """Refuse the account's logins, end its sessions and revoke its API tokens."""
    with _opened(config) as (settings, engine):
        Accounts(engine).disable(name)
        _audit(settings, engine, "user.disable", name, {})
        typer.echo(f"user {name!r} disabled; its sessions and tokens are revoked")


@user_app.command()
def enable(name: NameArgument, config: ConfigOption) -> None:
    """Allow a disabled account to log in again (its old tokens stay revoked)."""
    with _opened(config) as (settings, engine):
        Accounts(engine).enable(name)
        _audit(settings, engine, "user.enable", name, {})
        typer.echo(f"user {name!r} enabled")


@user_app.command("roles")
def roles_command(name: NameArgument, config: ConfigOption, role: RoleOption) -> None:
    """Replace an account's roles."""
    with _opened(config) as (settings, engine):
        chosen = _roles(role)
        Accounts(engine).set_roles(name, chosen)
        _audit(settings, engine, "user.roles", name, {"roles": sorted(r.value for r in chosen)})
        typer.echo(f"roles of {name!r}: {', '.join(sorted(chosen))}")


@user_app.command("scope")
def scope_command(
    name: NameArgument,
    config: ConfigOption,
    cameras: CamerasOption = None,
    sites: SitesOption = None,
) -> None:
    """Limit an account to cameras or to sites; with neither, it sees every camera."""
    with _opened(config) as (settings, engine):
        camera_list, site_list = _scope(settings, config, cameras, sites)
        Accounts(engine).set_scope(name, camera_list, site_list)
        _audit(settings, engine, "user.scope", name, {"cameras": camera_list, "sites": site_list})
        typer.echo(f"scope of {name!r}: {_scope_text(camera_list, site_list)}")


def _scope_text(cameras: Iterable[str] | None, sites: Iterable[str] | None) -> str:
    if cameras is not None:
        return "cameras " + ",".join(sorted(cameras))
    if sites is not None:
        return "sites " + ",".join(sorted(sites))
    return "every camera"


@user_app.command("list")
def list_command(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The accounts, their roles, scope and live API tokens."""
    with _opened(config) as (_settings, engine):
        tokens = Tokens(engine)
        now = now_us()
        rows = []
        for user in Accounts(engine).list():
            live = [
                t
                for t in tokens.list(user.id)
                if not t.revoked and (t.expires_us is None or t.expires_us > now)
            ]
            rows.append(
                {
                    "name": user.name,
                    "roles": sorted(r.value for r in user.roles),
                    "cameras": None if user.cameras is None else sorted(user.cameras),
                    "sites": None if user.sites is None else sorted(user.sites),
                    "must_change_password": user.must_change_password,
                    "disabled": user.disabled,
                    "tokens": [
                        {
                            "label": t.label,
                            "created": to_iso(t.created_us),
                            "expires": to_iso(t.expires_us),
                        }
                        for t in live
                    ],
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no accounts yet; `vigil user add NAME --role admin` creates one")
    for row in rows:
        flags = []
        if row["disabled"]:
            flags.append("DISABLED")
        if row["must_change_password"]:
            flags.append("must change password")
        tokens_text = ", ".join(t["label"] for t in row["tokens"]) or "none"
        typer.echo(
            f"{row['name']}: {', '.join(row['roles'])}; "
            f"{_scope_text(row['cameras'], row['sites'])}; tokens: {tokens_text}"
            + "".join(f"; {f}" for f in flags)
        )


@user_app.command("token")
def token_command(
    name: NameArgument,
    config: ConfigOption,
    label: LabelOption,
    days: Annotated[
        float | None, typer.Option(min=0.001, help="Expire after this many days (default: never).")
    ] = None,
) -> None:
    """Issue an API token for the account, printed only this once."""
    with _opened(config) as (settings, engine):
        user = _require(Accounts(engine), name)
        if user.disabled:
            typer.echo(f"error: user {name!r} is disabled; `vigil user enable` it first", err=True)
            raise typer.Exit(1)
        expires_us = None if days is None else now_us() + int(days * 86400 * US)
        secret = Tokens(engine).issue(user.id, label, expires_us)
        _audit(
            settings, engine, "token.issue", name, {"label": label, "expires": to_iso(expires_us)}
        )
        until = "never expires" if expires_us is None else f"expires {to_iso(expires_us)}"
        _show_once(
            secret,
            f"token {label!r} for {name!r} ({until}), shown only now; "
            "send it as 'Authorization: Bearer <token>':",
        )


@user_app.command("revoke-token")
def revoke_token(name: NameArgument, config: ConfigOption, label: LabelOption) -> None:
    """Revoke the account's API token with this label."""
    with _opened(config) as (settings, engine):
        user = _require(Accounts(engine), name)
        if not Tokens(engine).revoke(user.id, label):
            typer.echo(f"error: {name!r} has no live token labelled {label!r}", err=True)
            raise typer.Exit(1)
        _audit(settings, engine, "token.revoke", name, {"label": label})
        typer.echo(f"token {label!r} of {name!r} revoked")
