"""API tokens and WebSocket tickets. Both are stored only as SHA-256 digests."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named REST/WebSocket credential of a user; the key itself is never stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WsTicket(models.Model):
    """A single-use, short-lived WebSocket credential (for browsers, which cannot set headers)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "WebSocket ticket"

    def __str__(self) -> str:
        return f"ticket of {self.user} (expires {self.expires_at:%Y-%m-%d %H:%M:%S})"
