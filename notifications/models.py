"""Channels, subscriptions, notifications and per-user read state.

Ordering model (see docs/architecture.md): every change that alters an inbox takes the next
value of one system-wide sequence (`StreamSequence`) inside its transaction. The sequence row
is locked until commit, so sequence numbers are committed in order, with no gaps except those
left by deleted rows. A notification's id *is* its sequence number; a subscription records the
sequence numbers of its start and end. An inbox is therefore exactly: channel notifications
whose id falls inside one of the user's subscription intervals, plus direct notifications.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

SLUG_RE = r"^[A-Za-z0-9_-]{1,50}\Z"
slug_validator = RegexValidator(SLUG_RE, "Letters, digits, '-' and '_' only (1-50 characters).")


class StreamSequence(models.Model):
    """The single-row, system-wide sequence; its row lock orders all inbox changes."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    pruned_upto = models.BigIntegerField(default=0, help_text="Notifications up to this id were pruned.")

    class Meta:
        verbose_name = "stream sequence"

    def __str__(self) -> str:
        return f"seq {self.value}"


class Channel(models.Model):
    """A topic that users subscribe to and publishers publish to."""

    PUBLIC, PRIVATE = "public", "private"
    VISIBILITY_CHOICES = [(PUBLIC, "Public"), (PRIVATE, "Private")]

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="", max_length=2000)
    visibility = models.CharField(max_length=10, choices=VISIBILITY_CHOICES, default=PUBLIC)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_channels")
    publishers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="publishable_channels")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def active(self) -> "SubscriptionQuerySet":
        return self.filter(ended_seq__isnull=True)


class Subscription(models.Model):
    """A user on a channel, from `started_seq` (exclusive) to `ended_seq` (exclusive; null: now)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="subscriptions")
    started_seq = models.BigIntegerField(db_index=True)
    ended_seq = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel"], condition=Q(ended_seq__isnull=True), name="one_active_subscription"
            )
        ]
        indexes = [models.Index(fields=["user", "channel"])]

    def __str__(self) -> str:
        return f"{self.user} → {self.channel}"


class Notification(models.Model):
    """One published event; `id` is its position in the system-wide sequence."""

    LEVELS = ["info", "success", "warning", "error"]
    LEVEL_CHOICES = [(level, level.title()) for level in LEVELS]

    id = models.BigIntegerField(primary_key=True)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="direct_notifications"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    level = models.CharField(max_length=10, choices=LEVEL_CHOICES, default="info")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["channel", "id"]), models.Index(fields=["recipient", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__isnull=True) ^ Q(recipient__isnull=True), name="channel_xor_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.title}"


class ReadState(models.Model):
    """Per-user read watermark: every inbox notification with id <= `read_upto` is read."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    read_upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user} read up to {self.read_upto}"


class ReadMark(models.Model):
    """One notification above the watermark that the user has read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "notification"], name="one_read_mark")]

    def __str__(self) -> str:
        return f"{self.user} read #{self.notification_id}"


class IdempotencyKey(models.Model):
    """Remembers a publish for 24 h so that a retry returns the first notification."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    notification = models.ForeignKey(Notification, null=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.user}: {self.key}"
