"""The dashboard's publish form. Field rules are notifications.validation's, shared with the
REST API and the WebSocket `publish` frame; this form only adds the channel choice."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.models import User

from notifications import selectors
from notifications.exceptions import HeraldError
from notifications.models import Channel, Notification
from notifications.validation import NotificationInput, clean_notification_input


class PublishForm(forms.Form):
    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), to_field_name="slug", empty_label=None)
    title = forms.CharField(max_length=200, strip=False)
    body = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 3}))
    level = forms.ChoiceField(choices=Notification.LEVEL_CHOICES, initial="info")
    data = forms.CharField(
        required=False,
        label="Data (JSON object)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": '{"key": "value"}'}),
    )

    notification_input: NotificationInput

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = selectors.channel_publishable_list(user=user)  # type: ignore[attr-defined]

    def clean_data(self) -> Any:
        raw = self.cleaned_data.get("data", "").strip()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            self.notification_input = clean_notification_input(
                {k: cleaned.get(k) for k in ("title", "body", "level", "data")}
            )
        except HeraldError as error:
            field = getattr(error, "field", None)
            self.add_error(field if field in self.fields else None, error.message)
        return cleaned
