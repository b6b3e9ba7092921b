"""The FastAPI application factory: one composition root for the HTTP process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.errors import install_error_handlers
from app.api.middleware import REQUEST_ID_HEADER, RequestIdMiddleware
from app.api.openapi import install_openapi
from app.api.routes import auth, health, tasks
from app.api.state import AppState
from app.core.db import make_engine, make_session_factory
from app.ratelimit import LoginRateLimiter
from app.security import Passwords
from app.settings import ApiSettings


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
        )
        # One-statement writes (`POST /tasks`) get connections that stay in autocommit: no
        # isolation switch on checkout and no rollback on return (decision 0008).
        autocommit = make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=False,
            autocommit=True,
        )
        passwords = Passwords.from_settings(settings)
        app.state.api = AppState(
            settings=settings,
            engine=engine,
            autocommit=autocommit,
            session_factory=make_session_factory(engine),
            passwords=passwords,
            limiter=LoginRateLimiter.from_settings(settings),
        )
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
    )
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(auth.router)
    app.include_router(tasks.router)
    app.include_router(health.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=["X-Total-Count", "X-Open-Count", "X-Done-Count", REQUEST_ID_HEADER],
        )
    app.add_middleware(RequestIdMiddleware)
    return app
