"""The filter form of the auditors' page: how the fields of audit.filters.EventFilters look.

The form only draws the fields (labels, help, the choices of the selects) under the names of
EventFilters; reading them is EventFilters' job, as for the API and `grassroots audit log`.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .filters import ACTOR_MAX_LENGTH
from .models import Event


class EventFilterForm(forms.Form):
    object = forms.CharField(
        label=_("Object"),
        required=False,
        max_length=100,
        help_text=_("resident:42, household:7, user:3, or a type alone"),
    )
    actor = forms.CharField(label=_("Actor"), required=False, max_length=ACTOR_MAX_LENGTH)
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

    def add_filter_errors(self, exc: ValidationError) -> None:
        """Show what EventFilters refused next to the field it names."""
        for name, messages in exc.message_dict.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
