"""The real stack for the browser: the API and nginx as processes, and Debian's Chromium.

One stack per test session (the API on this session's database, nginx in front of it, both on
free loopback ports); one fresh browser context per test, so tests share no cookies or storage.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
)

from tests.support import ROOT
from tests.support.ports import free_port
from tests.support.processes import add_nginx, api_argv, base_env, http_ok, running_system
from tests.support.services import missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
JWT_SECRET = "browser-tests-secret-" + "s" * 40
PASSWORD = "correct horse battery"
LOGIN_MAX_FAILURES = 3
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "var" / "browser"))


def _require(package: str, *candidates: str) -> str:
    """The first of `candidates` that is an executable; skip (fail under CI) when none is."""
    found = next(filter(None, map(shutil.which, candidates)), None)
    if found is None:
        missing(f"{candidates[0]} is not installed (apt-get install {package})")
    return found


@dataclass(frozen=True)
class Stack:
    web_url: str  # nginx: the page and /api/
    api_url: str  # the API itself, for seeding data behind the browser's back
    jwt_secret: str


@pytest.fixture(scope="session")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API (uvicorn) and nginx (scripts/nginx.sh) in front of it, killed at teardown."""
    nginx = _require("nginx-light", os.environ.get("NGINX_BIN", "nginx"), "/usr/sbin/nginx")
    api_port, web_port = free_port(), free_port()
    runtime = tmp_path_factory.mktemp("browser-stack")
    api_env = base_env(
        DATABASE_URL=database_url,
        API_HOST="127.0.0.1",
        API_PORT=str(api_port),
        JWT_SECRET=JWT_SECRET,
        LOG_JSON="false",
        # Cheap hashing keeps registering and logging in fast; the parameters are not under test.
        ARGON2_MEMORY_KIB="8192",
        ARGON2_TIME_COST="1",
        LOGIN_MAX_FAILURES=str(LOGIN_MAX_FAILURES),
        LOGIN_MAX_FAILURES_PER_CLIENT="1000",
    )
    with running_system(runtime / "logs") as system:
        system.add("api", api_argv(), api_env, http_ok(f"http://127.0.0.1:{api_port}/readyz"))
        add_nginx(
            system,
            api_port=api_port,
            web_port=web_port,
            nginx_dir=runtime / "nginx",
            nginx_bin=nginx,
        )
        system.start("api", "nginx", timeout=60)
        yield Stack(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}", JWT_SECRET)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = _require("chromium", CHROMIUM)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class PageLog:
    """What the page said on the side: console errors, uncaught errors and any dialog."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e or "Refused to" in e]


@dataclass
class Browsing:
    context: BrowserContext
    page: Page
    log: PageLog


BrowsingFactory = Callable[..., Awaitable[Browsing]]


@pytest.fixture
async def new_browsing(browser: Browser, stack: Stack) -> AsyncIterator[BrowsingFactory]:
    """Open a fresh context (no storage) and page on the app; keyword arguments go to Playwright."""
    contexts: list[BrowserContext] = []

    async def open_browsing(**options: Any) -> Browsing:
        context = await browser.new_context(base_url=stack.web_url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        log = PageLog()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                log.errors.append(message.text)

        async def on_dialog(dialog: Dialog) -> None:
            log.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
        page.on("dialog", on_dialog)
        return Browsing(context, page, log)

    yield open_browsing
    for context in contexts:
        await context.close()


@pytest.fixture
async def browsing(new_browsing: BrowsingFactory) -> Browsing:
    """A desktop-sized page (1280x800, light scheme) on the app's address."""
    return await new_browsing(viewport={"width": 1280, "height": 800})


@pytest.fixture
async def page(browsing: Browsing) -> Page:
    await browsing.page.goto("/")
    return browsing.page


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str


AccountFactory = Callable[[], Awaitable[Account]]


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client straight to the API, for arranging data the way another device would."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        yield client


@pytest.fixture
def new_account(api: httpx.AsyncClient) -> AccountFactory:
    async def register() -> Account:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = await api.post("/auth/register", json={"email": email, "password": PASSWORD})
        response.raise_for_status()
        return Account(response.json()["id"], email, PASSWORD)

    return register


@pytest.fixture
async def account(new_account: AccountFactory) -> Account:
    return await new_account()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (var/browser by default; BROWSER_ARTIFACTS overrides)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
