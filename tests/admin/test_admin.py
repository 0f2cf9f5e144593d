"""Django admin, driven in-process by a staff user through the real admin views."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from accounts.models import ApiToken
from accounts.services import token_create
from notifications import presence, services
from notifications.models import Channel, Notification, Subscription
from notifications.services import sequence_value
from notifications.validation import clean_notification_input

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_presence_left_over() -> None:
    cache.delete(presence.REGISTRY_KEY)


def cell(html: str, field: str, row_text: str) -> str:
    """The text of column `field` in the changelist row that contains `row_text`."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if row_text in row:
            found = re.search(rf'class="field-{field}[^"]*">(.*?)</t[dh]>', row, re.S)
            assert found, f"no column {field}"
            return re.sub(r"<[^>]+>", "", found.group(1)).strip()
    raise AssertionError(f"no row with {row_text!r}")


def test_channel_list_shows_active_subscriber_counts_and_live_sockets_summed_over_processes(
    admin_client: Client, news: Channel, bob: User, carol: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    services.channel_subscribe(channel=news, user=carol)
    services.channel_unsubscribe(channel=news, user=carol)
    presence.publish({str(news.pk): 3, presence.TOTAL: 4}, process_id="host:1")
    presence.publish({str(news.pk): 2, presence.TOTAL: 2}, process_id="host:2")

    response = admin_client.get("/admin/notifications/channel/")

    assert response.status_code == 200
    html = response.content.decode()
    assert cell(html, "subscriber_count", ">news<") == "1"
    assert cell(html, "live_sockets", ">news<") == "5"
    assert "6 open sockets across all processes" in html


def test_adding_a_subscription_in_admin_subscribes_through_the_sequence(
    admin_client: Client, news: Channel, bob: User
) -> None:
    response = admin_client.post("/admin/notifications/subscription/add/", {"user": bob.pk, "channel": news.pk})

    assert response.status_code == 302
    subscription = Subscription.objects.active().get(user=bob, channel=news)
    assert subscription.started_seq == sequence_value()


def test_adding_a_subscription_that_exists_is_refused_with_a_form_error(
    admin_client: Client, news: Channel, bob: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    response = admin_client.post("/admin/notifications/subscription/add/", {"user": bob.pk, "channel": news.pk})

    assert response.status_code == 200
    assert "already subscribed" in response.content.decode()
    assert Subscription.objects.filter(user=bob, channel=news).count() == 1


def test_deleting_a_subscription_in_admin_ends_it_and_keeps_it_as_history(
    admin_client: Client, news: Channel, bob: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    subscription = Subscription.objects.get(user=bob, channel=news)

    response = admin_client.post(f"/admin/notifications/subscription/{subscription.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.ended_seq == sequence_value()
    assert admin_client.get(f"/admin/notifications/subscription/{subscription.pk}/delete/").status_code == 403


def test_subscription_list_shows_active_ones_by_default_and_ended_ones_on_request(
    admin_client: Client, news: Channel, bob: User, carol: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    services.channel_subscribe(channel=news, user=carol)
    services.channel_unsubscribe(channel=news, user=carol)

    def listed(**params: str) -> set[str]:
        response = admin_client.get("/admin/notifications/subscription/", params)
        return {s.user.username for s in response.context["cl"].result_list}

    assert listed() == {"bob"}
    assert listed(status="ended") == {"carol"}
    assert listed(status="all") == {"bob", "carol"}


def test_bulk_deleting_subscriptions_ends_only_the_active_ones(
    admin_client: Client, news: Channel, bob: User, carol: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    services.channel_subscribe(channel=news, user=carol)
    ids = [str(pk) for pk in Subscription.objects.values_list("pk", flat=True)]

    response = admin_client.post(
        "/admin/notifications/subscription/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )

    assert response.status_code == 302
    assert not Subscription.objects.active().exists()
    assert Subscription.objects.count() == 2


def test_send_test_notification_action_publishes_to_each_selected_channel(
    admin_client: Client, staff: User, news: Channel
) -> None:
    ops = services.channel_create(owner=staff, slug="ops", name="Ops")

    response = admin_client.post(
        "/admin/notifications/channel/",
        {"action": "send_test_notification", "_selected_action": [news.pk, ops.pk]},
    )

    assert response.status_code == 302
    sent = Notification.objects.order_by("id")
    assert [n.channel.slug for n in sent] == ["news", "ops"]
    assert all(n.title == "Test notification" and n.sender == staff for n in sent)


def test_bulk_subscribe_subscribes_every_listed_username(
    admin_client: Client, news: Channel, bob: User, carol: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    url = f"/admin/notifications/channel/{news.pk}/bulk-subscribe/"

    response = admin_client.post(url, {"usernames": "bob\ncarol, bob"}, follow=True)

    assert response.status_code == 200
    assert "Subscribed 1 new user(s) to news." in response.content.decode()
    assert set(Subscription.objects.active().filter(channel=news).values_list("user__username", flat=True)) == {
        "bob",
        "carol",
    }


def test_bulk_subscribe_refuses_unknown_usernames_and_changes_nothing(
    admin_client: Client, news: Channel, bob: User
) -> None:
    before = sequence_value()
    response = admin_client.post(
        f"/admin/notifications/channel/{news.pk}/bulk-subscribe/", {"usernames": "bob\nnobody\nghost"}
    )

    assert response.status_code == 200
    assert "Unknown usernames (nothing was changed): ghost, nobody" in response.content.decode()
    assert not Subscription.objects.filter(channel=news).exists()
    assert sequence_value() == before


def test_bulk_subscribe_action_leads_to_the_form_of_the_selected_channel(admin_client: Client, news: Channel) -> None:
    response = admin_client.post(
        "/admin/notifications/channel/", {"action": "bulk_subscribe", "_selected_action": [news.pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/notifications/channel/{news.pk}/bulk-subscribe/"
    assert "Bulk subscribe to news" in admin_client.get(response["Location"]).content.decode()


def test_deleting_a_channel_in_admin_deletes_it_with_its_history(
    admin_client: Client, staff: User, news: Channel, bob: User
) -> None:
    services.channel_subscribe(channel=news, user=bob)
    services.notification_publish(sender=staff, channel=news, cleaned=clean_notification_input({"title": "hi"}))

    response = admin_client.post(f"/admin/notifications/channel/{news.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Channel.objects.exists() and not Notification.objects.exists()


def test_notifications_are_searchable_by_title_and_cannot_be_added_changed_or_deleted(
    admin_client: Client, staff: User, news: Channel
) -> None:
    for title in ["deploy finished", "disk almost full"]:
        services.notification_publish(sender=staff, channel=news, cleaned=clean_notification_input({"title": title}))
    first = Notification.objects.get(title="deploy finished")

    found = admin_client.get("/admin/notifications/notification/", {"q": "deploy", "level__exact": "info"})

    assert [n.title for n in found.context["cl"].result_list] == ["deploy finished"]
    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403
    assert admin_client.get(f"/admin/notifications/notification/{first.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/notifications/notification/{first.pk}/change/")
    assert page.status_code == 200 and 'name="title"' not in page.content.decode()


def test_token_pages_never_show_the_key_or_its_digest(admin_client: Client, bob: User) -> None:
    token, key = token_create(user=bob, name="ci deploys")

    pages = [
        admin_client.get("/admin/accounts/apitoken/").content.decode(),
        admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode(),
    ]

    assert "ci deploys" in pages[0] and token.prefix in pages[1]
    assert all(key not in page and token.digest not in page for page in pages)
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_deleting_tokens_in_admin_revokes_them(admin_client: Client, bob: User) -> None:
    tokens = [token_create(user=bob, name=f"t{i}")[0] for i in range(2)]

    response = admin_client.post(
        "/admin/accounts/apitoken/",
        {"action": "delete_selected", "_selected_action": [t.pk for t in tokens], "post": "yes"},
    )

    assert response.status_code == 302
    assert not ApiToken.objects.exists()


def test_plain_users_cannot_reach_the_admin(bob: User) -> None:
    client = Client()
    client.force_login(bob)

    response = client.get("/admin/notifications/channel/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
