"""The FastAPI application factory: one composition root for the HTTP process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.guards import NoStoreMiddleware, RequestLimitsMiddleware, UnexpectedErrorMiddleware
from app.api.middleware import REQUEST_ID_HEADER, RequestIdMiddleware
from app.api.openapi import install_openapi
from app.api.routes import auth, health, me, tasks, unsubscribe, webhooks
from app.api.state import AppState
from app.api.tracing import install_tracing
from app.core.db import make_engine, make_session_factory
from app.ratelimit import LoginRateLimiter, RegistrationRateLimiter
from app.security import Passwords
from app.settings import ApiSettings

log = structlog.get_logger(__name__)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the database engine lives from startup to shutdown (the lifespan)."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            # A ping per request is a round trip per request; a lost connection is a 503 instead.
            pre_ping=False,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        # One-statement writes (`POST /tasks`) get connections that stay in autocommit: no
        # isolation switch on checkout and no rollback on return (decision 0008).
        autocommit = make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=False,
            autocommit=True,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        passwords = Passwords.from_settings(settings)
        app.state.api = AppState(
            settings=settings,
            engine=engine,
            autocommit=autocommit,
            session_factory=make_session_factory(engine),
            passwords=passwords,
            limiter=LoginRateLimiter.from_settings(settings),
            registrations=RegistrationRateLimiter.from_settings(settings),
        )
        if settings.jwt_secret_generated:
            log.warning("jwt_secret_generated", detail="JWT_SECRET unset: tokens end at restart")
        try:
            yield
        finally:
            passwords.close()
            await autocommit.dispose()
            await engine.dispose()

    app = FastAPI(
        title="Eventful TODO API",
        version="0.1.0",
        summary="Tasks behind a bearer token; every change is announced through the outbox.",
        lifespan=lifespan,
        # A trailing-slash redirect's Location is built from the client's Host header; the API
        # has no use for it, so `/tasks/` is a plain 404 instead.
        redirect_slashes=False,
        # /docs and /redoc come from app.api.docs (packaged assets, no inline script).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
    )
    install_error_handlers(app)
    install_openapi(app)
    if settings.api_docs_enabled:
        install_docs(app)
    app.include_router(auth.router)
    app.include_router(tasks.router)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(unsubscribe.router)
    app.include_router(webhooks.router)
    # Innermost first: a bug's 500 and an oversized body's 413 still get `no-store` and the id.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_bytes=settings.api_max_body_bytes,
        max_header_bytes=settings.api_max_header_bytes,
        # uvicorn may pass the path with or without the proxy's prefix: both spellings.
        larger=tuple(
            (f"{prefix}/webhooks/", settings.api_max_webhook_body_bytes)
            for prefix in dict.fromkeys((settings.api_root_path.rstrip("/"), ""))
        ),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=["X-Total-Count", "X-Open-Count", "X-Done-Count", REQUEST_ID_HEADER],
        )
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_tracing(app, settings)  # outermost, so the request span covers every middleware
    return app
