"""Import of 12345 hotline work orders (热线工单) from a .csv, .xlsx or .xls export, plugged into
the import pipeline (core/imports.py).

Every row is checked first, with the intake rules of `validate_report`; if any row has a problem
nothing is written and each problem is named by row and column; a valid file becomes cases in
one transaction through `case_report` (channel "hotline_import"), then one import event in the
audit trail and one message per person of each tier the new cases wait at.

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

from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core.imports import (
    Column,
    Importer,
    ImportResult,
    Problem,
    parse_float,
    register,
    run_import,
)
from grassroots.core.scoping import Scope
from grassroots.core.tables import Table
from grassroots.core.text import clean_text, compact
from grassroots.territory.models import Unit

from .errors import CaseInputError
from .intake import case_report, validate_report
from .models import Case, Category
from .notify import tell_tier

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


@register
class HotlineImporter(Importer):
    kind = "hotline"
    model = Case
    columns = HOTLINE_COLUMNS
    help = "12345 hotline work orders from CSV/XLSX/XLS, taken in as cases"
    options = ("errors", "as_user")
    user_acts = True
    record_event = staticmethod(audit.record)
    acting = staticmethod(acting)

    def __init__(
        self,
        *,
        actor: User | None = None,
        scope: Scope | None = None,
        now: datetime.datetime | None = None,
    ) -> None:
        super().__init__(scope=scope)
        self.actor = actor
        self.now = now or timezone.now()
        # Columns of the row being checked that have a problem already.
        self.reported: set[str] = set()

    def check_columns(self) -> None:
        problems = self.result.problems
        if ("lon" in self.index) != ("lat" in self.index):
            missing = "纬度 (lat)" if "lon" in self.index else "经度 (lon)"
            problems.append(Problem(1, missing, _("longitude and latitude columns go together")))
        elif "lon" not in self.index and "unit" not in self.index:
            reason = _("give coordinates or the unit code: without either an order has no place")
            problems.append(Problem(1, "经度/纬度 (lon/lat), 所属单位 (unit)", reason))

    def prepare(self) -> None:
        self.categories = _category_names()
        # Towns and villages an order may be sent to without coordinates, inside the scope.
        self.units = {
            u.code: u
            for u in Unit.objects.in_scope(self.scope).filter(level__in=("town", "village"))
        }
        # Where a problem about the place is shown: the unit column, else the coordinates.
        self.place_key = "unit" if "unit" in self.index else "lon"
        self.rows: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}

    def cell(self, cells: list[str], key: str) -> str:
        return cells[self.index[key]] if key in self.index else ""

    def problem(self, number: int, key: str, reason: str) -> None:
        self.reported.add(key)
        column = self.header.get(key) or self.header.get("order_no", key)
        self.result.problems.append(Problem(number, column, reason))

    def check_row(self, number: int, cells: list[str]) -> None:
        self.reported = set()
        order_no = compact(self.cell(cells, "order_no"))
        if not order_no:
            self.problem(number, "order_no", _("work order number is empty"))
        elif len(order_no) > 64:
            self.problem(number, "order_no", _("work order number is longer than 64 characters"))
        elif order_no in self.seen:
            reason = _("duplicate of row %(row)d") % {"row": self.seen[order_no]}
            self.problem(number, "order_no", reason)
        else:
            self.seen[order_no] = number
        # In the order of the columns' problems within a row.
        received_at = self._received_at(number, cells)
        category = self._category(number, cells)
        place = self._place(number, cells)
        fields: dict[str, Any] = {
            "category": category,
            "description": self.cell(cells, "description"),
            "address": self.cell(cells, "address"),
            "urgent": self._urgent(number, cells),
            "reporter_name": self.cell(cells, "reporter_name"),
            "reporter_phone": self.cell(cells, "reporter_phone"),
            "reported_at": received_at,
            **place,
        }
        self._validate(number, fields)
        self.rows.append({"_row": number, "external_id": order_no, **fields})

    def _received_at(self, number: int, cells: list[str]) -> datetime.datetime | None:
        raw = self.cell(cells, "received_at")
        received_at = parse_received_at(raw)
        if not clean_text(raw):
            self.problem(number, "received_at", _("time received is empty"))
        elif received_at is None:
            reason = _("%(v)s is not a date and time (use YYYY-MM-DD HH:MM)") % {"v": raw}
            self.problem(number, "received_at", reason)
        return received_at

    def _category(self, number: int, cells: list[str]) -> Category | None:
        raw = clean_text(self.cell(cells, "category"))
        category = self.categories.get(raw.lower())
        if not raw:
            self.problem(number, "category", _("category is empty"))
        elif category is None:
            known = "、".join(sorted({c.name for c in self.categories.values()}))
            reason = _("%(v)s is not a known category (use one of %(known)s)") % {
                "v": raw,
                "known": known,
            }
            self.problem(number, "category", reason)
        return category

    def _urgent(self, number: int, cells: list[str]) -> bool:
        raw = compact(self.cell(cells, "urgent")).lower()
        if raw and raw not in YES_NO:
            reason = _("%(v)s is not yes or no (use 是/否, yes/no or 1/0)") % {
                "v": self.cell(cells, "urgent")
            }
            self.problem(number, "urgent", reason)
        return YES_NO.get(raw, False) if raw else False

    def _place(self, number: int, cells: list[str]) -> dict[str, Any]:
        """lon, lat and unit of a row: coordinates, or the unit the order goes to."""
        lon = lat = None
        if "lon" in self.index:
            lon, error = parse_float(cells[self.index["lon"]], -180, 180, _("longitude"))
            if error:
                self.problem(number, "lon", error)
            lat, error = parse_float(cells[self.index["lat"]], -90, 90, _("latitude"))
            if error:
                self.problem(number, "lat", error)
        unit: Unit | None = None
        unit_code = compact(self.cell(cells, "unit"))
        if unit_code:
            if not (unit_code.isdigit() and len(unit_code) in (9, 12)):
                self.problem(number, "unit", _("a unit code has 9 (town) or 12 (village) digits"))
            elif (unit := self.units.get(unit_code)) is None:
                reason = _("no town or village with code %(code)s") % {"code": unit_code}
                self.problem(number, "unit", reason)
        elif lon is None and lat is None and not self.reported & {"lon", "lat"}:
            reason = _("no coordinates: give the unit code (所属单位) the order goes to")
            self.problem(number, self.place_key, reason)
        return {"lon": lon, "lat": lat, "unit": unit}

    def _validate(self, number: int, fields: dict[str, Any]) -> None:
        """The intake rules of every channel (validate_report), said once per column."""
        reported = self.reported
        try:
            cleaned = validate_report(**fields, now=self.now)
        except CaseInputError as exc:
            for name, messages in exc.message_dict.items():
                key = _FIELD_COLUMN.get(name, self.place_key if name == "location" else "order_no")
                if key in reported or (name == "location" and reported & {"unit", "lon", "lat"}):
                    continue  # already said, in this file's own words
                self.problem(number, key, messages[0])
            return
        grid = cleaned["grid"]
        if grid is not None and not self.scope.contains(grid.code):
            reason = _("the point (%(lon)s, %(lat)s) lies in grid %(grid)s, outside your area") % {
                "lon": fields["lon"],
                "lat": fields["lat"],
                "grid": grid.code,
            }
            self.problem(number, "lon", reason)

    def match(self) -> None:
        """An order number taken in before (imported, or entered from the call) is refused."""
        taken = _already_taken(list(self.seen))
        for row in self.rows:
            code = taken.get(row["external_id"])
            if code is not None:
                reason = _("work order %(no)s was already taken in as case %(code)s") % {
                    "no": row["external_id"],
                    "code": code,
                }
                self.problem(row["_row"], "order_no", reason)
        self.result.created = len(self.rows)

    def write(self) -> None:
        """Take the checked rows in as cases; a number taken in meanwhile by a dispatcher is a
        problem of its row (and nothing is written)."""
        cases = []
        for row in self.rows:
            fields = {k: v for k, v in row.items() if k != "_row"}
            try:
                cases.append(
                    case_report(
                        actor=self.actor, channel=CHANNEL, notify=False, now=self.now, **fields
                    )
                )
            except CaseInputError as exc:
                for name, messages in exc.message_dict.items():
                    self.problem(row["_row"], _FIELD_COLUMN.get(name, "order_no"), messages[0])
                return
        _notify(cases)

    def event_changes(self) -> dict[str, Any]:
        result = self.result
        return {
            "kind": "hotline",
            "file": result.file_name or None,
            "encoding": result.encoding,
            "rows": result.rows,
            "created": result.created,
        }

    def summary(self) -> str:
        if self.result.dry_run:
            line = _("dry run, nothing written: would take in %(n)d work order(s)")
        else:
            line = _("hotline: took in %(n)d work order(s)")
        return line % {"n": self.result.created}


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
    importer = HotlineImporter(actor=actor, scope=scope, now=now)
    return run_import(importer, source, dry_run=dry_run, max_rows=max_rows)


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


def _notify(cases: list[Case]) -> None:
    """One message per person of each tier the new cases wait at (not one per case).

    Like every tier message it quotes no description and names no caller (it may go out by
    SMS); notify lists the tracking codes.
    """
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
