"""The FastAPI application: the REST API under /api/v1, metrics, health and the console."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from vigil.api.context import ApiContext
from vigil.api.headers import SecurityHeaders
from vigil.api.routes import admin, audit, auth, cameras, events, health, playback
from vigil.api.security import enforce

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Vigil",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs pull scripts from a CDN; Vigil serves none
        redoc_url=None,
        dependencies=[Depends(enforce)],
    )
    app.state.context = context
    app.add_middleware(SecurityHeaders, tile_url=context.config.api.tile_url)
    for module in (health, auth, cameras, playback, events, admin, audit):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
