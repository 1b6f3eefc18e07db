"""The upload form of the registry import page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grassroots.core.scoping import Scope
from grassroots.core.tables import format_size
from grassroots.registry.imports import UnknownUnit, default_unit
from grassroots.web.models import ImportJob

SUFFIXES = (".csv", ".xlsx", ".xls")
UNIT_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12})$")


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("What the file holds"),
        choices=ImportJob.Kind.choices,
        initial=ImportJob.Kind.HOUSEHOLDS,
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(SUFFIXES)}),
    )
    unit_code = forms.CharField(
        label=gettext_lazy("Default village or community (code)"),
        required=False,
        max_length=12,
        help_text=gettext_lazy(
            "Where rows without a grid or household go, e.g. 350426100001. Leave empty if every "
            "row names its grid, coordinates or household."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        limit = settings.IMPORT_MAX_BYTES
        self.fields["file"].widget.attrs.update(
            {"data-max-bytes": str(limit), "data-too-large": too_large_message(limit)}
        )
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or GB18030) or Excel (.xlsx or the older .xls), the first row being the "
            "column headers; at most %(limit)s."
        ) % {"limit": format_size(settings.IMPORT_MAX_BYTES)}

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in SUFFIXES:
            raise forms.ValidationError(_("Choose a .csv, .xlsx or .xls file."))
        limit = settings.IMPORT_MAX_BYTES
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(too_large_message(limit))
        if not upload.size:
            raise forms.ValidationError(_("The file is empty."))
        return upload

    def clean_unit_code(self) -> str:
        code: str = self.cleaned_data["unit_code"].strip()
        if not code:
            return ""
        if not UNIT_CODE.match(code):
            raise forms.ValidationError(
                _("A unit code has 6 (county), 9 (town) or 12 (village) digits.")
            )
        try:
            default_unit(code, Scope.for_user(self.user))
        except UnknownUnit:
            raise forms.ValidationError(
                _("There is no village or community %(code)s in your area.") % {"code": code}
            ) from None
        return code


def too_large_message(limit: int) -> str:
    return _(
        "The file is larger than the import limit of %(limit)s. Split it into smaller files, "
        "or ask the administrator to raise IMPORT_MAX_BYTES."
    ) % {"limit": format_size(limit)}
