"""What a person does on the page, in the words the page uses (roles and accessible names)."""

from __future__ import annotations

import httpx
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Account


async def bearer(api: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Log `account` in straight at the API, as another device would."""
    response = await api.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def log_in(page: Page, email: str, password: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page.get_by_role("heading", name="My tasks")).to_be_visible()


async def register(page: Page, email: str, password: str) -> None:
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()


async def add_task(page: Page, title: str) -> None:
    new_title = page.get_by_label("New task")
    await new_title.fill(title)
    await new_title.press("Enter")
    await expect(page.get_by_role("checkbox", name=f"Complete {title}", exact=True)).to_be_enabled()


def task_list(page: Page) -> Locator:
    return page.get_by_role("list", name="My tasks")


def titles(page: Page) -> Locator:
    return task_list(page).locator(".task__title")


async def token_in_storage(page: Page) -> str | None:
    token: str | None = await page.evaluate("localStorage.getItem('eventful-todo.token')")
    return token
