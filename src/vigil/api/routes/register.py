"""The public camera register: no account, no footage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from vigil.api.context import context_of
from vigil.api.security import EnforcedRoute
from vigil.oversight import register

router = APIRouter(tags=["oversight"], route_class=EnforcedRoute)
KINDS = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


@router.get("/register", response_class=HTMLResponse)
def public_register(
    request: Request, format: Annotated[str, Query(pattern="^(html|json|csv)$")] = "html"
) -> Response:
    """Every camera's place, purpose, legal basis, operator, retention and analytics."""
    config = context_of(request).config
    if format == "html":
        return HTMLResponse(register.as_html(config))
    text = register.as_json(config) if format == "json" else register.as_csv(config)
    return Response(text, media_type=KINDS[format])
