"""User text stays text, and the page lives within its Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Account, Browsing
from tests.browser.steps import add_task, log_in, task_list, titles

pytestmark = pytest.mark.browser

MARKUP = "<img src=x onerror=alert(1)>"


async def test_a_title_with_markup_is_shown_as_text_and_runs_nothing(
    browsing: Browsing, account: Account
) -> None:
    page = browsing.page
    await page.goto("/")
    await log_in(page, account.email, account.password)
    await add_task(page, MARKUP)
    await page.get_by_role("button", name=f"Rename {MARKUP}").click()
    await page.get_by_label(f"New title for {MARKUP}").fill("<b>bold</b><script>alert(2)</script>")
    async with page.expect_response(lambda response: response.request.method == "PATCH"):
        await page.keyboard.press("Enter")
    await add_task(page, '"><svg onload=alert(3)>')
    await page.reload()

    await expect(titles(page)).to_have_text(
        ["<b>bold</b><script>alert(2)</script>", '"><svg onload=alert(3)>']
    )
    list_ = page.get_by_role("list", name="My tasks")
    await expect(list_.locator("img, b, script, svg[onload]")).to_have_count(0)
    await expect(
        page.get_by_role("checkbox", name='Complete "><svg onload=alert(3)>')
    ).to_be_visible()
    assert browsing.log.dialogs == []
    assert browsing.log.errors == []


async def test_nginx_sends_a_strict_csp_and_the_app_breaks_none_of_it(
    browsing: Browsing, account: Account
) -> None:
    page = browsing.page
    violations: list[str] = []
    # A plain function: Playwright cannot wrap a builtin such as `list.append`.
    await page.expose_function("reportViolation", lambda text: violations.append(text))  # noqa: PLW0108
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI));"
    )
    response = await page.goto("/")
    assert response is not None
    csp = await response.header_value("content-security-policy")
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp

    await log_in(page, account.email, account.password)
    await add_task(page, "Check the CSP")
    await page.get_by_role("checkbox", name="Complete Check the CSP").check()
    await task_list(page).get_by_text("Check the CSP", exact=True).dblclick()
    await page.keyboard.press("Escape")
    await page.goto("/#/done")
    await expect(titles(page)).to_have_text(["Check the CSP"])

    assert violations == []
    assert browsing.log.csp_violations() == []
    assert browsing.log.errors == []


async def test_the_page_has_no_inline_script_or_style_for_the_csp_to_block(
    page: Page, account: Account
) -> None:
    await log_in(page, account.email, account.password)
    await add_task(page, "Look for inline code")
    await page.get_by_role("button", name="Rename Look for inline code").click()
    inline = await page.evaluate(
        "({scripts: [...document.scripts].filter(s => !s.src).length,"
        " styled: document.querySelectorAll('[style]').length,"
        " styles: document.querySelectorAll('style').length,"
        " handlers: [...document.querySelectorAll('*')].filter("
        "   e => [...e.attributes].some(a => a.name.startsWith('on'))).length})"
    )
    assert inline == {"scripts": 0, "styled": 0, "styles": 0, "handlers": 0}
