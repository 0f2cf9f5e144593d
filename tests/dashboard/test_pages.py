"""Channels, publishing and API tokens pages in a real browser, and the pages' security headers."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import member, sign_in, unique, wait_live
from tests.support.live import LivePlatform

pytestmark = pytest.mark.browser


def card(page, slug: str):  # type: ignore[no-untyped-def]
    return page.locator(f".channel-card[data-slug='{slug}']")


def test_subscribing_on_the_channels_page_shows_in_other_tabs_and_delivers_the_next_publish_live(
    live_platform: LivePlatform, new_page
) -> None:
    username, _ = member(live_platform)
    slug = live_platform.create_channel(unique("ch"), name="<b>Ops</b> & alerts")
    inbox = new_page(live_platform.url)
    sign_in(inbox, username)
    channels = new_page(live_platform.url, inbox.context)
    channels.goto("/channels/")
    other_tab = new_page(live_platform.url, inbox.context)
    other_tab.goto("/channels/")
    wait_live(channels)
    wait_live(other_tab)
    expect(card(channels, slug).locator("h2")).to_have_text("<b>Ops</b> & alerts")
    expect(card(channels, slug).locator(".count .n")).to_have_text("0")

    card(channels, slug).locator(".sub-button").click()

    for page in (channels, other_tab):
        expect(card(page, slug).locator(".sub-button")).to_have_text("Unsubscribe")
        expect(card(page, slug).locator(".count .n")).to_have_text("1")
    sent = live_platform.publish(slug, "first after subscribing")
    expect(inbox.locator(f"#n-{sent['id']} .title")).to_have_text("first after subscribing")

    card(other_tab, slug).locator(".sub-button").click()

    expect(card(channels, slug).locator(".sub-button")).to_have_text("Subscribe")
    expect(card(channels, slug).locator(".count .n")).to_have_text("0")
    ignored = live_platform.publish(slug, "after unsubscribing")
    later = live_platform.publish("general", "staff announcement")  # staff's demo channel; not subscribed
    assert later["id"] > ignored["id"]
    inbox.reload()
    expect(inbox.locator(f"#n-{sent['id']}")).to_be_visible()  # unsubscribing keeps what was there
    expect(inbox.locator(f"#n-{ignored['id']}")).to_have_count(0)


def test_channel_page_shows_recent_history_and_publishes_for_its_owner(live_platform: LivePlatform, new_page) -> None:
    username, token = member(live_platform)
    slug = live_platform.create_channel(unique("ch"), publishers=[username])
    older = live_platform.publish(slug, "published earlier")
    page = new_page(live_platform.url)
    sign_in(page, username)
    page.goto(f"/channels/{slug}/")
    expect(page.locator(f"#history #n-{older['id']} .title")).to_have_text("published earlier")
    wait_live(page)

    page.fill("#id_title", "from the form")
    page.fill("#id_body", "hello <there>")
    page.select_option("#id_level", "warning")
    page.fill("#id_data", '{"build": 42}')
    page.click("form.stack button[type=submit]")

    expect(page.locator(".msg-success")).to_contain_text("Published #")
    r = live_platform.http.get(f"/api/v1/channels/{slug}/events/", headers=live_platform.headers(token))
    newest = r.json()["results"][-1]
    assert (newest["title"], newest["body"], newest["level"], newest["data"]) == (
        "from the form",
        "hello <there>",
        "warning",
        {"build": 42},
    )


def test_publish_form_lists_only_publishable_channels_and_explains_bad_input(
    live_platform: LivePlatform, new_page
) -> None:
    username, _ = member(live_platform)
    mine = live_platform.create_channel(unique("ch"), publishers=[username])
    not_mine = live_platform.create_channel(unique("ch"))
    page = new_page(live_platform.url)
    sign_in(page, username)
    page.goto("/publish/")
    options = page.locator("#id_channel option").all_inner_texts()
    assert mine in options and not_mine not in options

    page.select_option("#id_channel", mine)
    page.fill("#id_title", "   ")
    page.fill("#id_data", "[1, 2]")
    page.click("#publish-form button[type=submit]")

    expect(page.locator(".field-error").first).to_be_visible()
    assert (
        live_platform.http.get(f"/api/v1/channels/{mine}/events/", headers=live_platform.headers()).json()["results"]
        == []
    )


def test_token_key_is_shown_once_works_against_the_api_and_fails_after_revoking(
    live_platform: LivePlatform, new_page
) -> None:
    username, _ = member(live_platform)
    page = new_page(live_platform.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, username)
    page.goto("/tokens/")
    name = "deploy bot <script>"

    page.fill("#token-name", name)
    page.click("#token-form button[type=submit]")

    key = page.locator("#new-key").input_value()
    assert key.startswith("hrld_")
    page.click("button.copy")
    expect(page.locator("button.copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    response = httpx.get(f"{live_platform.url}/api/v1/notifications/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200
    page.goto("/tokens/")
    expect(page.locator("#new-key")).to_have_count(0)
    assert key not in page.content()
    row = page.locator("tr", has=page.locator(".token-name", has_text=name))
    expect(row).to_have_count(1)

    row.locator("button.danger").click()

    expect(page.locator(".msg-success")).to_contain_text("revoked")
    expect(page.locator("tr", has=page.locator(".token-name", has_text=name))).to_have_count(0)
    response = httpx.get(f"{live_platform.url}/api/v1/notifications/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 401


def test_sign_out_and_password_change_go_through_django_auth(live_platform: LivePlatform, new_page) -> None:
    username, _ = member(live_platform)
    page = new_page(live_platform.url)
    sign_in(page, username)
    page.click(".menu summary")
    page.click("text=Change password")
    page.fill("#id_old_password", "dashboard-pass-123")
    page.fill("#id_new_password1", "a-much-newer-pass-456")
    page.fill("#id_new_password2", "a-much-newer-pass-456")
    page.click("form.stack button[type=submit]")
    expect(page.locator("h1")).to_have_text("Password changed")

    page.click(".menu summary")
    page.click("text=Sign out")
    page.wait_for_url("**/accounts/login/")
    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/")
    sign_in(page, username, "a-much-newer-pass-456")


def test_dashboard_pages_require_sign_in_and_send_a_strict_content_security_policy(
    live_platform: LivePlatform,
) -> None:
    username, _ = member(live_platform)
    with httpx.Client(base_url=live_platform.url) as client:
        assert client.get("/").status_code == 302
        client.get("/accounts/login/")
        r = client.post(
            "/accounts/login/",
            data={
                "username": username,
                "password": "dashboard-pass-123",
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert r.status_code == 302
        for path in ("/", "/channels/", "/publish/", "/tokens/"):
            r = client.get(path)
            assert r.status_code == 200, path
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "<script>" not in r.text and " on" not in r.text.split("<body", 1)[1].split(">", 1)[0]
        no_csrf = client.post("/tokens/", data={"name": "sneaky"})
        assert no_csrf.status_code == 403
