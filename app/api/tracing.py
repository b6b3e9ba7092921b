"""The API's request spans: the FastAPI instrumentation, installed only when tracing is on."""

from __future__ import annotations

from fastapi import FastAPI

from app.core.tracing import configure_tracing, tracer_provider
from app.settings import ApiSettings

#: Probes would be most of the traces and tell nothing about a change.
EXCLUDED_URLS = "healthz,readyz"


def install_tracing(app: FastAPI, settings: ApiSettings) -> None:
    """Trace every request (a server span, current while the route runs) if tracing is on."""
    if not configure_tracing(settings, service="api"):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider(),
        excluded_urls=EXCLUDED_URLS,
        # One span per request: the ASGI receive and send events would triple the span count.
        exclude_spans=["receive", "send"],
    )
