"""Liveness for load balancers and Prometheus metrics for monitoring."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from vigil.api.context import context_of
from vigil.api.metrics import render_metrics
from vigil.api.security import EnforcedRoute

router = APIRouter(route_class=EnforcedRoute)


@router.get("/healthz", tags=["health"])
def healthz(request: Request) -> dict[str, str]:
    """Whether the API can reach its database. Needs no account and reveals nothing else."""
    try:
        with context_of(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise HTTPException(503, "the database cannot be reached") from None
    return {"status": "ok"}


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: per camera state, fps, bitrate, bytes and analysis lag; per
    Vigil process CPU seconds and resident memory."""
    return PlainTextResponse(
        render_metrics(context_of(request)), media_type="text/plain; version=0.0.4"
    )
