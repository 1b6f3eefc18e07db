"""Forms of the public portal. They only parse what a resident types; the rules of intake, look-up,
rating and rejection stay in cases.services (the same calls as the portal API)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from grassroots.cases.models import Category
from grassroots.core.tables import format_size
from grassroots.territory.models import Unit


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one input; the service checks their number, size and type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/*", "multiple": True})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


def category_choices() -> list[tuple[str, str]]:
    """Active categories (as GET /api/v1/case-categories lists them), named in the page's
    language."""
    english = (get_language() or "").startswith("en")
    return [
        (c.code, (c.name_en or c.name) if english else c.name)
        for c in Category.objects.filter(active=True)
    ]


def unit_choices() -> list[Any]:
    """Towns and their villages/communities, grouped by town: where to send a request that has
    no point on the map."""
    groups: list[Any] = [("", _("Choose if you picked no point on the map"))]
    towns: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    for unit in Unit.objects.filter(level__in=["town", "village"]).order_by("code"):
        if unit.level == "town":
            names[unit.code] = unit.name
            towns.setdefault(unit.code, []).insert(
                0, (unit.code, str(_("%(town)s (whole town)") % {"town": unit.name}))
            )
        else:
            towns.setdefault(unit.code[:9], []).append((unit.code, unit.name))
    for town, options in towns.items():
        groups.append((names.get(town, town), options))
    return groups


class SubmitForm(forms.Form):
    category = forms.ChoiceField(label=_("What is it about?"))
    description = forms.CharField(
        label=_("Describe the matter"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What happened, where exactly, since when. At least 4 characters."),
        error_messages={"required": _("Describe the matter in at least 4 characters")},
    )
    lon = forms.CharField(required=False, widget=forms.HiddenInput)
    lat = forms.CharField(required=False, widget=forms.HiddenInput)
    address = forms.CharField(
        label=_("Address or landmark"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    unit = forms.ChoiceField(
        label=_("Village, community or town"),
        required=False,
        help_text=_("Needed when you pick no point on the map."),
    )
    photos = PhotosField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to 9 photos (JPEG, PNG, WebP or HEIC)."),
    )
    reporter_phone = forms.CharField(
        label=_("Your phone number"),
        max_length=20,
        help_text=_("Needed to follow your request; staff may call you back. Never shown."),
        error_messages={"required": _("A phone number is needed to follow your request")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    reporter_name = forms.CharField(
        label=_("Your name (optional)"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    enterprise = forms.BooleanField(label=_("I report for an enterprise or a shop"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        category = self.fields["category"]
        unit = self.fields["unit"]
        assert isinstance(category, forms.ChoiceField) and isinstance(unit, forms.ChoiceField)
        category.choices = [("", _("Choose a category")), *category_choices()]
        unit.choices = unit_choices()
        # The server stops a larger photo while it arrives (core/uploads.py), and a browser may
        # then show a reset connection: portal.js checks the sizes before sending.
        limit = settings.CASE_PHOTO_MAX_BYTES
        self.fields["photos"].widget.attrs.update(
            {
                "data-max-bytes": str(limit),
                "data-too-large": _("Each photo may be at most %(size)s: choose a smaller one.")
                % {"size": format_size(limit)},
            }
        )


class LookupForm(forms.Form):
    tracking_code = forms.CharField(
        label=_("Tracking code"),
        max_length=20,
        error_messages={"required": _("Enter the tracking code you were given")},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    phone = forms.CharField(
        label=_("Phone number you gave"),
        max_length=20,
        error_messages={"required": _("Enter the phone number you gave with the request")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )


RATING_CHOICES = [
    (5, _("5 stars: very satisfied")),
    (4, _("4 stars: satisfied")),
    (3, _("3 stars: acceptable")),
    (2, _("2 stars: dissatisfied")),
    (1, _("1 star: very dissatisfied")),
]


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with the result?"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose from 1 to 5 stars")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def choices_with_stars(self) -> list[tuple[Any, str]]:
        """Each radio button with its stars drawn (shown, not read out)."""
        return [
            (radio, "★" * int(radio.data["value"]) + "☆" * (5 - int(radio.data["value"])))
            for radio in self["rating"]
        ]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("What is still wrong?"),
        min_length=2,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": _("Say what is still wrong"),
            "min_length": _("Say what is still wrong"),
        },
    )
