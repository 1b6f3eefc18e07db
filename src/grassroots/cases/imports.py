"""Import of 12345 hotline work orders (热线工单) from a .csv or .xlsx export.

The rules of the registry import (grassroots.core.imports): every row is checked first, with the
intake rules of `validate_report`; if any row has a problem nothing is written and each problem
is named by row and column; a valid file becomes cases in one transaction through `case_report`
(channel "hotline_import"), then one import event in the audit trail and one message per person
of each tier the new cases wait at.

A work order is taken in once: an order number already imported (or entered by a dispatcher
from the same hotline) is refused, naming the row, and so is a number twice in one file.
A row is placed by its coordinates (the grid holding them); without coordinates the unit code
(所属单位, a town or village) is required and the case waits in that unit's queue.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
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
from grassroots.core.text import clean_text, compact
from grassroots.territory.models import Unit

from .models import Case, Category
from .services import CaseInputError, case_report, validate_report

if TYPE_CHECKING:
    from grassroots.accounts.models import User

CHANNEL = Case.Channel.HOTLINE_IMPORT
# Channels whose external ids are hotline order numbers: an order typed in by a dispatcher is
# not imported again.
HOTLINE_CHANNELS = (Case.Channel.HOTLINE, Case.Channel.HOTLINE_IMPORT)

HOTLINE_COLUMNS = (
    Column("order_no", ("工单编号", "order_no", "工单号", "external_id"), required=True),
    Column("received_at", ("受理时间", "received_at", "来电时间", "reported_at"), required=True),
    Column("category", ("诉求类别", "category", "类别"), required=True),
    Column("description", ("诉求内容", "description", "内容"), required=True),
    Column("address", ("地址", "address", "事发地址")),
    Column("lon", ("经度", "lon", "lng", "longitude")),
    Column("lat", ("纬度", "lat", "latitude")),
    Column("unit", ("所属单位", "unit", "unit_code", "单位编码")),
    Column("reporter_name", ("来电人", "reporter_name", "来电人姓名")),
    Column("reporter_phone", ("联系电话", "reporter_phone", "phone", "来电号码")),
    Column("urgent", ("紧急", "urgent", "是否紧急")),
)

YES_NO = {
    "是": True,
    "否": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
}

_DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日%H时%M分",
    "%Y年%m月%d日",
)
# Fields of validate_report's errors -> the column they come from.
_FIELD_COLUMN = {
    "category": "category",
    "description": "description",
    "address": "address",
    "lon": "lon",
    "lat": "lat",
    "unit": "unit",
    "reporter_name": "reporter_name",
    "reporter_phone": "reporter_phone",
    "reported_at": "received_at",
    "external_id": "order_no",
}


def parse_received_at(raw: str) -> datetime.datetime | None:
    """A work order's time as exports write it (ISO, 2026/3/2 9:30, 2026年3月2日 9:30), aware in
    the local time zone when it names none; a date alone is midnight. None if unreadable."""
    text = clean_text(raw)
    if not text:
        return None
    value: datetime.datetime | None = None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                value = datetime.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _category_names() -> dict[str, Category]:
    """Active categories by code, Chinese name and English name (lower case)."""
    names: dict[str, Category] = {}
    for category in Category.objects.filter(active=True):
        for key in (category.code, category.name, category.name_en):
            if key:
                names.setdefault(clean_text(key).lower(), category)
    return names


def import_hotline(
    source: str | Path | Table,
    *,
    actor: User | None = None,
    scope: Scope | None = None,
    dry_run: bool = False,
    now: datetime.datetime | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check (and unless `dry_run`, take in) a file of hotline work orders, all or nothing.

    `scope` limits where the orders may go (an API caller's area): a unit or grid outside it
    is refused like one that does not exist. `actor` is recorded as who took the cases in. A
    file of more than `max_rows` rows is refused (TableError).
    """
    scope = scope or Scope.everything()
    now = now or timezone.now()
    table = open_table(source, max_rows=max_rows)
    result = ImportResult(
        "hotline",
        dry_run=dry_run,
        encoding=table.encoding,
        headers=table.headers,
        source_path=source_path(source),
    )
    cols = match_columns(table, HOTLINE_COLUMNS, result)
    if result.problems:
        return result
    if ("lon" in cols) != ("lat" in cols):
        missing = "纬度 (lat)" if "lon" in cols else "经度 (lon)"
        result.problems.append(Problem(1, missing, _("longitude and latitude columns go together")))
        return result
    if "lon" not in cols and "unit" not in cols:
        result.problems.append(
            Problem(
                1,
                "经度/纬度 (lon/lat), 所属单位 (unit)",
                _("give coordinates or the unit code: without either an order has no place"),
            )
        )
        return result

    header = {key: label for key, (_i, label) in cols.items()}
    index = {key: i for key, (i, _label) in cols.items()}
    categories = _category_names()
    # Towns and villages an order may be sent to without coordinates, inside the scope.
    units = {u.code: u for u in Unit.objects.in_scope(scope).filter(level__in=("town", "village"))}
    # Where a problem about the place is shown: the unit column, else the coordinates.
    place_key = "unit" if "unit" in index else "lon"

    def cell(cells: list[str], key: str) -> str:
        return cells[index[key]] if key in index else ""

    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        result.rows += 1
        before = len(result.problems)
        reported: set[str] = set()

        def problem(
            key: str, reason: str, number: int = number, reported: set[str] = reported
        ) -> None:
            reported.add(key)
            result.problems.append(Problem(number, header.get(key, header["order_no"]), reason))

        order_no = compact(cell(cells, "order_no"))
        if not order_no:
            problem("order_no", _("work order number is empty"))
        elif len(order_no) > 64:
            problem("order_no", _("work order number is longer than 64 characters"))
        elif order_no in seen:
            problem("order_no", _("duplicate of row %(row)d") % {"row": seen[order_no]})
        else:
            seen[order_no] = number

        raw_time = cell(cells, "received_at")
        received_at = parse_received_at(raw_time)
        if not clean_text(raw_time):
            problem("received_at", _("time received is empty"))
        elif received_at is None:
            problem(
                "received_at",
                _("%(v)s is not a date and time (use YYYY-MM-DD HH:MM)") % {"v": raw_time},
            )

        raw_category = clean_text(cell(cells, "category"))
        category = categories.get(raw_category.lower())
        if not raw_category:
            problem("category", _("category is empty"))
        elif category is None:
            problem(
                "category",
                _("%(v)s is not a known category (use one of %(known)s)")
                % {
                    "v": raw_category,
                    "known": "、".join(sorted({c.name for c in categories.values()})),
                },
            )

        lon = lat = None
        if "lon" in index:
            lon, error = parse_float(cells[index["lon"]], -180, 180, _("longitude"))
            if error:
                problem("lon", error)
            lat, error = parse_float(cells[index["lat"]], -90, 90, _("latitude"))
            if error:
                problem("lat", error)

        unit: Unit | None = None
        unit_code = compact(cell(cells, "unit"))
        if unit_code:
            if not (unit_code.isdigit() and len(unit_code) in (9, 12)):
                problem("unit", _("a unit code has 9 (town) or 12 (village) digits"))
            else:
                unit = units.get(unit_code)
                if unit is None:
                    problem(
                        "unit", _("no town or village with code %(code)s") % {"code": unit_code}
                    )
        elif lon is None and lat is None and not reported & {"lon", "lat"}:
            problem(
                place_key,
                _("no coordinates: give the unit code (所属单位) the order goes to"),
            )

        raw_urgent = compact(cell(cells, "urgent")).lower()
        urgent = YES_NO.get(raw_urgent, False) if raw_urgent else False
        if raw_urgent and raw_urgent not in YES_NO:
            problem(
                "urgent",
                _("%(v)s is not yes or no (use 是/否, yes/no or 1/0)")
                % {"v": cell(cells, "urgent")},
            )

        fields: dict[str, Any] = {
            "category": category,
            "description": cell(cells, "description"),
            "lon": lon,
            "lat": lat,
            "address": cell(cells, "address"),
            "unit": unit,
            "urgent": urgent,
            "reporter_name": cell(cells, "reporter_name"),
            "reporter_phone": cell(cells, "reporter_phone"),
            "reported_at": received_at,
        }
        try:
            cleaned = validate_report(**fields, now=now)
        except CaseInputError as exc:
            for name, messages in exc.message_dict.items():
                key = _FIELD_COLUMN.get(name, place_key if name == "location" else "order_no")
                if key in reported or (name == "location" and reported & {"unit", "lon", "lat"}):
                    continue  # already said, in this file's own words
                problem(key, messages[0])
        else:
            grid = cleaned["grid"]
            if grid is not None and not scope.contains(grid.code):
                problem(
                    "lon",
                    _("the point (%(lon)s, %(lat)s) lies in grid %(grid)s, outside your area")
                    % {"lon": lon, "lat": lat, "grid": grid.code},
                )
        if len(result.problems) > before:
            result.bad_rows[number] = cells
        rows.append({"_row": number, "external_id": order_no, **fields})

    taken = _already_taken(list(seen))
    for row in rows:
        code = taken.get(row["external_id"])
        if code is not None:
            result.problems.append(
                Problem(
                    row["_row"],
                    header["order_no"],
                    _("work order %(no)s was already taken in as case %(code)s")
                    % {"no": row["external_id"], "code": code},
                )
            )
    result.problems.sort(key=lambda p: p.row)
    if result.problems:
        return result
    result.created = len(rows)
    if dry_run:
        return result
    _write(result, rows, header, actor, now)
    return result


