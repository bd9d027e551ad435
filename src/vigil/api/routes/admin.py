"""Administration: storage, the running configuration, and accounts. No footage here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from vigil.accounts.passwords import one_time_password_for
from vigil.accounts.roles import Role
from vigil.accounts.store import User
from vigil.api.context import context_of
from vigil.api.security import EnforcedRoute
from vigil.errors import VigilError
from vigil.redact import redact_document
from vigil.storage.evidence import HoldStore
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import free_and_total
from vigil.storage.report import status_report

router = APIRouter(prefix="/api/v1", tags=["admin"], route_class=EnforcedRoute)
UserName = Annotated[str, Path(pattern=r"^[a-z0-9._-]{1,64}$")]


class NewUser(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9._-]{1,64}$")
    roles: list[Role] = Field(min_length=1)
    cameras: list[str] | None = None
    sites: list[str] | None = None


def user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "roles": sorted(user.roles),
        "cameras": sorted(user.cameras) if user.cameras is not None else None,
        "sites": sorted(user.sites) if user.sites is not None else None,
        "must_change_password": user.must_change_password,
        "disabled": user.disabled,
    }


@router.get("/storage")
def storage(request: Request) -> dict[str, Any]:
    """Disk space, storage alarms, and per camera the bytes kept, the oldest footage, the
    retention configured and the horizon actually reached."""
    context = context_of(request)
    report = status_report(context.config, context.engine)
    try:
        free, total = free_and_total(context.layout.root)
    except OSError:
        free, total = None, None
    keys = ("site", "segments", "bytes", "oldest", "newest", "retention_days", "horizon_days")
    return {
        "path": str(context.layout.root),
        "free_bytes": free,
        "total_bytes": total,
        "alarms": report["alarms"],
        "held_bytes": SegmentIndex(context.engine).held_bytes(),
        "held_by": HoldStore(context.engine).cases_in_force(),
        "cameras": [{"name": n, **{k: c[k] for k in keys}} for n, c in report["cameras"].items()],
    }


@router.get("/config")
def config(request: Request) -> dict[str, Any]:
    """The running configuration, with every credential hidden: URLs' user names, passwords
    and credential parameters, and every field named like a secret."""
    return redact_document(context_of(request).config.model_dump(mode="json"))  # type: ignore[no-any-return]


@router.get("/users")
def list_users(request: Request) -> dict[str, Any]:
    """Every account, without its password hash."""
    return {"users": [user_json(u) for u in context_of(request).accounts.list()]}


@router.post("/users")
def add_user(body: NewUser, request: Request) -> dict[str, Any]:
    """Add an account with a one-time password, returned once here; it must be changed at
    first sign-in."""
    context = context_of(request)
    unknown = sorted(set(body.cameras or []) - set(context.config.cameras))
    if unknown:
        raise HTTPException(422, f"unknown cameras {unknown}; use names from the configuration")
    detail = {"user": body.name, "roles": sorted(body.roles), "sites": body.sites}
    password = one_time_password_for(body.name)
    try:
        user = context.accounts.add(
            body.name,
            password,
            body.roles,
            cameras=body.cameras,
            sites=body.sites,
            must_change=True,
            audit=lambda connection: context.audit(
                request, "user.add", "ok", body.cameras or [], connection=connection, **detail
            ),
        )
    except VigilError as exc:
        context.audit(request, "user.add", "refused", body.cameras or [], **detail, why=str(exc))
        raise HTTPException(409, str(exc)) from None
    return {"user": user_json(user), "one_time_password": password}


@router.post("/users/{user}/disable")
def disable_user(user: UserName, request: Request) -> dict[str, Any]:
    """Disable an account; its sessions and tokens end at once."""
    context = context_of(request)
    if context.accounts.get(user) is None:
        raise HTTPException(404, f"user {user!r} not found")
    try:
        context.accounts.disable(
            user,
            audit=lambda connection: context.audit(
                request, "user.disable", "ok", connection=connection, user=user
            ),
        )
    except VigilError as exc:
        context.audit(request, "user.disable", "refused", user=user, why=str(exc))
        raise HTTPException(409, str(exc)) from None
    found = context.accounts.get(user)
    assert found is not None
    return {"user": user_json(found)}
