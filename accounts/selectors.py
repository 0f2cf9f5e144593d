"""Reads for API tokens."""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from accounts.models import ApiToken


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first (names and prefixes; keys are never stored)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_get(*, user: User, token_id: int) -> ApiToken | None:
    return ApiToken.objects.filter(user=user, pk=token_id).first()
