"""ASGI entry point: `uvicorn app.main:app`. Imported only by processes that serve the API."""

from __future__ import annotations

import gc

from app.api.main import create_app
from app.core.logging import configure_logging
from app.settings import ApiSettings

#: Allocations between young-generation collections (CPython's default is 700). A request
#: allocates a few thousand short-lived objects, so the default collects several times per
#: request; measured in docs/decisions/0008.
GC_YOUNG_THRESHOLD = 20_000

settings = ApiSettings()
configure_logging(settings, service="api")
app = create_app(settings)

# Everything imported so far lives as long as the process: move it out of the collector's
# sight (`gc.freeze`), so the rare full collection walks only what requests left behind.
gc.collect()
gc.freeze()
gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 50)

__all__ = ["app"]
