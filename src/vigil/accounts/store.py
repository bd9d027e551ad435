"""The local accounts: creating, changing and authenticating users."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from vigil.accounts.passwords import (
    PasswordPolicyError,
    check_password_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    one_time_password_for,
    verify_password,
)
from vigil.accounts.roles import Role
from vigil.errors import AccessDenied, VigilError
from vigil.storage.schema import api_tokens, sessions, users
from vigil.timeutil import now_us

USER_NAME = re.compile(r"^[a-z0-9._-]{1,64}$")
FIRST_ADMIN = "admin"
# Writes the audit record of a change inside the change's own transaction.
Audit = Callable[[Connection], object]


class AccountError(VigilError):
    """An account cannot be created or changed as asked."""


class AccountExists(AccountError):
    """The user name is taken."""


class NoSuchAccount(AccountError):
    """No account has this name."""


class LoginFailed(AccessDenied):
    """A refused login. The message is the same whatever the cause, so it never tells a
    stranger whether the account exists; `reason` is for the server's own audit trail."""

    def __init__(self, reason: Literal["unknown", "password", "disabled"]) -> None:
        super().__init__("wrong user name or password")
        self.reason = reason


@dataclass(frozen=True)
class User:
    id: int
    name: str
    roles: frozenset[Role]
    cameras: frozenset[str] | None  # both cameras and sites None: every camera
    sites: frozenset[str] | None
    must_change_password: bool
    disabled: bool

    def can_see(self, camera: str, site: str | None) -> bool:
        """Whether the camera (at the given site, if it has one) is in this account's scope."""
        if self.cameras is None and self.sites is None:
            return True
        if self.cameras is not None and camera in self.cameras:
            return True
        return site is not None and self.sites is not None and site in self.sites

    @classmethod
    def from_row(cls, row: RowMapping) -> User:
        cameras, sites = row["cameras"], row["sites"]
        return cls(
            id=row["id"],
            name=row["name"],
            roles=frozenset(Role(r) for r in row["roles"]),
            cameras=None if cameras is None else frozenset(cameras),
            sites=None if sites is None else frozenset(sites),
            must_change_password=bool(row["must_change_password"]),
            disabled=bool(row["disabled"]),
        )


def check_user_name(name: str) -> None:
    if not USER_NAME.match(name):
        raise AccountError(
            f"user name {name!r} must be 1-64 characters of a-z, 0-9, '.', '_' or '-'"
        )


def _roles(name: str, roles: Iterable[Role | str]) -> list[str]:
    try:
        chosen = {Role(r) for r in roles}
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise AccountError(f"user {name!r}: {exc}; use {known}") from None
    if not chosen:
        raise AccountError(f"user {name!r} needs at least one role; e.g. viewer")
    return sorted(r.value for r in chosen)


