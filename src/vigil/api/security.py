"""Every request passes here first: who is calling, and whether the access table lets them.

Browser sessions ride an HttpOnly, SameSite=Strict cookie, and a state-changing request made
with one must also carry the session's CSRF token in X-CSRF-Token; bearer tokens (machines)
are not sent by browsers on their own, so they need no CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from vigil.accounts.sessions import secret_hash
from vigil.api.access import ACCESS, PASSWORD_CHANGE_ROUTES, permitted
from vigil.api.context import Caller, context_of, evidence_reason

SESSION_COOKIE = "vigil_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate(request: Request) -> Caller:
    context = context_of(request)
    authorization = request.headers.get("authorization", "")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        user = context.tokens.lookup(secret.strip())
        if user is None:
            raise HTTPException(
                401,
                "the bearer token is unknown, expired or revoked; issue one with "
                "`vigil user token`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Caller(user, "token", credential=secret_hash(secret.strip()))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = context.sessions.lookup(cookie)
        if found is not None:
            user, csrf = found
            return Caller(
                user,
                "session",
                csrf_token=csrf,
                session_token=cookie,
                credential=secret_hash(cookie),
            )
    return Caller(None, "anonymous")


def path_cameras(request: Request) -> list[str]:
    params = request.path_params
    return [str(params[k]) for k in ("camera", "name") if k in params]


def enforce(request: Request) -> None:
    """Authenticate, then apply the route's rule from ACCESS."""
    route = request.scope.get("route")
    key = (request.method, route.path if isinstance(route, APIRoute) else "")
    rule = ACCESS.get(key)
    if rule is None:
        raise HTTPException(403, "this route has no access rule, so it is closed to everyone")
    caller = authenticate(request)
    request.state.caller = caller
    if rule.public:
        return
    context = context_of(request)
    if caller.user is None:
        raise HTTPException(
            401,
            "sign in first (POST /api/v1/auth/login) or send a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if caller.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not caller.csrf_token or not hmac.compare_digest(sent, caller.csrf_token):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header for this session")
    if caller.user.must_change_password and key not in PASSWORD_CHANGE_ROUTES:
        raise HTTPException(403, "change your one-time password first (POST /api/v1/auth/password)")
    if not permitted(rule, caller.user.roles):
        if rule.audit:
            context.refuse(request, rule.audit, "denied", path_cameras(request), why="role")
        raise HTTPException(403, "your role does not allow this")
    if rule.reason:
        reason = evidence_reason(request)
        if reason is None:
            if rule.audit:
                context.refuse(request, rule.audit, "refused", path_cameras(request))
            raise HTTPException(
                400,
                "evidence access needs a case reference and a reason: send the "
                "X-Vigil-Case (letters, digits, ./:#-, up to 64) and X-Vigil-Reason (5-500 "
                "characters) headers, or the case and reason query parameters",
            )
        request.state.reason = reason


class EnforcedRoute(APIRoute):
    """A route that runs `enforce` before anything else, its body included: an anonymous or
    forbidden caller is answered before a byte of what they sent is read or parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def enforced(request: Request) -> Response:
            await run_in_threadpool(enforce, request)
            return await handler(request)

        return enforced
