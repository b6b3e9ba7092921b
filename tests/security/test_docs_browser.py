"""The API docs work in Chromium under nginx's Content-Security-Policy, with assets from the API."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request

from tests.browser.conftest import browser  # noqa: F401 - the session's Chromium
from tests.security.conftest import Production

pytestmark = pytest.mark.security


async def _open(chromium: Browser, url: str) -> tuple[list[str], list[str], BrowserContext, Page]:
    context = await chromium.new_context()
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    hosts: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

    def on_request(request: Request) -> None:
        # What runs or styles the page; ReDoc's footer logo (an image the CSP blocks) aside.
        if request.resource_type != "image":
            hosts.append(request.url.split("/")[2])

    page.on("request", on_request)
    await page.goto(url)
    return errors, hosts, context, page


async def test_swagger_ui_renders_every_operation_under_the_csp(
    browser: Browser,  # noqa: F811
    production: Production,
) -> None:
    errors, hosts, context, page = await _open(browser, f"{production.web_url}/api/docs")
    try:
        await page.locator(".opblock").first.wait_for()
        operations = await page.locator(".opblock").count()
        title = await page.locator(".info .title").inner_text()
    finally:
        await context.close()

    assert operations == 13  # tasks, auth, health, /me, unsubscribe, the Mailjet webhook
    assert "Eventful TODO API" in title
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    assert set(hosts) == {production.web_url.split("/")[2]}  # no CDN


async def test_redoc_loads_its_script_from_the_api_under_the_csp(
    browser: Browser,  # noqa: F811
    production: Production,
) -> None:
    errors, hosts, context, page = await _open(browser, f"{production.web_url}/api/redoc")
    try:
        await page.wait_for_function("typeof window.Redoc !== 'undefined'")
        await page.get_by_text("Exchange email and password").first.wait_for()
    finally:
        await context.close()

    # Its footer's logo from the vendor's CDN is blocked (img-src): cosmetic.
    assert [e for e in errors if "script-src" in e or "uncaught" in e] == []
    assert set(hosts) == {production.web_url.split("/")[2]}
