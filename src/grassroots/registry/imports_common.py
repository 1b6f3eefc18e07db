"""What the household and resident importers share: cell parsers (tags, dates, relations and
residency types), the unit of rows without a place, and the bulk audit helpers."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core.imports import Importer, ImportRefused, split_values
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_text, compact
from grassroots.territory.models import Unit

from .models import Resident, Tag, join_tags


class UnknownUnit(ImportRefused, ValueError):
    """--unit names no unit inside the importer's scope."""

    parameter = "unit"


def default_unit(code: str | None, scope: Scope) -> Unit | None:
    """The unit for rows without a grid/household: the one given, or the only top-level unit.

    A unit given by code must exist inside `scope` (UnknownUnit otherwise); the implied
    top-level unit is used only when it lies inside `scope`.
    """
    units = Unit.objects.in_scope(scope)
    if code:
        unit = units.filter(code=code).first()
        if unit is None:
            raise UnknownUnit(_("no unit with code %(code)s") % {"code": code})
        return unit
    roots = list(Unit.objects.filter(parent__isnull=True)[:2])
    if len(roots) == 1 and scope.contains(roots[0].code):
        return roots[0]
    return None


class RegistryImporter(Importer):
    """Households and residents: the options of `grassroots import` and the audit trail."""

    options = ("errors", "unit", "as_user")
    record_event = staticmethod(audit.record)
    acting = staticmethod(acting)

    def __init__(self, *, scope: Scope | None = None, unit_code: str | None = None) -> None:
        super().__init__(scope=scope)
        self.unit_code = unit_code


def tag_vocabulary() -> dict[str, str]:
    return {clean_text(name): name for name in Tag.objects.values_list("name", flat=True)}


def parse_tags(
    raw: str, vocabulary: dict[str, str], cache: dict[str, tuple[str, str | None]]
) -> tuple[str, str | None]:
    """(stored tags, error) for a tags cell; cached because tag cells repeat a lot."""
    hit = cache.get(raw)
    if hit is not None:
        return hit
    names = split_values(raw)
    unknown = [n for n in names if n not in vocabulary]
    value: tuple[str, str | None]
    if unknown:
        value = (
            "",
            _("unknown tag %(tags)s (known tags: %(known)s)")
            % {
                "tags": "、".join(unknown),
                "known": "、".join(sorted(vocabulary)),
            },
        )
    else:
        value = (join_tags([vocabulary[n] for n in names]), None)
    cache[raw] = value
    return value


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")


def parse_date(raw: str) -> tuple[datetime.date | None, str | None]:
    text = compact(raw)
    if not text:
        return None, None
    text = text.split("T")[0]
    for fmt in _DATE_FORMATS:
        try:
            value = datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if value > datetime.date.today():
            return None, _("date %(v)s is in the future") % {"v": raw}
        return value, None
    return None, _("%(v)s is not a date (use YYYY-MM-DD)") % {"v": raw}


def _choice_map(choices: Iterable[tuple[str, Any]], extra: dict[str, str]) -> dict[str, str]:
    mapping = {str(value).lower(): value for value, _label in choices}
    mapping.update({k.lower(): v for k, v in extra.items()})
    return mapping


RELATIONS = _choice_map(
    Resident.Relation.choices,
    {
        "户主": "head",
        "本人": "head",
        "配偶": "spouse",
        "妻": "spouse",
        "夫": "spouse",
        "妻子": "spouse",
        "丈夫": "spouse",
        "子女": "child",
        "子": "child",
        "女": "child",
        "儿子": "child",
        "女儿": "child",
        "长子": "child",
        "长女": "child",
        "次子": "child",
        "次女": "child",
        "父母": "parent",
        "父亲": "parent",
        "母亲": "parent",
        "父": "parent",
        "母": "parent",
        "孙子女": "grandchild",
        "孙子": "grandchild",
        "孙女": "grandchild",
        "外孙子": "grandchild",
        "外孙女": "grandchild",
        "祖父母": "grandparent",
        "祖父": "grandparent",
        "祖母": "grandparent",
        "兄弟姐妹": "sibling",
        "兄": "sibling",
        "弟": "sibling",
        "姐": "sibling",
        "妹": "sibling",
        "儿媳": "child_in_law",
        "女婿": "child_in_law",
        "其他": "other",
        "租户": "tenant",
        "租客": "tenant",
    },
)
RESIDENCIES = _choice_map(
    Resident.Residency.choices,
    {
        "户籍": "registered",
        "户籍人口": "registered",
        "常住": "resident",
        "常住人口": "resident",
        "流动": "floating",
        "流动人口": "floating",
    },
)


def parse_choice(raw: str, mapping: dict[str, str], what: str) -> tuple[str, str | None]:
    text = compact(raw).lower()
    if not text:
        return "", None
    value = mapping.get(text)
    if value is None:
        known = sorted({k for k in mapping if not k.isascii()})
        return "", _("%(v)s is not a known %(what)s (use one of %(known)s)") % {
            "v": raw,
            "what": what,
            "known": "、".join(known),
        }
    return value, None


def invalid(validator: Any, value: str) -> str | None:
    """The reason a Django field validator refuses `value`, or None."""
    try:
        validator(value)
    except ValidationError as exc:
        return str(exc.messages[0])
    return None


def audit_name(field: str) -> str:
    """The name the audit trail uses for an import column (the model field's name)."""
    return field[:-3] if field.endswith("_id") else field


SensitiveItems = list[tuple[Any, str, str, dict[str, Any]]]


def audit_sensitive(kind: str, created: SensitiveItems, updated: SensitiveItems) -> None:
    """Sensitive tags (特殊人群) given or changed by an import: events of their own, marked
    sensitive, read only with the grant (see audit.services.split_sensitive)."""
    if created:
        audit.record_many(audit.Event.Action.CREATE, kind, created, sensitive=True)
    if updated:
        audit.record_many(audit.Event.Action.UPDATE, kind, updated, sensitive=True)


def last_pk(model: Any) -> int:
    return int(model.objects.order_by().aggregate(m=Max("pk"))["m"] or 0)


def pks_by(model: Any, field: str, keys: list[Any], after_pk: int) -> dict[Any, int]:
    """Primary keys of rows just written (all above `after_pk`), by a key unique in the batch."""
    found: dict[Any, int] = {}
    if len(keys) > 5_000:
        # Many rows: one range scan of the new rows beats thousands of IN lookups.
        wanted = set(keys)
        for key, pk in (
            model.objects.filter(pk__gt=after_pk).order_by().values_list(field, "pk").iterator()
        ):
            if key in wanted:
                found[key] = pk
        return found
    for start in range(0, len(keys), 900):
        found.update(
            model.objects.filter(**{f"{field}__in": keys[start : start + 900]})
            .order_by()
            .values_list(field, "pk")
        )
    return found
