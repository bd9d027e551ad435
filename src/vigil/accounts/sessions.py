"""Browser sessions and machine API tokens.

Only the SHA-256 of each secret is stored, so a copy of the database lets nobody in. A session
secret is always made here at login, never taken from the client, so it cannot be fixed in
advance by an attacker.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, and_, delete, insert, or_, select, update

from vigil.accounts.store import AccountError, User
from vigil.storage.schema import api_tokens, sessions, users
from vigil.timeutil import US, now_us

TOKEN_PREFIX = "vgt_"  # tells a leaked API token apart in logs and secret scanners
# last_seen is for the admin's view of who is logged in; minute precision spares a write
# on every request.
TOUCH_EVERY_US = 60 * US


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(self, engine: Engine, lifetime_s: float) -> None:
        self._engine = engine
        self._lifetime_us = int(lifetime_s * US)

    def create(self, user_id: int) -> tuple[str, str]:
        """A new session: (secret for the cookie, CSRF token for the pages)."""
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        now = now_us()
        with self._engine.begin() as connection:
            # Logins are rare enough to carry the clean-up of sessions nobody came back to.
            connection.execute(delete(sessions).where(sessions.c.expires_us <= now))
            connection.execute(
                insert(sessions).values(
                    token_hash=secret_hash(token),
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_us=now,
                    last_seen_us=now,
                    expires_us=now + self._lifetime_us,
                )
            )
        return token, csrf_token

    def lookup(self, token: str) -> tuple[User, str] | None:
        """The account and CSRF token of a live session; None if unknown, expired or the
        account is disabled. The account is read afresh, so role changes apply at once."""
        if not token:
            return None
        key = secret_hash(token)
        query = (
            select(users, sessions.c.csrf_token, sessions.c.expires_us, sessions.c.last_seen_us)
            .join_from(sessions, users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == key)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        now = now_us()
        if row["expires_us"] <= now:
            self.revoke(token)
            return None
        if row["disabled"]:
            return None
        if now - row["last_seen_us"] >= TOUCH_EVERY_US:
            with self._engine.begin() as connection:
                connection.execute(
                    update(sessions).where(sessions.c.token_hash == key).values(last_seen_us=now)
                )
        return User.from_row(row), row["csrf_token"]

    def revoke(self, token: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(sessions).where(sessions.c.token_hash == secret_hash(token)))

    def revoke_user(self, user_id: int) -> int:
        """End every session of the account; the number ended."""
        with self._engine.begin() as connection:
            return connection.execute(
                delete(sessions).where(sessions.c.user_id == user_id)
            ).rowcount


@dataclass(frozen=True)
class TokenInfo:
    token_hash: str  # identifies the token without being it
    label: str
    created_us: int
    expires_us: int | None
    revoked: bool


class Tokens:
    """Bearer tokens for scripts and other machines, each issued to an account and labelled."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, user_id: int, label: str, expires_us: int | None = None) -> str:
        """A new token, returned once; a label names at most one live token of the account."""
        if not 1 <= len(label) <= 64 or not label.strip():
            raise AccountError(f"token label {label!r} must be 1-64 characters, not only spaces")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_us()
        with self._engine.begin() as connection:
            if connection.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise AccountError(f"no account with id {user_id}; cannot issue a token")
            taken = connection.execute(
                select(api_tokens.c.token_hash).where(
                    api_tokens.c.user_id == user_id, api_tokens.c.label == label, _live(now)
                )
            ).first()
            if taken is not None:
                raise AccountError(
                    f"the account already has a token labelled {label!r}; "
                    "revoke it first or choose another label"
                )
            connection.execute(
                insert(api_tokens).values(
                    token_hash=secret_hash(token),
                    user_id=user_id,
                    label=label,
                    created_us=now,
                    expires_us=expires_us,
                    revoked=False,
                )
            )
        return token

    def lookup(self, token: str) -> User | None:
        """The account of a live token; None if unknown, revoked, expired or disabled."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        query = (
            select(users)
            .join_from(api_tokens, users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == secret_hash(token), _live(now_us()))
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or row["disabled"]:
            return None
        return User.from_row(row)

    def revoke(self, user_id: int, label: str) -> int:
        """Revoke the account's tokens with this label; the number revoked."""
        query = (
            update(api_tokens)
            .where(
                api_tokens.c.user_id == user_id,
                api_tokens.c.label == label,
                api_tokens.c.revoked.is_(False),
            )
            .values(revoked=True)
        )
        with self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def revoke_hash(self, token_hash: str) -> bool:
        """Revoke the token with this hash (as TokenInfo shows it); whether one was live."""
        query = (
            update(api_tokens)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked.is_(False))
            .values(revoked=True)
        )
        with self._engine.begin() as connection:
            return connection.execute(query).rowcount > 0

    def list(self, user_id: int) -> list[TokenInfo]:
        query = (
            select(api_tokens)
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.created_us, api_tokens.c.label)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            TokenInfo(
                token_hash=r["token_hash"],
                label=r["label"],
                created_us=r["created_us"],
                expires_us=r["expires_us"],
                revoked=bool(r["revoked"]),
            )
            for r in rows
        ]


def _live(now: int) -> ColumnElement[bool]:
    return and_(
        api_tokens.c.revoked.is_(False),
        or_(api_tokens.c.expires_us.is_(None), api_tokens.c.expires_us > now),
    )
