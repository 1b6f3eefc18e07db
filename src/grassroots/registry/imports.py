"""Spreadsheet import of households and residents.

All-or-nothing: every row is read and checked first; if any row has a problem nothing is
written and each problem is reported as `row N: <column as written>: <reason>`. A valid file is
written in one transaction as an upsert (households by code, residents by ID number), so
importing the same file twice changes nothing the second time. The importer's `scope` bounds
what a file may touch: grids, households and units named in it must lie inside the scope, and a
row whose code or ID number matches a household or resident outside it is a problem, not an
update.

Both importers take an optional `progress(stage, rows)` callback for long imports (the web
console's import jobs): `("reading", n)` every PROGRESS_EVERY rows of the check and once when
it ends, then `("writing", n)` with the rows about to be written, just before the write
transaction opens. It is called outside that transaction.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.bulk import db_date, db_datetime, insert_rows, update_rows, without_gc
from grassroots.core.crypto import BulkCrypto
from grassroots.core.imports import (
    Column,
    ImportResult,
    Problem,
    match_columns,
    open_table,
    parse_float,
    source_path,
)
from grassroots.core.scoping import Scope
from grassroots.core.tables import Table
from grassroots.core.text import clean_text, compact, name_key, name_pinyin
from grassroots.core.validators import (
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
    validate_household_code,
    validate_mobile,
    validate_name,
)
from grassroots.territory.geometry import GridIndex
from grassroots.territory.models import Grid, Unit

from .models import (
    Household,
    Resident,
    Tag,
    join_tags,
    sensitive_tag_names,
    split_tag_changes,
)

TAG_SPLIT = re.compile(r"[;；]")
# Rows between two progress reports of the check.
PROGRESS_EVERY = 1000
Progress = Callable[[str, int], None]


def _tag_vocabulary() -> dict[str, str]:
    return {clean_text(name): name for name in Tag.objects.values_list("name", flat=True)}


def _parse_tags(
    raw: str, vocabulary: dict[str, str], cache: dict[str, tuple[str, str | None]]
) -> tuple[str, str | None]:
    """(stored tags, error) for a tags cell; cached because tag cells repeat a lot."""
    hit = cache.get(raw)
    if hit is not None:
        return hit
    names = [clean_text(t) for t in TAG_SPLIT.split(raw)]
    names = [n for n in names if n]
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


def _parse_date(raw: str) -> tuple[datetime.date | None, str | None]:
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


def _choice(raw: str, mapping: dict[str, str], what: str) -> tuple[str, str | None]:
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


class UnknownUnit(ValueError):
    """--unit names no unit inside the importer's scope."""


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


# ---------------------------------------------------------------------------------------------
# Households

HOUSEHOLD_COLUMNS = (
    Column("code", ("户编号", "code", "household_code", "户号"), required=True),
    Column("address", ("地址", "address", "住址", "家庭住址"), required=True),
    Column("grid_code", ("网格编码", "grid_code", "网格代码", "grid")),
    Column("lon", ("经度", "lon", "lng", "longitude")),
    Column("lat", ("纬度", "lat", "latitude")),
    Column("tags", ("标签", "tags", "户标签")),
    Column("building", ("楼栋", "building")),
    Column("unit_no", ("单元", "unit_no")),
    Column("room", ("房号", "room")),
)
_HOUSEHOLD_FIELDS = (
    "address",
    "building",
    "unit_no",
    "room",
    "lon",
    "lat",
    "grid_id",
    "unit_id",
    "scope_code",
    "tags",
)


