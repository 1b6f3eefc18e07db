"""Forms of the shared resource and joint project pages: booking a resource, adding a milestone,
marking one done, recording a year's income. They only parse input; orgs.shared decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from grassroots.orgs.models import Organization

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def _moment(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_INPUT],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
    )


def _date(label: Any, required: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _yuan(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class ServiceErrorsMixin:
    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        form: Any = self
        for name, messages in errors.items():
            field = name if name in form.fields else None
            for message in messages:
                form.add_error(field, message)


class BookingForm(ServiceErrorsMixin, forms.Form):
    """A booking for one of the organizations the user may book for."""

    organization = forms.ModelChoiceField(
        label=_("Booked by"), queryset=Organization.objects.none(), empty_label=None
    )
    starts_at = _moment(pgettext_lazy("booking", "From"))
    ends_at = _moment(pgettext_lazy("booking", "Until"))
    purpose = forms.CharField(label=_("Purpose"), max_length=200)

    def __init__(
        self, *args: Any, organizations: Sequence[Organization] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Organization.objects.filter(pk__in=[o.pk for o in organizations])
        if len(organizations) == 1:
            field.initial = organizations[0].pk

    def data_for_service(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in ("starts_at", "ends_at", "purpose")}


class MilestoneForm(ServiceErrorsMixin, forms.Form):
    title = forms.CharField(label=_("Milestone"), max_length=200)
    due_on = _date(_("Due on"))


class DoneForm(ServiceErrorsMixin, forms.Form):
    """Mark a milestone done (today unless another day is given)."""

    milestone = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    done_on = _date(_("Done on"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["done_on"].initial = timezone.localdate()


class IncomeForm(ServiceErrorsMixin, forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    collective_yuan = _yuan(_("Collective income (yuan)"))
    households_yuan = _yuan(_("Households' income (yuan)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].initial = timezone.localdate().year
