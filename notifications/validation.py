"""Validation of a notification's fields, shared by the REST API and the WebSocket `publish` frame."""

import math
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


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored: NUL (PostgreSQL refuses it) or a lone surrogate
    (`"\\ud800"` is valid JSON but not encodable as UTF-8)."""
    if "\x00" in value:
        return "Null characters are not allowed."
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "Invalid Unicode (lone surrogate)."
    return None


def _data_problem(value: Any) -> str | None:
    """What makes `data` unstorable: NUL in any string (PostgreSQL refuses it) or a number
    that JSON cannot carry (`1e400` parses as infinity and would be stored as `Infinity`)."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, float):
        return None if math.isfinite(value) else "Numbers must be finite."
    if isinstance(value, dict):
        return next(filter(None, (_data_problem(k) or _data_problem(v) for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, map(_data_problem, value)), None)
    return None


def _text(raw: dict[str, Any], field: str, *, required: bool, max_length: int) -> str:
    value = raw.get(field, None if required else "")
    if value is None:
        if required:
            raise Invalid("This field is required.", field)
        value = ""
    if not isinstance(value, str):
        raise Invalid("Must be a string.", field)
    problem = text_problem(value)
    if problem:
        raise Invalid(problem, field)
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
    try:
        # First, as it also bounds the nesting depth (255) for the walk below.
        size = len(orjson.dumps(data))
    except (orjson.JSONEncodeError, TypeError):
        raise Invalid("Must be JSON that can be stored (integers up to 64 bits, nesting up to 255).", "data") from None
    problem = _data_problem(data)
    if problem:
        raise Invalid(problem, "data")
    if size > herald_setting("DATA_MAX_BYTES"):
        raise TooLarge(f"Must be at most {herald_setting('DATA_MAX_BYTES')} bytes as compact JSON.", "data")
    return {"title": title, "body": body, "level": level, "data": data}