@without_gc
def import_households(
    source: str | Path | Table,
    *,
    scope: Scope | None = None,
    dry_run: bool = False,
    unit_code: str | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check and upsert households by code. See the module docstring for the rules; a file of more
    than `max_rows` rows is refused (TableError)."""
    scope = scope or Scope.everything()
    table = open_table(source, max_rows=max_rows)
    result = ImportResult(
        "households",
        dry_run=dry_run,
        encoding=table.encoding,
        headers=table.headers,
        source_path=source_path(source),
    )
    cols = match_columns(table, HOUSEHOLD_COLUMNS, result)
    if result.problems:
        return result
    if ("lon" in cols) != ("lat" in cols):
        missing = "纬度 (lat)" if "lon" in cols else "经度 (lon)"
        result.problems.append(Problem(1, missing, _("longitude and latitude columns go together")))
        return result

    grids = {
        code: (pk, unit_id)
        for code, pk, unit_id in Grid.objects.in_scope(scope).values_list("code", "pk", "unit_id")
    }
    grid_codes = {pk: code for code, (pk, _u) in grids.items()}
    fallback = default_unit(unit_code, scope)
    vocabulary = _tag_vocabulary()
    tag_cache: dict[str, tuple[str, str | None]] = {}
    header = {key: label for key, (_i, label) in cols.items()}
    index = {key: i for key, (i, _label) in cols.items()}

    parsed: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    to_place: list[dict[str, Any]] = []
    longitude_label, latitude_label = _("longitude"), _("latitude")
    for number, cells in table.rows:
        result.rows += 1
        if progress is not None and not result.rows % PROGRESS_EVERY:
            progress("reading", result.rows)
        before = len(result.problems)

        def problem(key: str, reason: str, number: int = number) -> None:
            result.problems.append(Problem(number, header[key], reason))

        code = compact(cells[index["code"]])
        if not code:
            problem("code", _("household code is empty"))
        elif len(code) > 32:
            problem("code", _("household code is longer than 32 characters"))
        elif (code_error := _invalid(validate_household_code, code)) is not None:
            problem("code", code_error)
        elif code in seen:
            problem("code", _("duplicate of row %(row)d") % {"row": seen[code]})
        else:
            seen[code] = number
        row: dict[str, Any] = {"code": code, "_row": number}
        address = clean_text(cells[index["address"]])
        if not address:
            problem("address", _("address is empty"))
        elif len(address) > 200:
            problem("address", _("address is longer than 200 characters"))
        row["address"] = address
        for key in ("building", "unit_no", "room"):
            if key in index:
                value = clean_text(cells[index[key]])
                if len(value) > 20:
                    problem(key, _("longer than 20 characters"))
                row[key] = value
        if "lon" in index:
            lon, error = parse_float(cells[index["lon"]], -180, 180, longitude_label)
            if error:
                problem("lon", error)
            lat, error = parse_float(cells[index["lat"]], -90, 90, latitude_label)
            if error:
                problem("lat", error)
            if (lon is None) != (lat is None) and len(result.problems) == before:
                problem("lat" if lat is None else "lon", _("longitude and latitude go together"))
            row["lon"], row["lat"] = lon, lat
        grid_code = compact(cells[index["grid_code"]]) if "grid_code" in index else ""
        if grid_code:
            grid = grids.get(grid_code)
            if grid is None:
                problem("grid_code", _("grid %(code)s does not exist") % {"code": grid_code})
            else:
                row["grid_id"], row["unit_id"] = grid
                row["scope_code"] = grid_code
        elif "grid_code" in index or "lon" in index:
            if row.get("lon") is not None:
                to_place.append(row)
            elif fallback is not None:
                row["grid_id"], row["unit_id"], row["scope_code"] = None, fallback.pk, fallback.code
            elif len(result.problems) == before:
                column = "grid_code" if "grid_code" in index else "lon"
                problem(
                    column,
                    _(
                        "no grid code and no coordinates: give one (or import with --unit CODE for households without a grid)"
                    ),
                )
        if "tags" in index:
            row["tags"], error = _parse_tags(cells[index["tags"]], vocabulary, tag_cache)
            if error:
                problem("tags", error)
        if len(result.problems) > before:
            result.bad_rows[number] = cells
        parsed.append(row)
    if progress is not None:
        progress("reading", result.rows)

    if to_place:
        located = GridIndex.from_queryset(Grid.objects.in_scope(scope)).locate(
            [r["lon"] for r in to_place], [r["lat"] for r in to_place]
        )
        unit_of = {pk: unit_id for pk, unit_id in grids.values()}
        for row, grid_pk in zip(to_place, located, strict=True):
            if grid_pk is None:
                label = header.get("lon", "")
                result.problems.append(
                    Problem(
                        row["_row"],
                        label,
                        _("the point (%(lon)s, %(lat)s) lies in no grid")
                        % {"lon": row["lon"], "lat": row["lat"]},
                    )
                )
                continue
            row["grid_id"], row["unit_id"], row["scope_code"] = (
                grid_pk,
                unit_of[grid_pk],
                grid_codes[grid_pk],
            )
    result.problems.sort(key=lambda p: p.row)
    if result.problems:
        return result

    existing = _existing_households(seen.keys())
    # Rows with neither grid column nor coordinates keep their territory; new ones need one.
    creates, updates = [], []
    now = db_datetime(timezone.now())
    scope_at = _HOUSEHOLD_FIELDS.index("scope_code")
    for row in parsed:
        old = existing.get(row["code"])
        if old is not None and not scope.contains(old[1][scope_at]):
            # Codes are unique across the registry: naming another area's household must not
            # take it over.
            result.problems.append(
                Problem(
                    row["_row"],
                    header["code"],
                    _("household %(code)s is outside your area") % {"code": row["code"]},
                )
            )
            continue
        if old is None:
            if "unit_id" not in row:
                if fallback is None:
                    result.problems.append(
                        Problem(
                            row["_row"],
                            header["code"],
                            _("a new household needs a grid code or coordinates"),
                        )
                    )
                    continue
                row["grid_id"], row["unit_id"], row["scope_code"] = None, fallback.pk, fallback.code
            creates.append(row)
            continue
        pk, values = old
        merged = dict(zip(_HOUSEHOLD_FIELDS, values, strict=True))
        merged.update({k: v for k, v in row.items() if k in merged})
        new_values = tuple(merged[f] for f in _HOUSEHOLD_FIELDS)
        if new_values == values:
            result.unchanged += 1
        else:
            updates.append((*new_values, now, pk))
    if result.problems:
        return result
    result.created = len(creates)
    result.updated = len(updates)
    if dry_run:
        return result
    if progress is not None:
        progress("writing", len(creates) + len(updates))
    with transaction.atomic():
        after_pk = _last_pk(Household)
        insert_rows(
            Household,
            ("code", *_HOUSEHOLD_FIELDS, "created_at", "updated_at"),
            (
                (
                    r["code"],
                    r["address"],
                    r.get("building", ""),
                    r.get("unit_no", ""),
                    r.get("room", ""),
                    r.get("lon"),
                    r.get("lat"),
                    r["grid_id"],
                    r["unit_id"],
                    r["scope_code"],
                    r.get("tags", ""),
                    now,
                    now,
                )
                for r in creates
            ),
        )
        update_rows(Household, (*_HOUSEHOLD_FIELDS, "updated_at"), updates)
        if updates:
            _resync_members([u[-1] for u in updates])
        _audit_households(result, creates, updates, existing, after_pk)
    return result


def _invalid(validator: Any, value: str) -> str | None:
    """The reason a Django field validator refuses `value`, or None."""
    try:
        validator(value)
    except ValidationError as exc:
        return str(exc.messages[0])
    return None


def _audit_name(field: str) -> str:
    """The name the audit trail uses for an import column (the model field's name)."""
    return field[:-3] if field.endswith("_id") else field


def _audit_households(
    result: ImportResult,
    creates: list[dict[str, Any]],
    updates: list[tuple[Any, ...]],
    existing: dict[str, tuple[int, tuple[Any, ...]]],
    after_pk: int,
) -> None:
    """One event per household written, and one for the import, in the import's transaction."""
    kind = audit.object_type(Household)
    fields = [f for f in _HOUSEHOLD_FIELDS if f not in ("scope_code", "tags")]
    sensitive = sensitive_tag_names()
    secret_created: list[tuple[Any, str, str, dict[str, Any]]] = []
    secret_updated: list[tuple[Any, str, str, dict[str, Any]]] = []
    if creates:
        pks = _pks_by(Household, "code", [r["code"] for r in creates], after_pk)
        masked = []
        for r in creates:
            pk, label = pks[r["code"]], f"{r['code']} {r['address']}"
            shown, hidden = split_tag_changes({"tags": [None, r.get("tags") or None]}, sensitive)
            masked.append((pk, label, "", "", "", (shown.get("tags") or [None, ""])[1] or ""))
            if hidden:
                secret_created.append((pk, label, r["scope_code"], hidden))
        audit.record_created_rows(
            Household,
            sorted(masked),
            masked_keys=("", "", "", "tags"),
            columns={"code": "code", **{_audit_name(f): f for f in fields}},
            after_pk=after_pk,
        )
    if updates:
        old_by_pk = {pk: (code, values) for code, (pk, values) in existing.items()}
        items = []
        for new in updates:
            pk = new[-1]
            code, old = old_by_pk[pk]
            before = dict(zip(_HOUSEHOLD_FIELDS, old, strict=True))
            after = dict(zip(_HOUSEHOLD_FIELDS, new[: len(_HOUSEHOLD_FIELDS)], strict=True))
            changes = {
                _audit_name(f): [before[f], after[f]]
                for f in (*fields, "tags")
                if before[f] != after[f]
            }
            label = f"{code} {after['address']}"
            shown, hidden = split_tag_changes(changes, sensitive)
            if shown:
                items.append((pk, label, after["scope_code"], shown))
            if hidden:
                secret_updated.append((pk, label, after["scope_code"], hidden))
        audit.record_many(audit.Event.Action.UPDATE, kind, items)
    _audit_sensitive(kind, secret_created, secret_updated)
    _audit_import(result, kind)


SensitiveItems = list[tuple[Any, str, str, dict[str, Any]]]


def _audit_sensitive(kind: str, created: SensitiveItems, updated: SensitiveItems) -> None:
    """Sensitive tags (特殊人群) given or changed by an import: events of their own, marked
    sensitive, read only with the grant (see audit.services.split_sensitive)."""
    if created:
        audit.record_many(audit.Event.Action.CREATE, kind, created, sensitive=True)
    if updated:
        audit.record_many(audit.Event.Action.UPDATE, kind, updated, sensitive=True)


def _audit_import(result: ImportResult, kind: str) -> None:
    audit.record(
        audit.Event.Action.IMPORT,
        object_type=kind,
        object_repr=Path(result.source_path).name if result.source_path else "",
        changes={
            "file": Path(result.source_path).name if result.source_path else None,
            "encoding": result.encoding,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )


def _last_pk(model: Any) -> int:
    return int(model.objects.order_by().aggregate(m=Max("pk"))["m"] or 0)


def _pks_by(model: Any, field: str, keys: list[Any], after_pk: int) -> dict[Any, int]:
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


def _existing_households(codes: Iterable[str]) -> dict[str, tuple[int, tuple[Any, ...]]]:
    found: dict[str, tuple[int, tuple[Any, ...]]] = {}
    codes = list(codes)
    for start in range(0, len(codes), 900):
        chunk = codes[start : start + 900]
        for row in Household.objects.filter(code__in=chunk).values_list(
            "code", "pk", *_HOUSEHOLD_FIELDS
        ):
            found[row[0]] = (row[1], tuple(row[2:]))
    return found


def _resync_members(household_pks: list[int]) -> None:
    """Residents carry their household's territory: bring them along after households move."""
    from django.db.models import OuterRef, Subquery

    for start in range(0, len(household_pks), 900):
        chunk = household_pks[start : start + 900]
        scope = Household.objects.filter(pk=OuterRef("household_id"))
        Resident.objects.filter(household_id__in=chunk).exclude(
            scope_code=Subquery(scope.values("scope_code")[:1])
        ).update(
            scope_code=Subquery(scope.values("scope_code")[:1]),
            unit_id=Subquery(scope.values("unit_id")[:1]),
            updated_at=timezone.now(),
        )


# ---------------------------------------------------------------------------------------------
# Residents

RESIDENT_COLUMNS = (
    Column("name", ("姓名", "name"), required=True),
    Column(
        "id_number",
        ("身份证号", "id_number", "身份证号码", "公民身份号码", "身份证"),
        required=True,
    ),
    Column("phone", ("手机号", "phone", "手机号码", "手机", "联系电话", "mobile")),
    Column("household_code", ("户编号", "household_code", "户号")),
    Column("relation", ("与户主关系", "relation", "关系")),
    Column("residency", ("居住类型", "residency", "人口类型")),
    Column("tags", ("标签", "tags", "人员标签")),
    Column("moved_out_on", ("迁出日期", "moved_out_on")),
    Column("deceased_on", ("死亡日期", "deceased_on")),
)
# Compared on re-import; derived columns follow from these.
_RESIDENT_FIELDS = (
    "name",
    "phone_hash",
    "household_id",
    "relation",
    "residency",
    "tags",
    "moved_out_on",
    "deceased_on",
    "unit_id",
    "scope_code",
)
_RESIDENT_DERIVED = ("name_key", "name_pinyin", "name_initials", "id_tail", "sex", "birth_date")
# Columns of the residents table in the audit trail's creation events (masked ones aside).
_RESIDENT_AUDIT_COLUMNS = {
    "household": "household_id",
    "relation": "relation",
    "residency": "residency",
    "tags": "tags",
    "moved_out_on": "moved_out_on",
    "deceased_on": "deceased_on",
    "unit": "unit_id",
}
# Fields of the audit trail's resident events, in the order the import knows them.
_RESIDENT_AUDITED = (
    "name",
    "household_id",
    "relation",
    "residency",
    "tags",
    "moved_out_on",
    "deceased_on",
    "unit_id",
)

# Above this share of the table, reading all existing ID numbers at once beats IN lookups.
_FULL_SCAN_SHARE = 0.2


@without_gc
def import_residents(
    source: str | Path | Table,
    *,
    scope: Scope | None = None,
    dry_run: bool = False,
    unit_code: str | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check and upsert residents by ID number. See the module docstring for the rules; a file of more
    than `max_rows` rows is refused (TableError)."""
    scope = scope or Scope.everything()
    table = open_table(source, max_rows=max_rows)
    result = ImportResult(
        "residents",
        dry_run=dry_run,
        encoding=table.encoding,
        headers=table.headers,
        source_path=source_path(source),
    )
    cols = match_columns(table, RESIDENT_COLUMNS, result)
    if result.problems:
        return result
    header = {key: label for key, (_i, label) in cols.items()}
    index = {key: i for key, (i, _label) in cols.items()}
    households = (
        {
            code: (pk, unit_id, scope_code)
            for code, pk, unit_id, scope_code in Household.objects.in_scope(scope).values_list(
                "code", "pk", "unit_id", "scope_code"
            )
        }
        if "household_code" in index
        else {}
    )
    fallback = default_unit(unit_code, scope)
    vocabulary = _tag_vocabulary()
    tag_cache: dict[str, tuple[str, str | None]] = {}
    today = datetime.date.today()
    i_name, i_id = index["name"], index["id_number"]
    i_phone = index.get("phone")
    i_household = index.get("household_code")
    i_relation = index.get("relation")
    i_residency = index.get("residency")
    i_tags = index.get("tags")
    i_moved = index.get("moved_out_on")
    i_deceased = index.get("deceased_on")
    problems = result.problems
    pinyin_cache: dict[str, tuple[str, str, str, str]] = {}
    # Relation, residency and date cells repeat a few values (mostly empty dates): parse each
    # distinct value once, and translate the labels once, not per row.
    relation_cache: dict[str, tuple[str, str | None]] = {}
    residency_cache: dict[str, tuple[str, str | None]] = {}
    date_cache: dict[str, tuple[datetime.date | None, str | None]] = {}
    relation_label, residency_label = _("relation"), _("residency type")

    sealer = BulkCrypto()
    digest, tail_digest, encrypt = sealer.digest, sealer.tail_digest, sealer.encrypt
    parsed: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        result.rows += 1
        if progress is not None and not result.rows % PROGRESS_EVERY:
            progress("reading", result.rows)
        before = len(problems)

        def problem(key: str, reason: str, number: int = number) -> None:
            problems.append(Problem(number, header[key], reason))

        row: dict[str, Any] = {"_row": number}
        raw_name = cells[i_name]
        keys = pinyin_cache.get(raw_name)
        if keys is None:
            name = clean_text(raw_name)
            key = name_key(name)
            keys = (name, key, *name_pinyin(key))
            pinyin_cache[raw_name] = keys
        row["name"], row["name_key"], row["name_pinyin"], row["name_initials"] = keys
        if not row["name"]:
            problem("name", _("name is empty"))
        elif len(row["name"]) > 50:
            problem("name", _("name is longer than 50 characters"))
        elif (name_error := _invalid(validate_name, row["name"])) is not None:
            problem("name", name_error)
        try:
            parsed_id = parse_id_number(cells[i_id], today=today)
        except ValidationError as exc:
            problem("id_number", exc.messages[0])
        else:
            number_ = parsed_id.number
            row["id_number"] = number_
            row["id_hash"] = digest(number_)
            row["id_tail"] = tail_digest(number_[-4:])
            row["sex"] = parsed_id.sex
            row["birth_date"] = parsed_id.birth_date
            first = seen.get(number_)
            if first is not None:
                problem("id_number", _("duplicate of row %(row)d") % {"row": first})
            else:
                seen[number_] = number
        if i_phone is not None:
            raw = cells[i_phone]
            if raw.strip():
                try:
                    row["phone"] = validate_mobile(raw)
                    row["phone_hash"] = digest(row["phone"])
                except ValidationError as exc:
                    problem("phone", exc.messages[0])
            else:
                row["phone"] = row["phone_hash"] = ""
        if i_household is not None:
            code = compact(cells[i_household])
            if code:
                household = households.get(code)
                if household is None:
                    problem(
                        "household_code", _("household %(code)s does not exist") % {"code": code}
                    )
                else:
                    row["household_id"], row["unit_id"], row["scope_code"] = household
            else:
                row["household_id"] = None
        if i_relation is not None:
            raw = cells[i_relation]
            choice = relation_cache.get(raw)
            if choice is None:
                choice = relation_cache[raw] = _choice(raw, RELATIONS, relation_label)
            row["relation"], error = choice
            if error:
                problem("relation", error)
            elif (
                row["relation"]
                and row.get("household_id", 0) is None
                and row["relation"] != "tenant"
            ):
                problem("relation", _("a relation to the head needs a household code"))
        if i_residency is not None:
            raw = cells[i_residency]
            choice = residency_cache.get(raw)
            if choice is None:
                choice = residency_cache[raw] = _choice(raw, RESIDENCIES, residency_label)
            value, error = choice
            if error:
                problem("residency", error)
            elif value:
                row["residency"] = value
        if i_tags is not None:
            row["tags"], error = _parse_tags(cells[i_tags], vocabulary, tag_cache)
            if error:
                problem("tags", error)
        for key, i in (("moved_out_on", i_moved), ("deceased_on", i_deceased)):
            if i is not None:
                raw = cells[i]
                parsed_date = date_cache.get(raw)
                if parsed_date is None:
                    parsed_date = date_cache[raw] = _parse_date(raw)
                row[key], error = parsed_date
                if error:
                    problem(key, error)
        if len(problems) > before:
            result.bad_rows[number] = cells
        parsed.append(row)
    if progress is not None:
        progress("reading", result.rows)
    if problems:
        return result

    by_hash = {row["id_hash"]: row["id_number"] for row in parsed}
    existing, ambiguous = _existing_residents(list(by_hash))
    unit_codes = dict(Unit.objects.values_list("pk", "code"))
    scope_at = _RESIDENT_FIELDS.index("scope_code")
    now = db_datetime(timezone.now())
    creates: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    changed: list[tuple[int, dict[str, Any], tuple[Any, ...], tuple[Any, ...]]] = []
    for row in parsed:
        number_ = row["id_hash"]
        if number_ in ambiguous:
            problems.append(
                Problem(
                    row["_row"],
                    header["id_number"],
                    _(
                        "this ID number belongs to %(n)d residents in the registry; resolve the duplicate first"
                    )
                    % {"n": ambiguous[number_]},
                )
            )
            continue
        old = existing.get(number_)
        if old is not None and not scope.contains(old[1][scope_at]):
            # The person is on the registry elsewhere: neither update nor move them from here.
            problems.append(
                Problem(
                    row["_row"],
                    header["id_number"],
                    _("the resident with this ID number lives outside your area"),
                )
            )
            continue
        if row.get("household_id") is None and not ("household_id" not in row and old):
            # No household: the fallback unit if one was given, else the unit they were in.
            if fallback is not None:
                row["unit_id"], row["scope_code"] = fallback.pk, fallback.code
            elif old is not None:
                old_unit = old[1][_RESIDENT_FIELDS.index("unit_id")]
                row["unit_id"], row["scope_code"] = old_unit, unit_codes[old_unit]
            else:
                column = header.get("household_code", header["id_number"])
                problems.append(
                    Problem(
                        row["_row"],
                        column,
                        _(
                            "no household code: import with --unit CODE to say where this resident lives"
                        ),
                    )
                )
                continue
        if old is None:
            creates.append(
                (
                    row["name"],
                    row["name_key"],
                    row["name_pinyin"],
                    row["name_initials"],
                    encrypt(row["id_number"]),
                    row["id_hash"],
                    row["id_tail"],
                    row["sex"],
                    db_date(row["birth_date"]),
                    encrypt(row.get("phone", "")),
                    row.get("phone_hash", ""),
                    row.get("household_id"),
                    row.get("relation", ""),
                    row.get("residency", "registered"),
                    db_date(row.get("moved_out_on")),
                    db_date(row.get("deceased_on")),
                    row["unit_id"],
                    row["scope_code"],
                    row.get("tags", ""),
                    now,
                    now,
                )
            )
            continue
        pk, values = old
        merged = dict(zip(_RESIDENT_FIELDS, values, strict=True))
        for key in _RESIDENT_FIELDS:
            if key in row:
                merged[key] = row[key]
        new_values = tuple(merged[f] for f in _RESIDENT_FIELDS)
        if new_values == values:
            result.unchanged += 1
            continue
        out = [db_date(v) if isinstance(v, datetime.date) else v for v in new_values]
        phone = [encrypt(row["phone"])] if i_phone is not None else []
        updates.append(
            (*out, row["name_key"], row["name_pinyin"], row["name_initials"], now, *phone, pk)
        )
        changed.append((pk, row, values, new_values))
    if problems:
        return result
    result.created, result.updated = len(creates), len(updates)
    if dry_run:
        return result
    if progress is not None:
        progress("writing", len(creates) + len(updates))
    with transaction.atomic():
        after_pk = _last_pk(Resident)
        # Old mobile numbers of the changed rows, for the audit trail (masked there).
        old_phones = _phones([c[0] for c in changed if c[2][1] != c[3][1]])
        insert_rows(
            Resident,
            (
                "name",
                "name_key",
                "name_pinyin",
                "name_initials",
                "id_number",
                "id_hash",
                "id_tail",
                "sex",
                "birth_date",
                "phone",
                "phone_hash",
                "household_id",
                "relation",
                "residency",
                "moved_out_on",
                "deceased_on",
                "unit_id",
                "scope_code",
                "tags",
                "created_at",
                "updated_at",
            ),
            creates,
        )
        update_rows(
            Resident,
            (
                *_RESIDENT_FIELDS,
                "name_key",
                "name_pinyin",
                "name_initials",
                "updated_at",
                *(["phone"] if i_phone is not None else []),
            ),
            updates,
        )
        _audit_residents(result, parsed, existing, changed, old_phones, after_pk)
    return result


def _phones(pks: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(pks), 900):
        found.update(
            Resident.objects.filter(pk__in=pks[start : start + 900])
            .order_by()
            .values_list("pk", "phone")
        )
    return found


def _audit_residents(
    result: ImportResult,
    parsed: list[dict[str, Any]],
    existing: dict[str, tuple[int, tuple[Any, ...]]],
    changed: list[tuple[int, dict[str, Any], tuple[Any, ...], tuple[Any, ...]]],
    old_phones: dict[int, str],
    after_pk: int,
) -> None:
    """One event per resident written, and one for the import; values masked."""
    kind = audit.object_type(Resident)
    sensitive = sensitive_tag_names()
    secret_created: SensitiveItems = []
    secret_updated: SensitiveItems = []
    new_rows = [r for r in parsed if r["id_hash"] not in existing]
    if new_rows:
        pks = _pks_by(Resident, "id_hash", [r["id_hash"] for r in new_rows], after_pk)

        def masked(row: dict[str, Any]) -> tuple[int, str, str, str, str, str]:
            name, number = mask_name(row["name"]), mask_id_number(row["id_number"])
            phone = mask_phone(row["phone"]) if row.get("phone") else ""
            pk, label = pks[row["id_hash"]], f"{name} {number}"
            shown, hidden = split_tag_changes({"tags": [None, row.get("tags") or None]}, sensitive)
            if hidden:
                secret_created.append((pk, label, row["scope_code"], hidden))
            tags = (shown.get("tags") or [None, ""])[1] or ""
            return (pk, label, name, number, phone, tags)

        audit.record_created_rows(
            Resident,
            sorted(map(masked, new_rows)),
            masked_keys=("name", "id_number", "phone", "tags"),
            columns={k: v for k, v in _RESIDENT_AUDIT_COLUMNS.items() if k != "tags"},
            after_pk=after_pk,
        )
    if changed:
        index = {f: i for i, f in enumerate(_RESIDENT_FIELDS)}
        items = []
        for pk, row, old, new in changed:
            changes = {}
            for f in _RESIDENT_AUDITED:
                before, after = old[index[f]], new[index[f]]
                if before != after:
                    if f == "name":
                        before, after = mask_name(before), mask_name(after)
                    changes[_audit_name(f)] = [_plain(before), _plain(after)]
            if old[index["phone_hash"]] != new[index["phone_hash"]]:
                changes["phone"] = [
                    mask_phone(old_phones.get(pk, "")) or None,
                    mask_phone(row.get("phone", "")) or None,
                ]
            label = f"{mask_name(row['name'])} {mask_id_number(row['id_number'])}"
            shown, hidden = split_tag_changes(changes, sensitive)
            if shown:
                items.append((pk, label, new[index["scope_code"]], shown))
            if hidden:
                secret_updated.append((pk, label, new[index["scope_code"]], hidden))
        audit.record_many(audit.Event.Action.UPDATE, kind, items)
    _audit_sensitive(kind, secret_created, secret_updated)
    _audit_import(result, kind)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value


def _existing_residents(
    numbers: list[str],
) -> tuple[dict[str, tuple[int, tuple[Any, ...]]], dict[str, int]]:
    """Current rows for these ID number hashes, and the hashes held by more than one resident."""
    found: dict[str, tuple[int, tuple[Any, ...]]] = {}
    counts: dict[str, int] = {}
    total = Resident.objects.count()
    if not total:
        return found, {}
    wanted = set(numbers)
    fields = ("id_hash", "pk", *_RESIDENT_FIELDS)
    if len(numbers) > total * _FULL_SCAN_SHARE:
        batches: Iterable[Any] = [Resident.objects.values_list(*fields).iterator(chunk_size=10_000)]
    else:
        batches = (
            Resident.objects.filter(id_hash__in=numbers[s : s + 900]).values_list(*fields)
            for s in range(0, len(numbers), 900)
        )
    for batch in batches:
        for row in batch:
            if row[0] not in wanted:
                continue
            counts[row[0]] = counts.get(row[0], 0) + 1
            found[row[0]] = (row[1], tuple(row[2:]))
    ambiguous = {n: c for n, c in counts.items() if c > 1}
    return found, ambiguous


IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "households": import_households,
    "residents": import_residents,
}