def _already_taken(order_numbers: list[str]) -> dict[str, str]:
    """Order number -> tracking code of the case that took it in, for numbers already known."""
    found: dict[str, str] = {}
    for start in range(0, len(order_numbers), 900):
        found.update(
            Case.objects.filter(
                channel__in=HOTLINE_CHANNELS, external_id__in=order_numbers[start : start + 900]
            )
            .order_by()
            .values_list("external_id", "tracking_code")
        )
    return found


def _write(
    result: ImportResult,
    rows: list[dict[str, Any]],
    header: dict[str, str],
    actor: User | None,
    now: datetime.datetime,
) -> None:
    """Take the checked rows in as cases, all in one transaction."""
    row: dict[str, Any] = {}
    try:
        with transaction.atomic():
            cases = []
            for row in rows:
                fields = {k: v for k, v in row.items() if k != "_row"}
                cases.append(
                    case_report(actor=actor, channel=CHANNEL, notify=False, now=now, **fields)
                )
            _audit_import(result)
            _notify(cases)
    except CaseInputError as exc:
        # Someone took in the same order meanwhile: nothing of the file was written.
        result.created = 0
        for name, messages in exc.message_dict.items():
            key = _FIELD_COLUMN.get(name, "order_no")
            column = header.get(key, header["order_no"])
            result.problems.append(Problem(row.get("_row", 0), column, messages[0]))


def _audit_import(result: ImportResult) -> None:
    name = Path(result.source_path).name if result.source_path else ""
    audit.record(
        audit.Event.Action.IMPORT,
        object_type=audit.object_type(Case),
        object_repr=name,
        changes={
            "kind": "hotline",
            "file": name or None,
            "encoding": result.encoding,
            "rows": result.rows,
            "created": result.created,
        },
    )


def _notify(cases: list[Case]) -> None:
    """One message per person of each tier the new cases wait at (not one per case).

    Like every tier message it quotes no description and names no caller (it may go out by
    SMS); notify lists the tracking codes.
    """
    from .notify import tell_tier

    by_tier: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_tier[case.tier].append(case)
    for tier, theirs in by_tier.items():
        tell_tier(
            theirs,
            tier=tier,
            subject=_("12345 hotline: %(n)d new work order(s)") % {"n": len(theirs)},
            body=_("Open the cases in Grassroots to see them and act."),
        )
