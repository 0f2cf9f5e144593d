"""The dashboard across a server restart, and the README screenshot."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import PASSWORD, sign_in, unique
from tests.support.live import LivePlatform

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    """docs/img when asked for (HERALD_UPDATE_SCREENSHOTS=1) or missing; else var/, so that an
    ordinary test run leaves the committed images alone (their timestamps change every run)."""
    docs = ROOT / "docs" / "img"
    if os.environ.get("HERALD_UPDATE_SCREENSHOTS") == "1" or not (docs / "dashboard.png").exists():
        return docs
    return ROOT / "var" / "test-logs"


def test_page_shows_reconnecting_then_resumes_with_what_was_published_meanwhile_exactly_once(
    platform_factory, new_page
) -> None:
    platform = platform_factory()
    server = platform.start_server()
    live = LivePlatform(platform, server)
    username, token = live.create_user(unique("user"), PASSWORD)
    slug = live.create_channel(unique("ch"))
    live.subscribe(slug, token)
    page = new_page(server.url)
    sign_in(page, username)
    before = live.publish(slug, "before the restart")
    expect(page.locator(f"#n-{before['id']}")).to_be_visible()

    server.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    # While the page's server is down, another process on the same platform takes publishes.
    other = platform.start_server()
    missed = [
        httpx.post(
            f"{other.url}/api/v1/channels/{slug}/events/", json={"title": f"while away {i}"}, headers=live.headers()
        ).json()
        for i in range(3)
    ]
    other.stop()
    server.start()
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=20_000)
    after = live.publish(slug, "after the restart")

    expected = [before, *missed, after]
    expect(page.locator(f"#n-{after['id']}")).to_be_visible()
    expect(page.locator("#feed .item")).to_have_count(len(expected))
    ids = [int(i) for i in page.locator("#feed .item").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert ids == sorted((n["id"] for n in expected), reverse=True)
    expect(page.locator("#unread-badge")).to_have_text(str(len(expected)))


def test_inbox_shows_levels_by_colour_and_icon_and_makes_the_readme_screenshot(platform_factory, new_page) -> None:
    platform = platform_factory()
    server = platform.start_server()
    live = LivePlatform(platform, server)
    _, token = live.create_user("ada", PASSWORD)
    for slug, name in (("deploys", "Deploys"), ("billing", "Billing"), ("security", "Security")):
        live.create_channel(slug, name=name)
        live.subscribe(slug, token)
    live.publish("deploys", "Deploy started", body="api v2.14.0 rolling out to eu-west", level="info")
    live.publish(
        "billing",
        "Invoice INV-2041 paid",
        body="€1,280.00 from Acme GmbH",
        level="success",
        data={"invoice": "INV-2041", "amount": 1280},
    )
    live.publish(
        "security", "3 failed sign-ins for root", body="From 203.0.113.7 in the last 5 minutes", level="warning"
    )
    live.publish(
        "deploys",
        "Deploy failed: migrations",
        body="api v2.14.0 rolled back; see the build log",
        level="error",
        data={"build": 8812, "step": "migrate"},
    )
    page = new_page(server.url)
    page.set_viewport_size({"width": 1000, "height": 640})
    page.emulate_media(color_scheme="light", reduced_motion="reduce")
    sign_in(page, "ada")
    live.publish("deploys", "Deploy finished", body="api v2.14.1 is live in every region", level="success")

    items = page.locator("#feed .item")
    expect(items).to_have_count(5)
    levels = items.evaluate_all("els => els.map(e => [...e.classList].find(c => c.startsWith('level-')))")
    assert levels == ["level-success", "level-error", "level-warning", "level-success", "level-info"]
    colours = {items.nth(i).evaluate("e => getComputedStyle(e).borderLeftColor") for i in (0, 1, 2, 4)}
    icons = {
        items.nth(i).evaluate("e => getComputedStyle(e.querySelector('.icon'), '::before').content")
        for i in (0, 1, 2, 4)
    }
    assert len(colours) == 4 and len(icons) == 4
    expect(page.locator("#unread-badge")).to_have_text("5")
    page.locator("#feed .item").nth(1).locator(".more summary").click()
    page.locator("#toasts").evaluate("e => e.hidden = true")
    target = screenshot_dir()
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / "dashboard.png"))
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")
    page.set_viewport_size({"width": 420, "height": 760})
    page.screenshot(path=str(target / "dashboard-dark-phone.png"))
    assert (target / "dashboard.png").stat().st_size > 10_000
