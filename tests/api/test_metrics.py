"""GET /metrics: requests by route template and status class, latency; labels stay bounded."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Account

pytestmark = pytest.mark.api


async def samples(client: AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def requests(found: dict[tuple[str, frozenset[tuple[str, str]]], float], **labels: str) -> float:
    return found.get(("api_requests_total", frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status_class(
    client: AsyncClient, alice: Account
) -> None:
    before = await samples(client)
    created = await client.post("/tasks", json={"title": "Count me"}, headers=alice.headers)
    assert created.status_code == 201
    task = created.json()["id"]
    for done in (True, False):
        await client.patch(f"/tasks/{task}", json={"done": done}, headers=alice.headers)
    await client.patch(f"/tasks/{uuid.uuid4()}", json={"done": True}, headers=alice.headers)
    after = await samples(client)

    def grew(**labels: str) -> float:
        return requests(after, **labels) - requests(before, **labels)

    assert grew(method="POST", route="/tasks", status="2xx") == 1
    assert grew(method="PATCH", route="/tasks/{task_id}", status="2xx") == 2
    assert grew(method="PATCH", route="/tasks/{task_id}", status="4xx") == 1
    count = (
        "api_request_duration_seconds_count",
        frozenset({("method", "POST"), ("route", "/tasks")}),
    )
    assert after[count] - before.get(count, 0.0) == 1


async def test_unknown_paths_and_methods_never_make_new_series(client: AsyncClient) -> None:
    for n in range(5):
        await client.get(f"/scanner-{n}-{uuid.uuid4()}")
        await client.request("BREW", f"/pot-{n}")
    found = await samples(client)
    routes = {dict(labels)["route"] for name, labels in found if name == "api_requests_total"}
    methods = {dict(labels)["method"] for name, labels in found if name == "api_requests_total"}

    assert not any("scanner" in route or "pot" in route for route in routes)
    assert requests(found, method="GET", route="unmatched", status="4xx") >= 5
    assert "BREW" not in methods
