"""One error shape for every failure: RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.ratelimit import RateLimitedError
from app.security import InvalidTokenError
from app.users import InvalidCredentialsError

PROBLEM_JSON = "application/problem+json"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    """Where and why one input was refused (the input itself is never echoed back)."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every 4xx/5xx response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=PROBLEM_JSON
    )


def unauthorized(detail: str = "Not authenticated") -> HTTPException:
    return HTTPException(401, detail, headers=BEARER_CHALLENGE)


#: For `responses=` on routes, so /docs shows the error bodies too (400: a body that is not
#: text in its declared charset, which FastAPI refuses before validation).
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses
    }


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; several routes may
        # share it (PATCH and DELETE /tasks/{id}), and `Allow` must list every method.
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(exc.status_code, str(exc.detail), headers=headers)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(loc=list(e.get("loc", ())), msg=e.get("msg", ""), type=e.get("type", ""))
        for e in exc.errors()
    ]
    return problem_response(422, "The request is not valid", errors=errors)


async def _bad_credentials(_: Request, __: Exception) -> JSONResponse:
    return problem_response(401, "Incorrect email or password", headers=BEARER_CHALLENGE)


async def _bad_token(_: Request, __: Exception) -> JSONResponse:
    return problem_response(401, "Invalid or expired token", headers=BEARER_CHALLENGE)


async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimitedError)
    log.warning("rate_limited", limit=exc.limit, retry_after=exc.retry_after_seconds)
    return problem_response(429, exc.detail, headers={"Retry-After": str(exc.retry_after_seconds)})


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Down, restarting or a connection lost mid-request: the pool is invalidated, a retry works.
    assert isinstance(exc, OperationalError)
    log.warning("database_unavailable", connection_invalidated=exc.connection_invalidated)
    return problem_response(
        503, "The database is unavailable; try again shortly", headers={"Retry-After": "1"}
    )


async def _pool_exhausted(_: Request, __: Exception) -> JSONResponse:
    # Every pooled connection stayed busy for `DB_POOL_TIMEOUT_SECONDS`: overload, not a bug.
    log.warning("database_pool_exhausted")
    return problem_response(
        503, "The service is busy; try again shortly", headers={"Retry-After": "1"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidCredentialsError, _bad_credentials)
    app.add_exception_handler(InvalidTokenError, _bad_token)
    app.add_exception_handler(RateLimitedError, _rate_limited)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted)
    # Anything else: app.api.guards.UnexpectedErrorMiddleware, which keeps the connection.
