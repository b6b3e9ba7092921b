"""The health endpoint: 200 while the loop polls, 503 when it stalls, metrics beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from mailer.health import serve_health
from mailer.metrics import MailerMetrics

pytestmark = pytest.mark.unit


class Switch:
    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> bool:
        return self.on


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, Switch, MailerMetrics]]:
    metrics, healthy = MailerMetrics(CollectorRegistry()), Switch()
    server = await serve_health(
        host="127.0.0.1", port=0, registry=metrics.registry, healthy=healthy
    )
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", healthy, metrics
    server.close()
    await server.wait_closed()


async def test_healthz_follows_the_loop(endpoint: tuple[str, Switch, MailerMetrics]) -> None:
    base, healthy, _ = endpoint
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).status_code == 200
        healthy.on = False
        assert (await client.get("/healthz")).status_code == 503
        assert (await client.get("/nope")).status_code == 404


async def test_metrics_are_exposed_for_prometheus(
    endpoint: tuple[str, Switch, MailerMetrics],
) -> None:
    base, _, metrics = endpoint
    metrics.messages.labels("sent").inc(3)
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'mailer_messages_total{outcome="sent"} 3.0' in response.text
