"""The whole app with the keyboard alone: no mouse event anywhere in this module."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.steps import titles

pytestmark = pytest.mark.browser


# Close enough to the accessible name for the controls of this page: label, aria-label or text.
FOCUSED_NAME = """(() => {
  const e = document.activeElement;
  return e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent)
    || e.textContent;
})()"""


async def tab_to(page: Page, name: str, *, limit: int = 25, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element's accessible name is `name`."""
    for _ in range(limit):
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = await page.evaluate(FOCUSED_NAME)
        if focused and focused.strip() == name:
            return
    pytest.fail(f"{name!r} is not reachable with Tab")


async def focus_ring_width(page: Page) -> float:
    width: str = await page.evaluate("getComputedStyle(document.activeElement).outlineWidth")
    return float(width.removesuffix("px") or 0)


async def test_a_keyboard_user_can_register_add_rename_complete_and_delete(page: Page) -> None:
    email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
    await tab_to(page, "Create an account")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")

    new_title = page.get_by_label("New task")
    await expect(new_title).to_be_focused()
    for title in ("Buy milk", "Read a book", "Walk the dog"):
        await page.keyboard.type(title)
        await page.keyboard.press("Enter")
    await expect(titles(page)).to_have_text(["Buy milk", "Read a book", "Walk the dog"])
    await expect(page.get_by_role("checkbox", name="Complete Walk the dog")).to_be_enabled()

    await tab_to(page, "Complete Read a book")
    assert await focus_ring_width(page) >= 2, "the focused checkbox shows no focus ring"
    await page.keyboard.press("Space")
    await expect(page.get_by_role("checkbox", name="Complete Read a book")).to_be_checked()

    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Rename Read a book")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("New title for Read a book")).to_be_focused()
    await page.keyboard.press("End")
    await page.keyboard.type(" tonight")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Rename Read a book tonight")).to_be_focused()

    await page.keyboard.press("Enter")
    await page.keyboard.type("Never mind")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("button", name="Rename Read a book tonight")).to_be_focused()

    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Delete Read a book tonight")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(titles(page)).to_have_text(["Buy milk", "Walk the dog"])
    # Focus stays in the list, on the task that took the deleted one's place.
    await expect(page.get_by_role("checkbox", name="Complete Walk the dog")).to_be_focused()

    await tab_to(page, "Log out", backwards=True)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
