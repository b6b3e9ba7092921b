"""ASGI entry point: `uvicorn app.main:app`. Imported only by processes that serve the API."""

from __future__ import annotations

from app.api.main import create_app
from app.core.logging import configure_logging
from app.core.process import tune_gc
from app.settings import ApiSettings

settings = ApiSettings()
configure_logging(settings, service="api")
app = create_app(settings)

# Everything imported so far lives as long as the process (decision 0008).
tune_gc()

__all__ = ["app"]
