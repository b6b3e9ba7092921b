"""Settings of the HTTP API (the other services' classes live beside their code)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from app.core.settings import MIN_SECRET_LENGTH, AppEnv, CommonSettings

DEV_JWT_SECRET = "development-only-secret-change-me-please-32b"  # noqa: S105 - refused in production


class ApiSettings(CommonSettings):
    """The HTTP API (`python -m app`, `app.main:app`)."""

    jwt_secret: Annotated[str, Field(description="HS256 key; at least 32 characters")] = (
        DEV_JWT_SECRET
    )
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
    cors_origins: Annotated[
        list[str],
        Field(
            default_factory=list,
            description="Origins allowed cross-origin; empty (default) = CORS off",
        ),
    ]

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> Self:
        if self.app_env is AppEnv.DEVELOPMENT:
            return self
        if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < MIN_SECRET_LENGTH:
            msg = (
                f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters when APP_ENV is not 'development'"
            )
            raise ValueError(msg)
        return self
