"""Django admin for channels, subscriptions and notifications.

Every change that alters an inbox goes through the services, exactly like the REST API, so
it takes its place in the sequence and reaches open sockets at once: adding a subscription
here sends `subscribed` to the user's sockets, removing it sends `unsubscribed`, deleting a
channel unsubscribes everyone. Removing a subscription *ends* it (the row stays as history,
because the inbox is computed from subscription intervals).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from notifications import presence, services
from notifications.models import Channel, Notification, Subscription
from notifications.validation import clean_notification_input

BULK_SUBSCRIBE_MAX = 10_000


class BulkSubscribeForm(forms.Form):
    usernames = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 60}),
        help_text="One username per line (commas and spaces also separate). Unknown usernames change nothing.",
    )

    def clean_usernames(self) -> list[User]:
        names = list(dict.fromkeys(self.cleaned_data["usernames"].replace(",", " ").split()))
        if len(names) > BULK_SUBSCRIBE_MAX:
            raise forms.ValidationError(f"At most {BULK_SUBSCRIBE_MAX} usernames at once.")
        users = list(User.objects.filter(username__in=names))
        unknown = sorted(set(names) - {u.username for u in users})
        if unknown:
            shown = ", ".join(unknown[:50]) + (" …" if len(unknown) > 50 else "")
            raise forms.ValidationError(f"Unknown usernames (nothing was changed): {shown}")
        return users


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Channels with their subscriber counts and live socket counts (summed over processes)."""

    list_display = ["slug", "name", "visibility", "owner", "subscriber_count", "created_at"]
    list_filter = ["visibility"]
    search_fields = ["slug", "name"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["publishers"]
    actions = ["send_test_notification", "bulk_subscribe", "delete_selected"]
    change_form_template = "admin/notifications/channel/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(subscriber_count=Count("subscriptions", filter=Q(subscriptions__ended_seq__isnull=True)))
        )

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        live = presence.connection_counts()  # read once per page, not once per row

        @admin.display(description="live sockets")
        def live_sockets(channel: Channel) -> int:
            return live.get(str(channel.pk), 0)

        return [*self.list_display, live_sockets]

    @admin.display(description="subscribers", ordering="subscriber_count")
    def subscriber_count(self, channel: Channel) -> int:
        return int(channel.subscriber_count)  # type: ignore[attr-defined]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        total = presence.connection_counts()[presence.TOTAL]
        extra_context = {**(extra_context or {}), "subtitle": f"{total} open sockets across all processes"}
        return super().changelist_view(request, extra_context)

    # --- deleting goes through the service: sockets get `unsubscribed` -------------------

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        # The service deletes the history with the channel; admin's per-model delete permissions
        # (notifications are never deleted one by one) do not apply to it.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        services.channel_delete(channel=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            services.channel_delete(channel=channel)

    # --- actions --------------------------------------------------------------------------

    @admin.action(description="Send a test notification to the selected channels")
    def send_test_notification(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        cleaned = clean_notification_input(
            {"title": "Test notification", "body": f"Sent from Django admin by {request.user}.", "data": {"test": True}}
        )
        for channel in queryset:
            notification, _ = services.notification_publish(
                sender=request.user,
                channel=channel,
                cleaned=cleaned,  # type: ignore[arg-type]
            )
            self.message_user(request, f"Sent test notification #{notification.id} to {channel.slug}.")

    @admin.action(description="Bulk subscribe users to the selected channel…")
    def bulk_subscribe(self, request: HttpRequest, queryset: QuerySet[Channel]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one channel to bulk subscribe to.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:notifications_channel_bulk_subscribe", args=[queryset.get().pk]))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.bulk_subscribe_view)
        return [
            path("<int:channel_id>/bulk-subscribe/", view, name="notifications_channel_bulk_subscribe"),
            *super().get_urls(),
        ]

    def bulk_subscribe_view(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        """Subscribe many users at once from a pasted list of usernames (all or nothing)."""
        channel = get_object_or_404(Channel, pk=channel_id)
        if not self.has_change_permission(request, channel):
            return HttpResponse("Forbidden", status=403)
        form = BulkSubscribeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            added = services.channel_subscribe_many(channel=channel, users=form.cleaned_data["usernames"])
            self.message_user(request, f"Subscribed {added} new user(s) to {channel.slug}.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:notifications_channel_change", args=[channel.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Bulk subscribe to {channel.slug}",
            "channel": channel,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/notifications/channel/bulk_subscribe.html", context)


class SubscriptionStatusFilter(admin.SimpleListFilter):
    """Active subscriptions by default; ended ones (history) on request."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("ended", "Ended"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
        value = self.value() or "active"
        if value == "active":
            return queryset.filter(ended_seq__isnull=True)
        if value == "ended":
            return queryset.filter(ended_seq__isnull=False)
        return queryset

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "active"
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class SubscriptionAddForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["user", "channel"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user, channel = data.get("user"), data.get("channel")
        if user and channel and Subscription.objects.active().filter(user=user, channel=channel).exists():
            raise forms.ValidationError(f"{user} is already subscribed to {channel}.")
        return data


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Add and remove subscriptions; both reach the user's open sockets at once."""

    list_display = ["user", "channel", "started_seq", "ended_seq", "created_at"]
    list_filter = [SubscriptionStatusFilter, "channel"]
    search_fields = ["user__username", "channel__slug"]
    list_select_related = ["user", "channel"]
    autocomplete_fields = ["user", "channel"]
    form = SubscriptionAddForm
    actions = ["delete_selected"]

    def has_change_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False  # a subscription is added or ended, never edited (view-only page)

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        if obj is not None and obj.ended_seq is not None:
            return False  # already ended: it is history that inboxes are computed from
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        services.channel_subscribe(channel=obj.channel, user=obj.user)
        created = Subscription.objects.active().get(channel=obj.channel, user=obj.user)
        obj.pk, obj.started_seq, obj.created_at = created.pk, created.started_seq, created.created_at

    def delete_model(self, request: HttpRequest, obj: Subscription) -> None:
        services.channel_unsubscribe(channel=obj.channel, user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset.active().select_related("channel", "user"):  # type: ignore[attr-defined]
            services.channel_unsubscribe(channel=subscription.channel, user=subscription.user)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: notifications are published through the API (or the channel test action)."""

    list_display = ["id", "title", "channel", "recipient", "level", "sender", "created_at"]
    list_filter = ["level", "channel", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["title"]
    list_select_related = ["channel", "recipient", "sender"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over the whole history is slow on big tables

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False  # inboxes would change behind open sockets' backs; delete the channel instead
