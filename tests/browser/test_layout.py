"""The app on a 360 px phone and on a desktop, light and dark; screenshots are kept as artifacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Account, BrowsingFactory
from tests.browser.steps import add_task, log_in

pytestmark = pytest.mark.browser

SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}
LONG_WORD = "Supercalifragilisticexpialidocious" * 3


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 = no horizontal scrolling)."""
    overflow: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


async def page_lightness(page: Page) -> float:
    """The page background's mean channel value, 0 (black) to 1 (white)."""
    colour: str = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(part) for part in re.findall(r"\d+", colour)[:3]]
    return sum(channels) / (3 * 255)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
async def test_the_app_fits_the_screen_without_horizontal_scrolling(
    new_browsing: BrowsingFactory,
    account: Account,
    artifacts: Path,
    screen: Literal["desktop", "phone"],
    scheme: Literal["light", "dark"],
) -> None:
    browsing = await new_browsing(viewport=SCREENS[screen], color_scheme=scheme)
    page = browsing.page
    await page.goto("/")
    assert await horizontal_overflow(page) == 0, "log-in screen"
    assert (await page_lightness(page) > 0.5) == (scheme == "light"), "follows the colour scheme"
    await page.screenshot(path=artifacts / f"login-{screen}-{scheme}.png", animations="disabled")

    await log_in(page, account.email, account.password)
    for title in (
        "Buy oat milk",
        "Call the plumber about the kitchen tap",
        LONG_WORD,
        "Renew passport",
    ):
        await add_task(page, title)
    await page.get_by_role("checkbox", name="Complete Buy oat milk").check()
    await expect(page.locator("#count-done")).to_have_text("1")
    await page.evaluate("document.activeElement.blur()")
    assert await horizontal_overflow(page) == 0, "task list"
    await page.screenshot(
        path=artifacts / f"tasks-{screen}-{scheme}.png", full_page=True, animations="disabled"
    )

    await page.get_by_role("button", name=f"Rename {LONG_WORD}").click()
    assert await horizontal_overflow(page) == 0, "task list with an open editor"
    for name in ("Save", "Cancel"):
        box = await page.get_by_role("button", name=name).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= SCREENS[screen]["width"]
