"""Names, labels, announcements and an axe-core scan, in the light and the dark scheme."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import Account, BrowsingFactory
from tests.browser.steps import add_task, log_in

pytestmark = pytest.mark.browser


Scheme = Literal["light", "dark"]
SERIOUS = {"serious", "critical"}


async def axe_problems(page: Page) -> list[str]:
    """The serious and critical axe-core (WCAG 2.x A/AA) violations on the page as it is now."""
    options = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
    }
    results: dict[str, Any] = (await Axe().run(page, options=options)).response
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]


async def test_each_task_control_is_named_after_what_it_does_and_its_task(
    page: Page, account: Account
) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "buy milk")
    row = page.get_by_role("listitem").filter(has_text="buy milk")
    await expect(row).to_match_aria_snapshot(
        """
        - listitem:
          - checkbox "Complete buy milk"
          - text: buy milk
          - button "Rename buy milk"
          - button "Delete buy milk"
        """
    )
    await page.get_by_role("button", name="Rename buy milk").click()
    await expect(page.get_by_role("textbox", name="New title for buy milk")).to_be_focused()
    await expect(row.get_by_role("button", name="Save")).to_be_visible()
    await expect(row.get_by_role("button", name="Cancel")).to_be_visible()


async def test_every_input_on_every_screen_has_a_label(page: Page, account: Account) -> None:
    unlabeled = (
        "[...document.querySelectorAll('input')].filter(i => !i.labels.length).map(i => i.id)"
    )
    assert await page.evaluate(unlabeled) == []
    await log_in(page, account.email, account.password)
    await add_task(page, "Label me")
    await page.get_by_role("button", name="Rename Label me").click()
    # Checkboxes are named by aria-label (the title is beside them, not in a <label>).
    named = "[...document.querySelectorAll('input')].filter(i => !i.labels.length && !i.ariaLabel)"
    assert await page.evaluate(f"{named}.map(i => i.outerHTML)") == []


async def test_changes_are_announced_in_a_polite_live_region(page: Page, account: Account) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "Say it out loud")
    live = page.locator("#announcer")
    await expect(live).to_have_attribute("aria-live", "polite")
    await expect(live).to_have_text("Added “Say it out loud”.")
    await page.get_by_role("checkbox", name="Complete Say it out loud").check()
    await expect(live).to_have_text("Completed “Say it out loud”.")
    await page.get_by_role("button", name="Delete Say it out loud").click()
    await expect(live).to_have_text("Deleted “Say it out loud”.")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_no_serious_violations_on_any_screen(
    new_browsing: BrowsingFactory, account: Account, scheme: Scheme
) -> None:
    browsing = await new_browsing(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = browsing.page
    await page.goto("/")
    assert await axe_problems(page) == [], "log-in screen"

    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Email").fill("not-an-email")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    assert await axe_problems(page) == [], "registration form with an error"

    await page.get_by_role("button", name="Log in").click()
    await log_in(page, account.email, account.password)
    await add_task(page, "An open task")
    await add_task(page, "A finished task")
    await page.get_by_role("checkbox", name="Complete A finished task").check()
    await page.get_by_role("button", name="Rename An open task").click()
    assert await axe_problems(page) == [], "task list with an open editor"

    await browsing.context.set_offline(True)
    await page.get_by_role("checkbox", name="Complete A finished task").click()
    await expect(page.locator("#task-error")).to_be_visible()
    await browsing.context.set_offline(False)
    assert await axe_problems(page) == [], "task list with an error message"
