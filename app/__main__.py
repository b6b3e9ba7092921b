"""`python -m app`: serve the API with uvicorn (host, port and workers from the environment)."""

from __future__ import annotations

import uvicorn

from app.core.logging import configure_logging
from app.settings import ApiSettings


def main() -> None:
    settings = ApiSettings()
    configure_logging(settings, service="api")
    # An import string, so each of several workers builds its own app (and its own pool).
    uvicorn.run(
        "app.main:app",
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        root_path=settings.api_root_path,
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
        timeout_graceful_shutdown=settings.api_graceful_shutdown_seconds,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
