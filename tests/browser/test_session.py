"""The token's life: an expired or rejected token sends the user back to log in, with a reason."""

from __future__ import annotations

import time

import jwt
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Account, Stack
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

EXPIRED = "Your session has expired. Please log in again."


def token(account: Account, *, secret: str, lifetime: int) -> str:
    now = int(time.time())
    claims = {"sub": account.id, "iat": now - 10, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


async def open_with_token(page: Page, account: Account, value: str) -> None:
    await page.evaluate(
        "([token, email]) => { localStorage.setItem('eventful-todo.token', token);"
        " localStorage.setItem('eventful-todo.email', email); }",
        [value, account.email],
    )
    await page.reload()


async def test_an_expired_token_opens_the_login_screen_with_the_reason(
    page: Page, account: Account, stack: Stack
) -> None:
    await open_with_token(page, account, token(account, secret=stack.jwt_secret, lifetime=-60))
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.locator("#auth-info")).to_have_text(EXPIRED)
    await expect(page.get_by_label("Email")).to_have_value(account.email)
    await expect(page.get_by_label("Password")).to_be_focused()
    await log_in(page, account.email, account.password)


async def test_a_token_the_api_rejects_returns_to_the_login_screen(
    page: Page, account: Account
) -> None:
    forged = token(account, secret="not-the-server-secret-" + "x" * 40, lifetime=3600)
    await open_with_token(page, account, forged)
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.locator("#auth-info")).to_have_text(EXPIRED)
    stored = await page.evaluate("localStorage.getItem('eventful-todo.token')")
    assert stored is None


async def test_a_token_that_expires_while_the_page_is_open_logs_the_user_out(
    page: Page, account: Account, stack: Stack
) -> None:
    await open_with_token(page, account, token(account, secret=stack.jwt_secret, lifetime=6))
    await expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    await expect(page.locator("#auth-info")).to_have_text(EXPIRED, timeout=20_000)
    await expect(page.get_by_role("heading", name="My tasks")).to_be_hidden()
