"""What one running API process holds: settings and the adapters built from them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.ratelimit import LoginRateLimiter, RegistrationRateLimiter
from app.security import Passwords
from app.settings import ApiSettings


@dataclass(frozen=True, slots=True)
class AppState:
    settings: ApiSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    passwords: Passwords
    limiter: LoginRateLimiter
    registrations: RegistrationRateLimiter
    #: A pool of its own whose connections stay in autocommit: one-statement writes and reads.
    autocommit: AsyncEngine
