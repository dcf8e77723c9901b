"""Headless Chromium for end-to-end tests: Debian's browser, driven by Playwright from PyPI.

Skips with a clear reason where no browser is installed; CI installs Debian's chromium first.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("GONGZHI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))

# Flags for a root user on a machine without a network: no sandbox (root), and none of Chromium's
# background calls home, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One Chromium for the browser tests, closed when they end: Playwright's sync API keeps an event loop
    running in this thread while it is open, and a later test that runs a coroutine with
    `async_to_sync` would find it there ("You cannot use AsyncToSync in the same thread as an async
    event loop": seen on CI, where pytest-django runs the tests without a database after these)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package to run browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - it is in requirements-dev.txt
        pytest.skip("playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # plain synchronous calls, so tell Django not to refuse them.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield b
            b.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(page, name: str) -> None:
    """Save a screenshot for the README's tour.

    Screenshots are a by-product, not the behaviour under test, and Chromium's capture sometimes
    refuses for a moment ("Unable to capture screenshot" while a page is still settling after a
    navigation, seen on CI with a phone-sized context): wait for the page to settle and try again,
    then fall back to the visible part, and if even that is refused, warn instead of failing a test
    whose assertions all held."""
    from playwright.sync_api import Error as PlaywrightError

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    last: Exception | None = None
    for full_page in (True, True, False):
        try:
            page.wait_for_load_state()
            page.screenshot(path=path, full_page=full_page, animations="disabled")
            return
        except PlaywrightError as exc:
            last = exc
            page.wait_for_timeout(300)
    warnings.warn(f"screenshot {name} not taken: {last}", stacklevel=2)


def login(browser, base_url: str, username: str, *, phone: bool = False):
    """A browser context logged in as a demo user (password gongzhi-demo); a phone-sized one on request."""
    if phone:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")
    page.wait_for_load_state()
    return context, page
