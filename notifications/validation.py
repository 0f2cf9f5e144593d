"""Validation of a notification's fields, shared by the REST API and the WebSocket `publish` frame."""

from typing import Any, TypedDict

import orjson

from notifications.conf import herald_setting
from notifications.exceptions import Invalid, TooLarge
from notifications.models import Notification
from notifications.serialization import Level


class NotificationInput(TypedDict):
    title: str
    body: str
    level: Level
    data: dict[str, Any]


ALLOWED_FIELDS = {"title", "body", "level", "data"}


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


def _text(raw: dict[str, Any], field: str, *, required: bool, max_length: int) -> str:
    value = raw.get(field, None if required else "")
    if value is None:
        if required:
            raise Invalid("This field is required.", field)
        value = ""
    if not isinstance(value, str):
        raise Invalid("Must be a string.", field)
    if "\x00" in value:
        raise Invalid("Null characters are not allowed.", field)
    value = value.strip() if field == "title" else value
    if required and not value:
        raise Invalid("This field may not be blank.", field)
    if len(value) > max_length:
        raise Invalid(f"Ensure this field has no more than {max_length} characters.", field)
    return value


def clean_notification_input(raw: Any) -> NotificationInput:
    """Check title/body/level/data against SPEC's limits and apply defaults."""
    if not isinstance(raw, dict):
        raise Invalid("Expected a JSON object.")
    title = _text(raw, "title", required=True, max_length=herald_setting("TITLE_MAX"))
    body = _text(raw, "body", required=False, max_length=herald_setting("BODY_MAX"))
    level = raw.get("level", "info")
    if level is None:
        level = "info"
    if level not in Notification.LEVELS:
        raise Invalid(f"Must be one of: {', '.join(Notification.LEVELS)}.", "level")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid("Must be a JSON object.", "data")
    if _contains_nul(data):
        raise Invalid("Null characters are not allowed.", "data")
    try:
        size = len(orjson.dumps(data))
    except (orjson.JSONEncodeError, TypeError):
        raise Invalid("Must be JSON that can be stored (integers up to 64 bits).", "data") from None
    if size > herald_setting("DATA_MAX_BYTES"):
        raise TooLarge(f"Must be at most {herald_setting('DATA_MAX_BYTES')} bytes as compact JSON.", "data")
    return {"title": title, "body": body, "level": level, "data": data}
