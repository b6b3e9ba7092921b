"""`/healthz` and Prometheus `/metrics` of a long-running service, on the service's own loop.

The relay, the mailer and the scheduler each serve one port from here, with their own registry
and their own health check. It is `asyncio.start_server` and one parsed request line per
connection: all a container probe or a Prometheus scraper sends, with no web framework in a
worker and no thread beside the loop (so a stuck loop also stops answering: that is the point).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)

_REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Healthy or not, and what to tell the probe (served as JSON with 200 or 503)."""

    healthy: bool
    detail: dict[str, Any] = field(default_factory=dict)


type HealthCheck = Callable[[], HealthReport]


def service_registry() -> CollectorRegistry:
    """A process's own registry, with the standard process, platform and GC metrics in it."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def _response(path: bytes, registry: CollectorRegistry, check: HealthCheck) -> bytes:
    if path == b"/metrics":
        status, kind, body = HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(registry)
    elif path == b"/healthz":
        report = check()
        status = HTTPStatus.OK if report.healthy else HTTPStatus.SERVICE_UNAVAILABLE
        kind, body = "application/json", json.dumps(report.detail).encode()
    else:
        status, kind, body = HTTPStatus.NOT_FOUND, "text/plain", b"not found"
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def serve_service_http(
    *, host: str, port: int, registry: CollectorRegistry, health: HealthCheck
) -> asyncio.Server:
    """Start serving; close the returned server (and await `wait_closed`) to stop."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), timeout=_REQUEST_TIMEOUT_S
            )
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            writer.write(_response(path.split(b"?", 1)[0], registry, health))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a probe that hung up or sent garbage gets nothing
        finally:
            writer.close()

    return await asyncio.start_server(respond, host, port)


@asynccontextmanager
async def serving(
    *, host: str, port: int, registry: CollectorRegistry, health: HealthCheck
) -> AsyncIterator[asyncio.Server | None]:
    """Serve for the duration of the block; port 0 serves nothing (tests, or turned off)."""
    if not port:
        yield None
        return
    server = await serve_service_http(host=host, port=port, registry=registry, health=health)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()
