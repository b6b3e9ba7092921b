"""`/auth`: register and log in (JSON or the OAuth2 password form)."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import StateDep, UowDep
from app.api.errors import problem_responses
from app.api.schemas import LoginForm, LoginJson, Registration, Token, UserOut
from app.security import issue_token
from app.users import authenticate, register_user

router = APIRouter(prefix="/auth", tags=["auth"])

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# One operation, two bodies: FastAPI cannot declare that from parameters, so /docs gets it here.
LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginJson.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": LoginForm.model_json_schema()},
        },
    }
}


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 422, 429),
)
async def register(request: Request, body: Registration, uow: UowDep, state: StateDep) -> UserOut:
    """Create an account (the same answer whether or not the address already has one)."""
    user = await register_user(
        uow=uow,
        passwords=state.passwords,
        limiter=state.registrations,
        email=body.email,
        password=body.password,
        client=client_address(request),
        timezone=body.timezone or state.settings.digest_timezone,
    )
    return UserOut.model_validate(user)


@router.post("/login", openapi_extra=LOGIN_BODY, responses=problem_responses(400, 401, 422, 429))
async def login(request: Request, uow: UowDep, state: StateDep) -> Token:
    """Exchange email and password for a bearer token."""
    email, password = await _credentials(request)
    user = await authenticate(
        uow=uow,
        passwords=state.passwords,
        limiter=state.limiter,
        email=email,
        password=password,
        client=client_address(request),
    )
    ttl = state.settings.jwt_ttl_seconds
    token = issue_token(user_id=user.id, secret=state.settings.jwt_secret, ttl_seconds=ttl)
    return Token(access_token=token, expires_in=ttl)


def client_address(request: Request) -> str:
    """The caller's address in one canonical spelling, for the limits' keys.

    uvicorn puts the proxy's `X-Forwarded-For` here when the peer is a trusted proxy; whatever
    arrives, only a real IP address becomes a key (anything else would let a client pick keys).
    """
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "unknown"


async def _credentials(request: Request) -> tuple[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in FORM_TYPES:
            form = LoginForm.model_validate(dict(await request.form()))
            return form.username, form.password
        body = LoginJson.model_validate_json(await request.body())
    except ValidationError as exc:
        raise _as_request_error(exc) from exc
    return body.email, body.password


def _as_request_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
