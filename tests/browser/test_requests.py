"""What the client asks the API: one request per screen, and only the latest answer counts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Route, expect

from tests.browser.conftest import Account
from tests.browser.steps import add_task, bearer, log_in, titles

pytestmark = pytest.mark.browser


def is_list(request: Request) -> bool:
    return request.method == "GET" and "/api/tasks?" in request.url


async def seed(api: httpx.AsyncClient, account: Account, *, open_: int, done: int) -> None:
    """`open_` open and `done` done tasks, made behind the browser's back."""
    headers = await bearer(api, account)
    for number in range(open_ + done):
        created = await api.post("/tasks", json={"title": f"Task {number}"}, headers=headers)
        created.raise_for_status()
        if number >= open_:
            changed = await api.patch(
                f"/tasks/{created.json()['id']}", json={"done": True}, headers=headers
            )
            changed.raise_for_status()


class Held:
    """Requests held back by a route until `release()`, as a slow network would."""

    def __init__(self, answered: list[str] | None = None) -> None:
        self.released = asyncio.Event()
        self.finished = asyncio.Event()
        self.answered = answered if answered is not None else []

    async def handle(self, route: Route) -> None:
        await self.released.wait()
        try:
            response = await route.fetch()
            self.answered.append(f"{route.request.method} answered")
            await route.fulfill(response=response)
        except PlaywrightError:
            pass  # the page cancelled it meanwhile: nothing is waiting for the answer
        finally:
            self.finished.set()

    def release(self) -> None:
        self.released.set()


async def test_each_screen_asks_for_its_tasks_once_and_gets_both_counts(
    page: Page, account: Account, api: httpx.AsyncClient
) -> None:
    await seed(api, account, open_=3, done=2)
    lists: list[str] = []
    page.on("request", lambda request: lists.append(request.url) if is_list(request) else None)

    await log_in(page, account.email, account.password)
    await expect(titles(page)).to_have_count(5)
    screens = [("Active", 3), ("Done", 2), ("All", 5)]
    for link, shown in screens:
        await page.get_by_role("link", name=link).click()
        await expect(page.get_by_role("link", name=link)).to_have_attribute("aria-current", "page")
        await expect(titles(page)).to_have_count(shown)
        await expect(page.locator("#count-active")).to_have_text("3")
        await expect(page.locator("#count-done")).to_have_text("2")

    assert [url.split("?", 1)[1] for url in lists] == [
        "limit=50&offset=0",
        "limit=50&offset=0&done=false",
        "limit=50&offset=0&done=true",
        "limit=50&offset=0",
    ]


async def test_a_screen_opened_on_a_filter_shows_the_counts_of_all_tasks(
    page: Page, account: Account, api: httpx.AsyncClient
) -> None:
    await seed(api, account, open_=2, done=1)
    await page.goto("/#/done")
    await log_in(page, account.email, account.password)

    await expect(titles(page)).to_have_text(["Task 2"])
    await expect(page.locator("#count-active")).to_have_text("2")
    await expect(page.locator("#count-done")).to_have_text("1")


async def test_leaving_a_filter_before_its_answer_cancels_that_request(
    page: Page, account: Account, api: httpx.AsyncClient
) -> None:
    await seed(api, account, open_=1, done=1)
    await log_in(page, account.email, account.password)
    await expect(titles(page)).to_have_count(2)
    held = Held()
    await page.route(lambda url: "done=true" in url, held.handle)
    async with page.expect_request(lambda request: "done=true" in request.url) as asked:
        await page.get_by_role("link", name="Done").click()
    stale = await asked.value
    async with page.expect_event("requestfailed", lambda request: request is stale):
        await page.get_by_role("link", name="Active").click()
    await expect(titles(page)).to_have_text(["Task 0"])
    held.release()
    await held.finished.wait()

    await expect(page.get_by_role("link", name="Active")).to_have_attribute("aria-current", "page")
    await expect(titles(page)).to_have_text(["Task 0"])


async def test_a_new_screen_waits_for_a_change_in_flight_so_the_page_includes_it(
    page: Page, account: Account
) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "Pay rent")
    events: list[str] = []
    held = Held(events)
    await page.route(lambda url: "/api/tasks/" in url, held.handle)
    page.on("request", lambda request: events.append("list asked") if is_list(request) else None)

    async with page.expect_request(lambda request: request.method == "PATCH"):
        await page.get_by_role("checkbox", name="Complete Pay rent").check()
    await page.get_by_role("link", name="Done").click()
    async with page.expect_response(lambda response: is_list(response.request)):
        held.release()

    await expect(titles(page)).to_have_text(["Pay rent"])
    await expect(page.locator("#count-done")).to_have_text("1")
    assert events == ["PATCH answered", "list asked"]
