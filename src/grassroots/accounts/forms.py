"""Forms of the accounts pages."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CODE_FORMAT = _("Enter the 6-digit code from your authenticator app.")


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        error_messages={"required": CODE_FORMAT},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        # Apps show the code as "123 456"; people type it that way.
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError(CODE_FORMAT, code="format")
        return code
