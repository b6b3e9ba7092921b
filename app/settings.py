"""Settings of the HTTP API (the other services' classes live beside their code)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from app.core.settings import MIN_SECRET_LENGTH, AppEnv
from app.preference_settings import PreferenceSettings

#: The development default of earlier versions, published in this repository: refused everywhere.
DEV_JWT_SECRET = "development-only-secret-change-me-please-32b"  # noqa: S105 - refused, never used


def _random_secret() -> str:
    return secrets.token_urlsafe(48)


class ApiSettings(PreferenceSettings):
    """The HTTP API (`python -m app`, `app.main:app`)."""

    jwt_secret: Annotated[
        str,
        Field(
            default_factory=_random_secret,
            description="HS256 key, at least 32 characters; required in production. Unset or "
            "empty in development: a random key made at start (tokens end at a restart)",
        ),
    ]
    jwt_ttl_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    api_workers: Annotated[int, Field(ge=1, le=64)] = 1
    api_root_path: Annotated[
        str, Field(description="Path prefix a proxy strips, e.g. /api, so /docs finds its schema")
    ] = ""
    api_forwarded_allow_ips: Annotated[
        str,
        Field(description="Proxies trusted for X-Forwarded-For (the client address for limits)"),
    ] = "127.0.0.1"
    api_graceful_shutdown_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    argon2_memory_kib: Annotated[
        int, Field(ge=8 * 1024, description="argon2id memory cost; see docs/decisions/0003")
    ] = 19 * 1024
    argon2_time_cost: Annotated[int, Field(ge=1, description="argon2id iterations")] = 2
    argon2_parallelism: Annotated[int, Field(ge=1, description="argon2id lanes")] = 1
    login_max_failures: Annotated[
        int, Field(ge=1, description="Failed logins per email within the window before 429")
    ] = 5
    login_max_failures_per_client: Annotated[
        int, Field(ge=1, description="Failed logins per client address within the window")
    ] = 50
    login_failure_window_seconds: Annotated[int, Field(ge=1)] = 300
    register_max_per_client: Annotated[
        int, Field(ge=1, description="Registrations per client address within the window")
    ] = 10
    register_max_total: Annotated[
        int,
        Field(ge=1, description="Registrations from everyone together within the window"),
    ] = 1000
    register_window_seconds: Annotated[int, Field(ge=1)] = 3600
    api_max_body_bytes: Annotated[
        int, Field(ge=1024, description="Largest request body the API reads; larger is a 413")
    ] = 64 * 1024
    api_max_webhook_body_bytes: Annotated[
        int,
        Field(
            ge=1024,
            description="Largest body of a mail provider's callback (/webhooks/...): Mailjet "
            "groups many events into one request",
        ),
    ] = 1024 * 1024
    api_max_header_bytes: Annotated[
        int,
        Field(
            ge=4096,
            description="Largest request headers the API takes; larger is a 431 (nginx, in "
            "front, refuses a header over 8 KiB itself)",
        ),
    ] = 16 * 1024
    api_docs_enabled: Annotated[
        bool, Field(description="Serve /docs, /redoc and /openapi.json (production may say no)")
    ] = True
    db_pool_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=60,
            description="How long a request waits for a pooled connection before a 503",
        ),
    ] = 3.0
    cors_origins: Annotated[
        list[str],
        Field(
            default_factory=list,
            description="Origins allowed cross-origin; empty (default) = CORS off",
        ),
    ]

    @model_validator(mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, data: Any) -> Any:
        # Compose passes `JWT_SECRET: ${JWT_SECRET:-}`: empty means "not configured".
        if isinstance(data, dict) and data.get("jwt_secret") == "":
            return {k: v for k, v in data.items() if k != "jwt_secret"}
        return data

    @property
    def jwt_secret_generated(self) -> bool:
        """True when no secret was configured and this process made its own."""
        return "jwt_secret" not in self.model_fields_set

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Self:
        if self.jwt_secret == DEV_JWT_SECRET:
            msg = "JWT_SECRET is the published development value; set a random one (or none)"
            raise ValueError(msg)
        if self.app_env is AppEnv.DEVELOPMENT:
            return self
        if self.jwt_secret_generated or len(self.jwt_secret) < MIN_SECRET_LENGTH:
            msg = (
                f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters when APP_ENV is not 'development'"
            )
            raise ValueError(msg)
        return self