def _scope(
    name: str, cameras: Iterable[str] | None, sites: Iterable[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    if cameras is not None and sites is not None:
        raise AccountError(
            f"user {name!r}: give cameras or sites, not both (neither means every camera)"
        )
    chosen = [None if s is None else sorted(set(s)) for s in (cameras, sites)]
    if chosen[0] == [] or chosen[1] == []:
        raise AccountError(
            f"user {name!r}: an empty camera or site list would show nothing; "
            "name at least one, or give neither for every camera"
        )
    return chosen[0], chosen[1]


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        name: str,
        password: str,
        roles: Iterable[Role | str],
        cameras: Iterable[str] | None = None,
        sites: Iterable[str] | None = None,
        must_change: bool = False,
        audit: Audit | None = None,
    ) -> User:
        """A new account. `audit` writes the record of the change in its transaction."""
        check_user_name(name)
        role_list = _roles(name, roles)
        camera_list, site_list = _scope(name, cameras, sites)
        check_password_policy(name, password)
        now = now_us()
        values = {
            "name": name,
            "roles": role_list,
            "cameras": camera_list,
            "sites": site_list,
            "password_hash": hash_password(password),
            "must_change_password": must_change,
            "disabled": False,
            "created_us": now,
            "updated_us": now,
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(users).values(values))
                if audit:
                    audit(connection)
        except IntegrityError:
            raise AccountExists(
                f"user {name!r} already exists; choose another name, or change its password"
            ) from None
        return self._require(name)

    def get(self, name: str) -> User | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).mappings().first()
        return None if row is None else User.from_row(row)

    def by_id(self, user_id: int) -> User | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.id == user_id)).mappings().first()
        return None if row is None else User.from_row(row)

    def list(self) -> list[User]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(users).order_by(users.c.name)).mappings().all()
        return [User.from_row(r) for r in rows]

    def count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(users)).scalar_one()

    def set_password(
        self, name: str, password: str, must_change: bool = False, audit: Audit | None = None
    ) -> None:
        """Replace the password and end every browser session of the account."""
        check_password_policy(name, password)
        current = self._row(name)
        # Otherwise "must change password" could be satisfied by typing the old one again.
        if verify_password(current["password_hash"], password):
            raise PasswordPolicyError(
                f"the new password for {name!r} is the current one; choose a different one"
            )
        self._update(
            name,
            {"password_hash": hash_password(password), "must_change_password": must_change},
            end_sessions=True,
            audit=audit,
        )

    def disable(self, name: str, audit: Audit | None = None) -> None:
        """Refuse further logins, end the account's sessions and revoke its API tokens."""
        self._update(name, {"disabled": True}, end_sessions=True, revoke_tokens=True, audit=audit)

    def enable(self, name: str) -> None:
        self._update(name, {"disabled": False})

    def set_roles(self, name: str, roles: Iterable[Role | str]) -> None:
        self._update(name, {"roles": _roles(name, roles)})

    def set_scope(
        self, name: str, cameras: Iterable[str] | None = None, sites: Iterable[str] | None = None
    ) -> None:
        """Limit the account to cameras or to sites; neither means every camera."""
        camera_list, site_list = _scope(name, cameras, sites)
        self._update(name, {"cameras": camera_list, "sites": site_list})

    def authenticate(self, name: str, password: str) -> User:
        """The account if the password is right and it is enabled; LoginFailed otherwise."""
        # Names are stored in lower case; a login typed with capitals means the same account.
        key = name.strip().lower()
        row = None
        if USER_NAME.match(key):
            with self._engine.connect() as connection:
                query = select(users).where(users.c.name == key)
                row = connection.execute(query).mappings().first()
        if row is None:
            dummy_verify(password)
            raise LoginFailed("unknown")
        if not verify_password(row["password_hash"], password):
            raise LoginFailed("password")
        if row["disabled"]:
            raise LoginFailed("disabled")
        if needs_rehash(row["password_hash"]):
            with self._engine.begin() as connection:
                connection.execute(
                    update(users)
                    .where(users.c.id == row["id"])
                    .values(password_hash=hash_password(password))
                )
        return User.from_row(row)

    def ensure_first_admin(self) -> tuple[str, str] | None:
        """On a database without accounts, create "admin" with a one-time password it must
        change, and return (name, password) for the caller to show once; else None."""
        if self.count():
            return None
        password = one_time_password_for(FIRST_ADMIN)
        try:
            self.add(FIRST_ADMIN, password, [Role.ADMIN], must_change=True)
        except AccountExists:  # another process won the race; its password is the one shown
            return None
        return FIRST_ADMIN, password

    def _row(self, name: str) -> RowMapping:
        with self._engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise NoSuchAccount(f"no user {name!r}; `vigil user list` shows the accounts")
        return row

    def _require(self, name: str) -> User:
        return User.from_row(self._row(name))

    def _update(
        self,
        name: str,
        values: dict[str, Any],
        end_sessions: bool = False,
        revoke_tokens: bool = False,
        audit: Audit | None = None,
    ) -> None:
        with self._engine.begin() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                raise NoSuchAccount(f"no user {name!r}; `vigil user list` shows the accounts")
            _keep_an_admin(connection, User.from_row(row), values)
            connection.execute(
                update(users)
                .where(users.c.id == row["id"])
                .values({**values, "updated_us": now_us()})
            )
            if end_sessions:
                connection.execute(delete(sessions).where(sessions.c.user_id == row["id"]))
            if revoke_tokens:
                connection.execute(
                    update(api_tokens).where(api_tokens.c.user_id == row["id"]).values(revoked=True)
                )
            if audit:
                audit(connection)


def _keep_an_admin(connection: Connection, user: User, values: dict[str, Any]) -> None:
    """Refuse a change that would leave no enabled administrator: nobody could then manage
    accounts from the console."""
    if Role.ADMIN not in user.roles or user.disabled:
        return
    stays = not values.get("disabled", False) and Role.ADMIN in values.get("roles", user.roles)
    if stays:
        return
    others = connection.execute(
        select(users.c.roles).where(users.c.id != user.id, users.c.disabled.is_(False))
    ).scalars()
    if not any(Role.ADMIN.value in roles for roles in others):
        raise AccountError(
            f"{user.name!r} is the only enabled administrator; give another account the "
            "admin role first"
        )
