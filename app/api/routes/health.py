"""Liveness (`/healthz`) and readiness (`/readyz`: the database answers)."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.api.deps import StateDep
from app.api.errors import problem_responses
from app.api.metrics import exposition
from app.api.schemas import Status

router = APIRouter(tags=["health"])
log = structlog.get_logger(__name__)

READY_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> Status:
    """The process is up."""
    return Status()


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this API (of all its workers); not served through nginx."""
    body, kind = exposition()
    return Response(body, media_type=kind)


@router.get("/readyz", responses=problem_responses(503))
async def readyz(state: StateDep) -> Status:
    """The database is reachable."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        log.warning("not_ready", error=str(exc))
        raise HTTPException(503, "Database unreachable") from exc
    return Status()
