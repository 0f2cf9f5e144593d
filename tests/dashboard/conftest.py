"""Real Chromium (Debian's `chromium`) driven by Playwright's sync API against real Daphne
processes. Tests here are plain functions (no event loop), as the sync API requires."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.live import LivePlatform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "dashboard-pass-123"

from playwright import sync_api  # noqa: E402


# Module scope, not session: the sync API keeps an event loop running in this thread while it
# is open, which would break every asyncio test that runs after the dashboard tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: run scripts/services (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):  # type: ignore[no-untyped-def]
    """`new_page(base_url)`: a page in a fresh browser context (own cookies); all closed afterwards."""
    contexts = []

    def make(base_url: str, context=None):  # type: ignore[no-untyped-def]
        if context is None:
            context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 800})
            context.set_default_timeout(10_000)
            contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    errors: list[str] = []
    make.errors = errors  # type: ignore[attr-defined]
    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sign_in(page, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real login form and wait for the live connection."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    wait_live(page)


def wait_live(page, timeout: float = 10_000) -> None:  # type: ignore[no-untyped-def]
    sync_api.expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=timeout)


def member(live: LivePlatform) -> tuple[str, str]:
    """A new user with a password (for the login form) and an API token (for setup)."""
    return live.create_user(unique("user"), PASSWORD)
