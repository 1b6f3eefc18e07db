"""The grid worker's report form: what `cases.intake.case_report` takes for a patrol report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from grassroots.cases.intake import MAX_PHOTOS
from grassroots.cases.models import Category


def category_label(category: Category) -> str:
    """The category's name in the reader's language (the English name when reading English)."""
    if (get_language() or "").startswith("en") and category.name_en:
        return category.name_en
    return category.name


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; the service sniffs and limits them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultiplePhotoInput(attrs={"accept": "image/*", "capture": "environment"}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultiplePhotoField, self).clean(item, initial) for item in items]


class ReportForm(forms.Form):
    """Field names follow the service's, so its errors (`message_dict`) land next to them."""

    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(
        label=_("What is the matter?"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Where exactly, what you saw, who is affected."),
    )
    urgent = forms.BooleanField(
        label=_("Urgent (deadline counted in hours)"),
        required=False,
    )
    address = forms.CharField(
        label=_("Address or landmark"),
        max_length=200,
        required=False,
    )
    # Filled by the browser's position ("Use my location"); empty is fine.
    lon = forms.FloatField(required=False, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput)
    household = forms.CharField(
        label=_("Household code"),
        max_length=32,
        required=False,
        help_text=_("Optional: the household this concerns."),
    )
    unit = forms.ChoiceField(
        label=_("Village/community queue"),
        required=False,
        help_text=_("Takes the case when there is neither a location nor a household."),
    )
    photos = MultiplePhotoField(
        label=_("Photos"),
        required=False,
    )

    def __init__(self, *args: Any, units: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = Category.objects.filter(active=True).order_by("position", "code")
        category_field = self.fields["category"]
        unit_field = self.fields["unit"]
        assert isinstance(category_field, forms.ChoiceField)
        assert isinstance(unit_field, forms.ChoiceField)
        category_field.choices = [("", "—")] + [(c.code, category_label(c)) for c in categories]
        unit_field.choices = [("", "—"), *units]
        self.fields["photos"].help_text = gettext("Up to %(n)d photos, taken now or chosen.") % {
            "n": MAX_PHOTOS
        }
        self.fields["description"].widget.attrs["maxlength"] = 4000
