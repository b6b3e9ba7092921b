"""The services' HTTP endpoint: /healthz follows the check, /metrics serves the registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from app.core.service_http import HealthReport, serve_service_http, service_registry

pytestmark = pytest.mark.unit


class Switch:
    """A health check a test turns on and off."""

    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> HealthReport:
        return HealthReport(self.on, {"status": "ok" if self.on else "stalled"})


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, Switch, CollectorRegistry]]:
    registry, healthy = CollectorRegistry(), Switch()
    server = await serve_service_http(host="127.0.0.1", port=0, registry=registry, health=healthy)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", healthy, registry
    server.close()
    await server.wait_closed()


async def test_healthz_follows_the_check_and_says_why(
    endpoint: tuple[str, Switch, CollectorRegistry],
) -> None:
    base, healthy, _ = endpoint
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        healthy.on = False
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "stalled"})
        assert (await client.get("/nope")).status_code == 404


async def test_metrics_are_the_injected_registry_in_prometheus_format(
    endpoint: tuple[str, Switch, CollectorRegistry],
) -> None:
    base, _, registry = endpoint
    Counter("service_things", "Things", ["kind"], registry=registry).labels("sent").inc(3)
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/metrics?format=text")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'service_things_total{kind="sent"} 3.0' in response.text


def test_a_service_registry_carries_the_process_metrics_and_nothing_of_other_registries() -> None:
    names = {metric.name for metric in service_registry().collect()}
    assert {"process_resident_memory_bytes", "python_info"} <= names
    assert not any(name.startswith(("relay_", "mailer_", "scheduler_")) for name in names)
