"""Refusals and failures are explained in words, and optimistic changes roll back visibly."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LOGIN_MAX_FAILURES, PASSWORD, Account, Browsing
from tests.browser.steps import add_task, bearer, log_in, register, titles

pytestmark = pytest.mark.browser


async def test_registering_a_taken_email_with_another_password_says_wrong_password(
    page: Page, account: Account
) -> None:
    # The API answers a taken address like a new one (docs/decisions/0010); the login that
    # follows registration is what fails.
    await register(page, account.email, "not the owner's password")
    await expect(page.get_by_role("alert").first).to_have_text("Wrong email or password.")
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()


async def test_a_short_password_is_pointed_out_at_its_field(page: Page) -> None:
    await register(page, f"short-{uuid.uuid4().hex[:8]}@example.com", "seven77")
    password = page.get_by_label("Password")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_be_focused()
    await expect(page.locator("#auth-password-error")).to_have_text(
        "Password: String should have at least 8 characters."
    )
    await expect(password).to_have_accessible_description(re.compile("at least 8 characters"))


async def test_an_invalid_email_is_pointed_out_at_its_field(page: Page) -> None:
    await register(page, "not-an-email", PASSWORD)
    await expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#auth-email-error")).to_contain_text("Email:")


async def test_repeated_wrong_passwords_are_told_how_long_to_wait(
    page: Page, account: Account
) -> None:
    for _ in range(LOGIN_MAX_FAILURES):
        await page.get_by_label("Email").fill(account.email)
        await page.get_by_label("Password").fill("wrong password")
        await page.get_by_role("button", name="Log in", exact=True).click()
        await expect(page.locator("#auth-error")).to_have_text("Wrong email or password.")
        await page.locator("#auth-error").evaluate("e => e.textContent = ''")
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page.locator("#auth-error")).to_have_text(
        re.compile(r"^Too many attempts\. Try again in \d+ (seconds|minutes)\.$")
    )


async def test_a_change_that_cannot_reach_the_server_is_undone_with_a_message(
    browsing: Browsing, account: Account
) -> None:
    page = browsing.page
    await page.goto("/")
    await log_in(page, account.email, account.password)
    await add_task(page, "Offline chores")
    await browsing.context.set_offline(True)
    await page.get_by_role("checkbox", name="Complete Offline chores").click()
    alert = page.locator("#task-error")
    await expect(alert).to_contain_text("Couldn't complete “Offline chores”.")
    await expect(alert).to_contain_text("Can't reach the server")
    await expect(alert).to_contain_text("The change was undone.")
    await expect(page.get_by_role("checkbox", name="Complete Offline chores")).not_to_be_checked()
    await expect(page.locator("#count-done")).to_have_text("0")

    await page.get_by_role("button", name="Delete Offline chores").click()
    await expect(alert).to_contain_text("Couldn't delete “Offline chores”.")
    await expect(titles(page)).to_have_text(["Offline chores"])

    await page.get_by_label("New task").fill("Never saved")
    await page.get_by_label("New task").press("Enter")
    await expect(alert).to_contain_text("Couldn't add “Never saved”.")
    await expect(titles(page)).to_have_text(["Offline chores"])
    await expect(page.get_by_label("New task")).to_have_value("Never saved")

    await browsing.context.set_offline(False)
    await page.get_by_role("button", name="Dismiss").click()
    await expect(alert).to_be_hidden()
    async with page.expect_response(lambda response: response.request.method == "PATCH"):
        await page.get_by_role("checkbox", name="Complete Offline chores").check()
    await page.reload()
    await expect(page.get_by_role("checkbox", name="Complete Offline chores")).to_be_checked()


async def test_renaming_a_task_deleted_elsewhere_explains_and_drops_it(
    page: Page, account: Account, api: httpx.AsyncClient
) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "Gone elsewhere")
    await add_task(page, "Still here")
    headers = await bearer(api, account)
    tasks = (await api.get("/tasks", headers=headers)).json()
    gone = next(task for task in tasks if task["title"] == "Gone elsewhere")
    assert (await api.delete(f"/tasks/{gone['id']}", headers=headers)).status_code == 204

    await page.get_by_role("button", name="Rename Gone elsewhere").click()
    await page.get_by_label("New title for Gone elsewhere").fill("Renamed too late")
    await page.keyboard.press("Enter")
    await expect(page.locator("#task-error")).to_contain_text("That task no longer exists.")
    await expect(titles(page)).to_have_text(["Still here"])
    await expect(page.locator("#count-active")).to_have_text("1")
