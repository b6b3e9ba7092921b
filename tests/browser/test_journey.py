"""A person's whole visit: register, log in, manage tasks, reload, log out."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PASSWORD, Account, Browsing
from tests.browser.steps import (
    add_task,
    bearer,
    log_in,
    register,
    task_list,
    titles,
    token_in_storage,
)

pytestmark = pytest.mark.browser


async def test_a_new_user_registers_manages_tasks_and_finds_them_after_a_reload(
    browsing: Browsing,
) -> None:
    page = browsing.page
    email = f"journey-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto("/")
    await register(page, email, PASSWORD)
    await expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await log_in(page, email, PASSWORD)

    await add_task(page, "Buy milk")
    await page.get_by_label("New task").fill("Call mum")
    await page.get_by_role("button", name="Add task").click()
    await add_task(page, "Water the plants")
    await expect(titles(page)).to_have_text(["Buy milk", "Call mum", "Water the plants"])

    await page.get_by_role("button", name="Rename Call mum").click()
    editor = page.get_by_label("New title for Call mum")
    await expect(editor).to_be_focused()
    await editor.fill("Call mum back")
    await editor.press("Enter")
    await expect(page.get_by_role("button", name="Rename Call mum back")).to_be_focused()

    await task_list(page).get_by_text("Water the plants", exact=True).dblclick()
    await page.get_by_label("New title for Water the plants").fill("Something else")
    await page.get_by_label("New title for Water the plants").press("Escape")
    await expect(titles(page)).to_have_text(["Buy milk", "Call mum back", "Water the plants"])

    await page.get_by_role("checkbox", name="Complete Buy milk").check()
    await expect(page.locator("#count-active")).to_have_text("2")
    await expect(page.locator("#count-done")).to_have_text("1")

    await page.get_by_role("link", name="Active").click()
    await expect(page).to_have_url(re.compile(r"#/active$"))
    await expect(titles(page)).to_have_text(["Call mum back", "Water the plants"])
    await expect(page.get_by_role("link", name="Active")).to_have_attribute("aria-current", "page")
    await page.goto("/#/done")
    await expect(titles(page)).to_have_text(["Buy milk"])
    await page.go_back()
    await expect(titles(page)).to_have_text(["Call mum back", "Water the plants"])

    await page.get_by_role("link", name="All").click()
    await expect(titles(page)).to_have_count(3)
    # The list changes at once; the reload must not overtake the DELETE on its way.
    async with page.expect_response(lambda response: response.request.method == "DELETE"):
        await page.get_by_role("button", name="Delete Water the plants").click()
    await expect(titles(page)).to_have_text(["Buy milk", "Call mum back"])

    await page.reload()
    await expect(titles(page)).to_have_text(["Buy milk", "Call mum back"])
    await expect(page.get_by_role("checkbox", name="Complete Buy milk")).to_be_checked()
    await expect(page.get_by_role("checkbox", name="Complete Call mum back")).not_to_be_checked()
    await expect(page.locator("#account-email")).to_have_text(email)

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert await token_in_storage(page) is None
    await page.reload()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert browsing.log.errors == []


async def test_completing_then_reopening_a_task_moves_it_between_filters(
    page: Page, account: Account
) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "Pay rent")
    toggle = page.get_by_role("checkbox", name="Complete Pay rent")
    await toggle.check()
    await page.goto("/#/done")
    await expect(titles(page)).to_have_text(["Pay rent"])
    # Reopened, it leaves this filter at once (so click: there is no checkbox left to verify).
    await page.get_by_role("checkbox", name="Complete Pay rent").click()
    await expect(titles(page)).to_have_count(0)
    await expect(page.get_by_text("Nothing finished yet")).to_be_visible()
    await page.goto("/#/active")
    await expect(titles(page)).to_have_text(["Pay rent"])
    await page.reload()
    await expect(page.get_by_role("checkbox", name="Complete Pay rent")).not_to_be_checked()


async def test_load_more_brings_the_next_page_without_duplicates(
    page: Page, account: Account, api: httpx.AsyncClient
) -> None:
    headers = await bearer(api, account)
    for number in range(1, 56):
        response = await api.post("/tasks", json={"title": f"Task {number:02d}"}, headers=headers)
        response.raise_for_status()

    await log_in(page, account.email, account.password)
    await expect(titles(page)).to_have_count(50)
    await expect(page.locator("#count-active")).to_have_text("55")
    await add_task(page, "Added while paging")
    await page.get_by_role("button", name="Load more").click()
    expected = [f"Task {n:02d}" for n in range(1, 56)] + ["Added while paging"]
    await expect(titles(page)).to_have_text(expected)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
