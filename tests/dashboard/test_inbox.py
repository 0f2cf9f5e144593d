"""The inbox in a real browser: live delivery, unread badge across tabs, escaping, paging."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import member, sign_in, unique, wait_live
from tests.support.live import LivePlatform

pytestmark = pytest.mark.browser


def subscribed_member(live: LivePlatform) -> tuple[str, str, str]:
    username, token = member(live)
    slug = live.create_channel(unique("ch"))
    live.subscribe(slug, token)
    return username, token, slug


def test_published_notification_appears_live_and_mark_read_updates_the_badge_in_another_tab(
    live_platform: LivePlatform, new_page
) -> None:
    username, _, slug = subscribed_member(live_platform)
    first = new_page(live_platform.url)
    sign_in(first, username)
    second = new_page(live_platform.url, first.context)
    second.goto("/")
    wait_live(second)
    first.evaluate("window.notReloaded = true")

    sent = live_platform.publish(slug, "Deploy finished", body="v1.2.3 is live", level="success", data={"sha": "abc"})

    item = first.locator(f"#n-{sent['id']}")
    expect(item).to_be_visible(timeout=3000)
    expect(item.locator(".title")).to_have_text("Deploy finished")
    expect(item).to_have_class("item level-success unread")
    expect(first.locator("#announcer")).to_contain_text("Deploy finished")
    expect(first.locator(".toast")).to_contain_text("Deploy finished")
    assert first.evaluate("window.notReloaded") is True
    for page in (first, second):
        expect(page.locator("#unread-badge")).to_have_text("1")

    second.locator(f"#n-{sent['id']} .mark-read").click()

    expect(first.locator("#unread-badge")).to_be_hidden()
    expect(first.locator("#unread-badge")).to_have_attribute("data-count", "0")
    expect(second.locator(f"#n-{sent['id']}")).not_to_have_class("item level-success unread")


def test_mark_all_read_clears_the_badge_and_every_unread_item(live_platform: LivePlatform, new_page) -> None:
    username, _, slug = subscribed_member(live_platform)
    for i in range(3):
        live_platform.publish(slug, f"item {i}")
    page = new_page(live_platform.url)
    sign_in(page, username)
    expect(page.locator("#unread-badge")).to_have_text("3")

    page.click("#read-all-form button")

    expect(page.locator("#unread-badge")).to_be_hidden()
    expect(page.locator("#feed .item.unread")).to_have_count(0)
    page.reload()
    expect(page.locator("#feed .item.unread")).to_have_count(0)


def test_html_in_notification_text_renders_as_text_live_and_after_reload(live_platform: LivePlatform, new_page) -> None:
    username, _, slug = subscribed_member(live_platform)
    page = new_page(live_platform.url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, username)
    payload = "<img src=x onerror=alert(1)>"
    sent = live_platform.publish(
        slug, payload, body="<script>alert(2)</script>", data={"html": "<b onmouseover=alert(3)>"}
    )

    for reload in (False, True):
        if reload:
            page.reload()
            wait_live(page)
        item = page.locator(f"#n-{sent['id']}")
        expect(item.locator(".title")).to_have_text(payload)
        expect(item.locator(".body")).to_have_text("<script>alert(2)</script>")
        item.locator(".more summary").click()
        expect(item.locator(".data")).to_contain_text("<b onmouseover=alert(3)>")
        assert item.locator("img, script, b").count() == 0
    assert page.locator(".toast img").count() == 0
    assert dialogs == []


def test_filters_narrow_the_inbox_by_channel_and_unread(live_platform: LivePlatform, new_page) -> None:
    username, token, slug = subscribed_member(live_platform)
    other = live_platform.create_channel(unique("ch"))
    live_platform.subscribe(other, token)
    a = live_platform.publish(slug, "on the first channel")
    b = live_platform.publish(other, "on the other channel")
    page = new_page(live_platform.url)
    sign_in(page, username)

    page.select_option("#filters select[name=channel]", other)
    page.wait_for_url(f"**channel={other}**")
    expect(page.locator(f"#n-{b['id']}")).to_be_visible()
    expect(page.locator(f"#n-{a['id']}")).to_have_count(0)
    wait_live(page)
    live_platform.publish(slug, "not shown under this filter")
    c = live_platform.publish(other, "shown under this filter")
    expect(page.locator(f"#n-{c['id']}")).to_be_visible()
    expect(page.locator("#feed .item")).to_have_count(2)
    expect(page.locator("#unread-badge")).to_have_text("4")

    page.locator(f"#n-{b['id']} .mark-read").click()
    page.check("#filters input[name=unread]")
    page.wait_for_url("**unread=1**")
    expect(page.locator("#feed .item")).to_have_count(1)


def test_older_notifications_load_a_page_at_a_time(live_platform: LivePlatform, new_page) -> None:
    username, _, slug = subscribed_member(live_platform)
    live_platform.publish(slug, "x")
    for i in range(54):
        live_platform.publish(slug, f"n{i}")
    page = new_page(live_platform.url)
    sign_in(page, username)
    expect(page.locator("#feed .item")).to_have_count(50)

    page.click("#older")

    expect(page.locator("#feed .item")).to_have_count(55)
    expect(page.locator("#feed .item").last.locator(".title")).to_have_text("x")
    expect(page.locator("#older")).to_have_count(0)
