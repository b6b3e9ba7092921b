"""Digest settings in the web client, and the unsubscribe page, in Chromium."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import expect

from app.core.unsubscribe import DEV_UNSUBSCRIBE_SECRET, make_token
from tests.browser.conftest import PASSWORD, Account, Browsing, BrowsingFactory
from tests.browser.steps import bearer, log_in, register

pytestmark = pytest.mark.browser


async def me(api: httpx.AsyncClient, account: Account) -> dict[str, object]:
    response = await api.get("/me", headers=await bearer(api, account))
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


async def test_registering_sends_the_browsers_zone_and_the_panel_shows_it(
    new_browsing: BrowsingFactory, api: httpx.AsyncClient
) -> None:
    browsing = await new_browsing(timezone_id="Asia/Tokyo")
    page = browsing.page
    email = f"zone-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto("/")

    await register(page, email, PASSWORD)

    await expect(page.get_by_role("heading", name="Daily digest")).to_be_visible()
    await expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    await expect(page.get_by_label("Send me the daily digest at midnight")).to_be_checked()
    account = Account("", email, PASSWORD)
    assert (await me(api, account))["timezone"] == "Asia/Tokyo"
    assert browsing.log.errors == []


async def test_a_user_changes_the_zone_and_switches_the_digest_off_and_on(
    browsing: Browsing, api: httpx.AsyncClient, account: Account
) -> None:
    page = browsing.page
    await page.goto("/")
    await log_in(page, account.email, account.password)
    zone = page.get_by_label("Time zone")
    digest = page.get_by_label("Send me the daily digest at midnight")
    await expect(zone).to_have_value("UTC")

    await zone.select_option("Pacific/Kiritimati")
    await digest.uncheck()
    await page.get_by_role("button", name="Update digest settings").click()

    await expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text(
        "Saved. You will not receive the daily digest."
    )
    stored = await me(api, account)
    assert (stored["timezone"], stored["digest_enabled"]) == ("Pacific/Kiritimati", False)

    await page.reload()
    await expect(zone).to_have_value("Pacific/Kiritimati")
    await expect(digest).not_to_be_checked()
    await digest.check()
    await page.get_by_role("button", name="Update digest settings").click()
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text(
        "Saved. Your digest arrives at midnight in Pacific/Kiritimati."
    )
    assert (await me(api, account))["digest_enabled"] is True
    assert browsing.log.errors == []


async def test_the_panel_offers_the_browsers_zone_when_the_stored_one_differs(
    new_browsing: BrowsingFactory, account: Account
) -> None:
    browsing = await new_browsing(timezone_id="America/Santiago")
    page = browsing.page
    await page.goto("/")
    await log_in(page, account.email, account.password)
    zone = page.get_by_label("Time zone")
    await expect(zone).to_have_value("UTC")

    await page.get_by_role("button", name="Use this browser's zone (America/Santiago)").click()

    await expect(zone).to_have_value("America/Santiago")
    await expect(zone).to_be_focused()
    await expect(
        page.get_by_text("Your digest arrives at midnight in America/Santiago.")
    ).to_be_visible()


async def test_the_panel_goes_away_on_log_out(browsing: Browsing, account: Account) -> None:
    page = browsing.page
    await page.goto("/")
    await log_in(page, account.email, account.password)
    await expect(page.get_by_role("heading", name="Daily digest")).to_be_visible()

    await page.get_by_role("button", name="Log out").click()

    await expect(page.get_by_role("heading", name="Daily digest")).to_be_hidden()


async def test_the_unsubscribe_page_works_without_javascript_or_a_login_and_settings_undo_it(
    new_browsing: BrowsingFactory, api: httpx.AsyncClient, account: Account
) -> None:
    token = make_token(uuid.UUID(account.id), secret=DEV_UNSUBSCRIBE_SECRET)
    no_script = await new_browsing(java_script_enabled=False)
    page = no_script.page

    await page.goto(f"/api/unsubscribe/{token}")
    await expect(
        page.get_by_role("heading", name="Unsubscribe from the daily digest")
    ).to_be_visible()
    assert (await me(api, account))["digest_enabled"] is True  # the GET changed nothing
    await page.get_by_role("button", name="Unsubscribe").click()

    await expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert (await me(api, account))["digest_enabled"] is False
    assert no_script.log.csp_violations() == []

    app = await new_browsing()
    await app.page.goto("/")
    await log_in(app.page, account.email, account.password)
    digest = app.page.get_by_label("Send me the daily digest at midnight")
    await expect(digest).not_to_be_checked()
    await digest.check()
    await app.page.get_by_role("button", name="Update digest settings").click()
    await expect(app.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    assert (await me(api, account))["digest_enabled"] is True
