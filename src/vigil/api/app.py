"""The FastAPI application: the REST API under /api/v1, metrics, health and the console."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from vigil.api.context import ApiContext
from vigil.api.headers import SecurityHeaders
from vigil.api.routes import (
    admin,
    audit,
    auth,
    cameras,
    cases,
    events,
    exports,
    federation,
    health,
    lifts,
    playback,
    register,
)
from vigil.api.security import EnforcedRoute
from vigil.errors import AuditError

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
# The largest body any route takes (a review note of 2000 characters) with room to spare; more
# is 413 before it is read into memory.
MAX_BODY_BYTES = 256 * 1024
CHECKPOINT_INTERVAL = 60.0
log = logging.getLogger(__name__)


def _checkpoint(context: ApiContext) -> None:
    try:
        context.audit_log.checkpoint()
    except AuditError as exc:
        log.error("cannot sign an audit checkpoint", extra={"error": str(exc)})


def _sign_checkpoints(context: ApiContext, stop: threading.Event) -> None:
    """Sign the head of the audit chain every minute, so at most a minute of records is ever
    unsigned (deleting signed records is detectable; an unsigned tail is not)."""
    while not stop.wait(CHECKPOINT_INTERVAL):
        _checkpoint(context)


def create_app(context: ApiContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        signer = threading.Thread(target=_sign_checkpoints, args=(context, stop), daemon=True)
        signer.start()
        try:
            yield
        finally:
            # The server's shutdown runs this before the process ends on SIGTERM, so the
            # records of the last minute are signed too.
            stop.set()
            _checkpoint(context)

    app = FastAPI(
        title="Vigil",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs pull scripts from a CDN; Vigil serves none
        redoc_url=None,
        max_body_size=MAX_BODY_BYTES,
        lifespan=lifespan,
    )
    app.router.route_class = EnforcedRoute
    app.state.context = context
    app.add_middleware(SecurityHeaders, tile_url=context.config.api.tile_url)
    for module in (health, register, auth, cameras, playback, events, cases, exports, lifts, admin,
                   audit, federation):  # fmt: skip
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    unenforced = [r.path for r in api_routes(app.routes) if not isinstance(r, EnforcedRoute)]
    if unenforced:
        # Deny by default: a route that skips `enforce` must not be served at all.
        raise RuntimeError(f"routes {unenforced} do not check access; use EnforcedRoute")
    return app


def api_routes(routes: list[object]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers whole
            found.extend(api_routes(route.original_router.routes))
    return found
