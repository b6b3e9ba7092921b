"""nginx in front of the app: headers, caching, compression, the /api/ proxy and its limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.browser.conftest import Account, Stack
from tests.browser.steps import bearer

pytestmark = pytest.mark.browser


@pytest.fixture
async def web(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.web_url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/js/app.js", "/no-such-file", "/api/tasks"])
async def test_every_response_carries_the_security_headers(
    web: httpx.AsyncClient, path: str
) -> None:
    response = await web.get(path)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_index_html_is_never_cached(web: httpx.AsyncClient) -> None:
    for path in ("/", "/index.html"):
        response = await web.get(path)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"].startswith("text/html")


async def test_assets_are_revalidated_with_their_etag(web: httpx.AsyncClient) -> None:
    first = await web.get("/css/app.css")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = await web.get("/css/app.css", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_scripts_are_served_as_javascript_and_compressed(web: httpx.AsyncClient) -> None:
    response = await web.get("/js/controller.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert "export class Controller" in response.text


async def test_the_api_is_proxied_under_api_with_the_prefix_stripped(
    web: httpx.AsyncClient, account: Account, api: httpx.AsyncClient
) -> None:
    assert (await web.get("/api/healthz")).json() == {"status": "ok"}
    unauthorised = await web.get("/api/tasks")
    assert unauthorised.status_code == 401
    assert unauthorised.headers["www-authenticate"] == "Bearer"
    # nginx adds no caching header of its own under /api/; the API's `no-store` passes through.
    assert unauthorised.headers["cache-control"] == "no-store"
    headers = await bearer(api, account)
    await web.post("/api/tasks", json={"title": "Through nginx"}, headers=headers)
    listed = await web.get("/api/tasks", headers=headers)
    assert [task["title"] for task in listed.json()] == ["Through nginx"]
    assert listed.headers["x-total-count"] == "1"


async def test_an_oversized_body_is_refused_before_it_reaches_the_api(
    web: httpx.AsyncClient,
) -> None:
    response = await web.post(
        "/api/tasks", content=b"x" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
