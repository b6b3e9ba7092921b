"""`python -m app`: serve the API with uvicorn (host, port and workers from the environment)."""

from __future__ import annotations

import contextlib
import os
import tempfile

import structlog
import uvicorn

from app.api.metrics import MULTIPROC_ENV
from app.core.logging import configure_logging
from app.settings import ApiSettings


def main() -> None:
    settings = ApiSettings()
    configure_logging(settings, service="api")
    if settings.jwt_secret_generated:
        # Every worker builds its own settings: they must share the one random key.
        os.environ["JWT_SECRET"] = settings.jwt_secret
        structlog.get_logger(__name__).warning(
            "jwt_secret_generated", detail="JWT_SECRET unset: a random key, tokens end at restart"
        )
    with contextlib.ExitStack() as cleanup:
        if settings.api_workers > 1 and not os.environ.get(MULTIPROC_ENV):
            # Each worker counts into files here; GET /metrics in any worker adds them all up.
            metrics_dir = cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="eventful-todo-api-metrics-")
            )
            os.environ[MULTIPROC_ENV] = metrics_dir
        serve(settings)


def serve(settings: ApiSettings) -> None:
    """uvicorn with the app's import string, so each worker builds its own app and pool."""
    uvicorn.run(
        "app.main:app",
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        root_path=settings.api_root_path,
        # httptools, not h11: h11 bounds what it buffers but parses in Python, about 20 % fewer
        # requests a second here. nginx bounds headers before they reach the API (8 KiB
        # buffers); direct to the API, app.api.guards answers 431 above API_MAX_HEADER_BYTES.
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
        timeout_graceful_shutdown=settings.api_graceful_shutdown_seconds,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
