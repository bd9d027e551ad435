"""Signing in and out, and changing one's password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from vigil.accounts.store import User
from vigil.api.context import ApiContext, Caller, caller_of, context_of
from vigil.api.params import NO_NUL
from vigil.api.routes.admin import user_json
from vigil.api.security import SESSION_COOKIE, EnforcedRoute
from vigil.config import VigilConfig
from vigil.errors import AccessDenied, VigilError

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=EnforcedRoute)


class Login(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=NO_NUL)  # the audit records it
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


def account_json(user: User, csrf_token: str | None, config: VigilConfig) -> dict[str, Any]:
    """The account, and whether this node is a hub (the console then shows its sites)."""
    return {**user_json(user), "csrf_token": csrf_token, "hub": config.is_hub}


def _start_session(context: ApiContext, request: Request, response: Response, user: User) -> str:
    """A new session with a new id, whatever cookie came in (no session fixation)."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        context.sessions.revoke(old)
    token, csrf = context.sessions.create(user.id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
        max_age=int(context.config.api.session_hours * 3600),
    )
    return csrf


@router.post("/login")
def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
    """Sign in with a name and password; sets the session cookie and returns the CSRF token
    to send as X-CSRF-Token on every state-changing request."""
    context = context_of(request)
    address = context.origin(request).client
    wait = context.throttle.reserve(body.name, address)
    if wait > 0:
        context.audit(request, "login", "throttled", actor=body.name)
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    try:
        user = context.accounts.authenticate(body.name, body.password)
    except AccessDenied:
        context.throttle.failure(body.name, address)
        context.audit(request, "login", "failed", actor=body.name)
        raise HTTPException(401, "wrong name or password") from None
    except BaseException:
        context.throttle.failure(body.name, address)  # an attempt that broke still counts
        raise
    context.throttle.success(body.name, address)
    request.state.caller = Caller(user, "session")
    context.audit(request, "login", "ok")
    return account_json(user, _start_session(context, request, response, user), context.config)


@router.post("/logout")
def logout(request: Request, response: Response) -> dict[str, str]:
    """End this session (a bearer token stays valid until revoked)."""
    context = context_of(request)
    caller = caller_of(request)
    context.audit(request, "logout")
    if caller.session_token:
        context.sessions.revoke(caller.session_token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "signed out"}


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    """The signed-in account, its roles and scope, and the session's CSRF token."""
    caller = caller_of(request)
    assert caller.user is not None
    return account_json(caller.user, caller.csrf_token, context_of(request).config)


@router.post("/password")
def change_password(body: PasswordChange, request: Request, response: Response) -> dict[str, Any]:
    """Change one's own password; every other session of the account ends."""
    context = context_of(request)
    caller = caller_of(request)
    assert caller.user is not None
    try:
        context.accounts.authenticate(caller.user.name, body.current)
    except AccessDenied:
        context.audit(request, "password.change", "failed")
        raise HTTPException(403, "the current password is wrong") from None
    try:
        context.accounts.set_password(
            caller.user.name,
            body.new,
            audit=lambda connection: context.audit(
                request, "password.change", connection=connection
            ),
        )
    except VigilError as exc:
        context.audit(request, "password.change", "refused", why=str(exc))
        raise HTTPException(422, str(exc)) from None
    user = context.accounts.get(caller.user.name)
    assert user is not None
    csrf = _start_session(context, request, response, user) if caller.via == "session" else None
    return account_json(user, csrf, context.config)
