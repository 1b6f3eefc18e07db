"""The filter form of the auditors' page: the same filters as `grassroots audit log`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Event
from .selectors import parse_object, parse_when


class EventFilterForm(forms.Form):
    object = forms.CharField(
        label=_("Object"),
        required=False,
        max_length=100,
        help_text=_("resident:42, household:7, user:3, or a type alone"),
    )
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    since = forms.CharField(
        label=_("Since"),
        required=False,
        max_length=40,
        help_text=_("2024-05-01 or 2024-05-01 08:30"),
    )
    until = forms.CharField(
        label=_("Until"), required=False, max_length=40, help_text=_("a date includes that day")
    )
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("any")), *Event.Action.choices]
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("any")), *Event.Channel.choices]
    )

    def clean_object(self) -> str:
        value: str = self.cleaned_data["object"]
        if value:
            parse_object(value)
        return value

    def clean_since(self) -> str:
        return self._when("since")

    def clean_until(self) -> str:
        return self._when("until")

    def _when(self, name: str) -> str:
        value: str = self.cleaned_data[name]
        if value:
            parse_when(value)
        return value

    def filters(self) -> dict[str, Any]:
        """The cleaned filters as keyword arguments of selectors.events_for."""
        return {name: value or None for name, value in self.cleaned_data.items()}

    def add_selector_errors(self, exc: ValidationError) -> None:
        """Errors the selector found in combinations of filters (until before since)."""
        for name, messages in exc.message_dict.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
