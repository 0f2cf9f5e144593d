"""Writes for users, API tokens and WebSocket tickets. Keys are shown once and stored hashed."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiToken, WsTicket
from notifications import events
from notifications.conf import herald_setting
from notifications.exceptions import Conflict

TOKEN_PREFIX = "hrld_"  # noqa: S105 - a public marker, not a secret


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with its key, which is never stored and never shown again."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[: len(TOKEN_PREFIX) + 8], digest=_digest(key))
    return token, key


def token_authenticate(key: str) -> ApiToken | None:
    """The active token for `key`, or None. Looked up by its public prefix, then the digest is
    compared in constant time, so response timing says nothing about the secret part."""
    if not key.startswith(TOKEN_PREFIX) or len(key) > 200:
        return None
    digest = _digest(key)
    for token in ApiToken.objects.filter(prefix=key[: len(TOKEN_PREFIX) + 8]).select_related("user"):
        if hmac.compare_digest(token.digest, digest) and token.user.is_active:
            _touch(token)
            return token
    return None


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    every = timedelta(seconds=herald_setting("TOKEN_TOUCH_SECONDS"))
    if token.last_used_at is None or now - token.last_used_at > every:
        # At most one write per token per minute, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def token_revoke(*, token: ApiToken) -> None:
    """Delete the token; sockets it opened are closed with 4401 at once, on every process."""
    token_id = token.pk
    with transaction.atomic():
        token.delete()
        events.broadcast_on_commit(events.revoke_event(token_id=token_id))


def ticket_create(*, user: User) -> tuple[str, int]:
    ttl = herald_setting("TICKET_TTL_SECONDS")
    ticket = secrets.token_urlsafe(32)
    WsTicket.objects.create(user=user, digest=_digest(ticket), expires_at=timezone.now() + timedelta(seconds=ttl))
    WsTicket.objects.filter(expires_at__lt=timezone.now() - timedelta(hours=1)).delete()
    return ticket, ttl


def ticket_redeem(ticket: str) -> User | None:
    """The user of a valid ticket, consuming it; None when unknown, used or expired.
    The conditional UPDATE makes redemption single-use even across processes."""
    if not ticket or len(ticket) > 200:
        return None
    digest = _digest(ticket)
    now = timezone.now()
    used = WsTicket.objects.filter(digest=digest, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    if not used:
        return None
    user = WsTicket.objects.select_related("user").get(digest=digest).user
    return user if user.is_active else None


class UsernameTaken(Conflict):
    pass


@transaction.atomic
def users_create(*, specs: list[dict[str, str]]) -> list[tuple[User, str]]:
    """Create users (all or nothing) each with a first API token; returns (user, key) pairs."""
    names = [spec["username"] for spec in specs]
    if len(set(names)) != len(names):
        raise UsernameTaken("The same username appears twice in the list.")
    taken = list(User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise UsernameTaken(f"Username already exists: {', '.join(sorted(taken)[:20])}")
    created: list[tuple[User, str]] = []
    try:
        for spec in specs:
            user = User(username=spec["username"], email=spec.get("email") or "")
            if spec.get("password"):
                user.set_password(spec["password"])
            else:
                user.set_unusable_password()
            user.save()
            _, key = token_create(user=user, name="created by POST /subscribers/")
            created.append((user, key))
    except IntegrityError:
        raise UsernameTaken("Username already exists.") from None
    return created
