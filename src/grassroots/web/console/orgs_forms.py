"""Forms of the party organization pages: recording a meeting on a phone, revealing a
member's number, searching the talent pool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.cases.intake import MAX_PHOTOS
from grassroots.orgs.models import Attendance, MeetingKind, Member
from grassroots.registry.privacy import REASON_MAX, REASON_MIN, REVEALABLE

from .cases_forms import MultipleFileField


class MeetingForm(forms.Form):
    """A meeting with the attendance of each member: everyone present unless ticked otherwise,
    so that a secretary on a phone changes only the few who were not there."""

    kind = forms.ChoiceField(label=_("Kind"), choices=MeetingKind.choices, widget=forms.RadioSelect)
    held_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    topic = forms.CharField(label=_("Topic"), max_length=200)
    place = forms.CharField(label=_("Place"), max_length=200, required=False)
    minutes = forms.CharField(
        label=_("Minutes"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = MultipleFileField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to %(n)d photos: JPEG, PNG, WebP or HEIC") % {"n": MAX_PHOTOS},
    )

    def __init__(self, *args: Any, members: Sequence[Member], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = list(members)
        self.fields["held_on"].initial = timezone.localdate()
        for member in self.members:
            self.fields[f"att_{member.pk}"] = forms.ChoiceField(
                label=member.name,
                choices=Attendance.Status.choices,
                initial=Attendance.Status.PRESENT,
                widget=forms.RadioSelect,
            )
            self.fields[f"reason_{member.pk}"] = forms.CharField(
                label=_("Reason"), required=False, max_length=200
            )

    def rows(self) -> list[tuple[Member, Any, Any]]:
        """Each member with their attendance and reason fields, for the template."""
        return [(m, self[f"att_{m.pk}"], self[f"reason_{m.pk}"]) for m in self.members]

    def data_for_service(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in ("kind", "held_on", "topic", "place", "minutes")}

    def attendance(self) -> dict[int, tuple[str, str]]:
        return {
            m.pk: (self.cleaned_data[f"att_{m.pk}"], self.cleaned_data[f"reason_{m.pk}"] or "")
            for m in self.members
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = name if name in self.fields else None
            for message in messages:
                self.add_error(field, message)


class RevealForm(forms.Form):
    field = forms.ChoiceField(label=_("Field"), choices=list(REVEALABLE.items()))
    reason = forms.CharField(
        label=_("Reason"),
        min_length=REASON_MIN,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why you need the full number; it is recorded in the audit trail."),
    )


class TalentForm(forms.Form):
    group = forms.CharField(label=_("Joint branch or alliance"), required=False, max_length=32)
    skill = forms.CharField(label=_("Skill"), required=False, max_length=30)
    available = forms.BooleanField(label=_("Available only"), required=False)


class ActivityForm(forms.Form):
    """A joint activity: the organizations of the pool taking part and the members present
    ticked from lists, others present counted."""

    theme = forms.CharField(label=_("Theme"), max_length=200)
    held_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    place = forms.CharField(label=_("Place"), max_length=200, required=False)
    organizations = forms.MultipleChoiceField(
        label=_("Organizations taking part"), widget=forms.CheckboxSelectMultiple
    )
    attendees = forms.MultipleChoiceField(
        label=_("Members present"), widget=forms.CheckboxSelectMultiple, required=False
    )
    guests = forms.IntegerField(label=_("Others present"), min_value=0, max_value=100000, initial=0)
    minutes = forms.CharField(
        label=_("Minutes"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = MultipleFileField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to %(n)d photos: JPEG, PNG, WebP or HEIC") % {"n": MAX_PHOTOS},
    )

    def __init__(
        self, *args: Any, pool: Sequence[Any], members: Sequence[Member], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pool = {str(o.pk): o for o in pool}
        self.people = {str(m.pk): m for m in members}
        self.fields["held_on"].initial = timezone.localdate()
        orgs = cast(forms.MultipleChoiceField, self.fields["organizations"])
        orgs.choices = [(k, o.name) for k, o in self.pool.items()]
        orgs.initial = list(self.pool)
        present = cast(forms.MultipleChoiceField, self.fields["attendees"])
        present.choices = [
            (k, f"{m.name}（{m.organization.name}）") for k, m in self.people.items()
        ]

    def chosen(self) -> tuple[list[Any], list[Member]]:
        orgs = [self.pool[k] for k in self.cleaned_data["organizations"]]
        return orgs, [self.people[k] for k in self.cleaned_data["attendees"]]

    def data_for_service(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in ("theme", "held_on", "place", "minutes", "guests")}

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
