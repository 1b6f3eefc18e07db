"""Validators for the identifiers of people and organizations.

Each returns the normalized value or raises django.core.exceptions.ValidationError with a
message a township official can act on. They are shared by models, forms, the API and importers.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from .text import compact

# ASCII digits only: \d alone also matches other scripts' digits (١٢٣), which int() accepts.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: datetime.date
    sex: str  # "M" or "F"


def parse_id_number(value: object, *, today: datetime.date | None = None) -> IdNumber:
    """Validate a resident ID number (GB 11643) and derive birth date and sex.

    The check character and a real birth date not in the future decide validity. The region
    code is never a reason to refuse: codes change and people keep their old numbers.
    """
    number = compact(value).upper()
    if not number:
        raise ValidationError(_("ID number is empty"), code="required")
    if len(number) != 18:
        raise ValidationError(
            _("ID number must have 18 characters, not %(n)d") % {"n": len(number)}, code="length"
        )
    if not _ID_SHAPE.match(number):
        raise ValidationError(
            _("ID number must be 17 digits followed by a digit or X"), code="format"
        )
    try:
        # What stdnum's ric.get_birth_date does, minus its second clean-up of the number: this
        # runs once per row of a county-sized import.
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("ID number holds no real birth date (%(date)s)") % {"date": number[6:14]},
            code="birth_date",
        ) from None
    if birth > (today or datetime.date.today()):
        raise ValidationError(_("ID number has a birth date in the future"), code="birth_date")
    if birth.year < 1880:
        raise ValidationError(_("ID number has a birth year before 1880"), code="birth_date")
    expected = ric.calc_check_digit(number)
    if number[-1] != expected:
        raise ValidationError(
            _("ID number check character is wrong (expected %(c)s)") % {"c": expected},
            code="checksum",
        )
    sex = "M" if int(number[16]) % 2 else "F"
    return IdNumber(number=number, birth_date=birth, sex=sex)


def validate_id_number(value: object) -> str:
    return parse_id_number(value).number


def id_number_with_check(first17: str) -> str:
    """The full 18-character number for 17 digits (used by the demo and tests)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def validate_credit_code(value: object) -> str:
    """Validate a unified social credit code (GB 32100) and return it upper-case."""
    code = compact(value).upper()
    if not code:
        raise ValidationError(_("Credit code is empty"), code="required")
    if len(code) != 18:
        raise ValidationError(
            _("Credit code must have 18 characters, not %(n)d") % {"n": len(code)}, code="length"
        )
    try:
        return uscc.validate(code)
    except StdnumError as exc:
        if "checksum" in type(exc).__name__.lower():
            raise ValidationError(
                _("Credit code check character is wrong"), code="checksum"
            ) from None
        raise ValidationError(
            _("Credit code has characters not allowed here"), code="format"
        ) from None


def credit_code_with_check(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


def validate_mobile(value: object) -> str:
    """Validate a mainland mobile number (11 digits, 1[3-9]...). +86/0086 prefixes are removed."""
    number = compact(value).replace("-", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
    if not _MOBILE.match(number):
        raise ValidationError(
            _("Mobile number must be 11 digits starting with 13 to 19"), code="format"
        )
    return number


# Characters no name may hold: markup (< and >), control characters, and the marks that make
# text display in another order than it is stored (a name could then read as another).
_NOT_IN_NAMES = re.compile(r"[<>\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A household code: letters, digits, and - . _ inside; what registers and house plates use.
_HOUSEHOLD_CODE = re.compile(r"^[0-9A-Za-z](?:[0-9A-Za-z._-]{0,31})$")


def validate_name(value: object) -> None:
    """A name shown on pages, maps and exports (a unit, grid, person, enterprise) is plain text.

    Django field validator; importers call it on each name too.
    """
    found = _NOT_IN_NAMES.search(str(value or ""))
    if found is None:
        return
    char = found.group()
    shown = char if char in "<>" else f"U+{ord(char):04X}"
    raise ValidationError(
        _("A name may not contain %(char)s: no markup, control or text-direction characters")
        % {"char": shown},
        code="name",
    )


def validate_household_code(value: object) -> None:
    """Letters and digits, with - . _ inside; at most 32 characters (Django field validator)."""
    if not _HOUSEHOLD_CODE.match(str(value or "")):
        raise ValidationError(
            _(
                "A household code has at most 32 letters and digits, with - . or _ between"
                " them: %(value)s is not one"
            )
            % {"value": str(value)[:40]},
            code="household_code",
        )


def mask_id_number(number: str) -> str:
    """3501**********123X: the first four and last four characters stay."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(number: str) -> str:
    """138****5678."""
    if not number:
        return ""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_name(name: str) -> str:
    """赵**: the first character stays, so a record is recognisable but not identifying."""
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1) if len(name) > 1 else "*"
