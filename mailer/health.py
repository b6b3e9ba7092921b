"""A tiny HTTP endpoint of the mailer's own: `/healthz` (the loop is polling) and `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


async def serve_health(
    *, host: str, port: int, registry: CollectorRegistry, healthy: Callable[[], bool]
) -> asyncio.Server:
    """Answer one request per connection; enough for probes and a Prometheus scraper."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path == b"/metrics":
                status, kind, body = 200, CONTENT_TYPE_LATEST, generate_latest(registry)
            elif path == b"/healthz":
                ok = healthy()
                status, kind, body = (200 if ok else 503), "text/plain", b"ok" if ok else b"stalled"
            else:
                status, kind, body = 404, "text/plain", b"not found"
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a probe that hung up or sent garbage gets nothing
        finally:
            writer.close()

    return await asyncio.start_server(respond, host, port)
