"""ASGI entry point: `uvicorn app.main:app`."""

from __future__ import annotations

from app.api.main import create_app
from app.logging import configure_logging
from app.settings import ApiSettings

settings = ApiSettings()
configure_logging(settings, service="api")
app = create_app(settings)

__all__ = ["app"]
