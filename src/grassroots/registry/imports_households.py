"""The household importer: rows checked one by one, points placed into grids, then an upsert by
household code (see registry/imports.py for the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.bulk import db_datetime, insert_rows, update_rows
from grassroots.core.imports import Column, parse_float, register
from grassroots.core.text import clean_text, compact
from grassroots.core.validators import validate_household_code
from grassroots.territory.geometry import GridIndex
from grassroots.territory.models import Grid

from .imports_common import (
    RegistryImporter,
    SensitiveItems,
    audit_name,
    audit_sensitive,
    default_unit,
    invalid,
    last_pk,
    parse_tags,
    pks_by,
    tag_vocabulary,
)
from .models import Household, sensitive_tag_names, split_tag_changes
from .services import household_members_follow

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
HOUSEHOLD_FIELDS = (
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
_SCOPE_AT = HOUSEHOLD_FIELDS.index("scope_code")


@register
class HouseholdImporter(RegistryImporter):
    kind = "households"
    model = Household
    columns = HOUSEHOLD_COLUMNS
    help = "households from CSV/XLSX/XLS"

    def check_columns(self) -> None:
        if ("lon" in self.index) != ("lat" in self.index):
            missing = "纬度 (lat)" if "lon" in self.index else "经度 (lon)"
            self.problem(1, missing, _("longitude and latitude columns go together"))

    def prepare(self) -> None:
        self.grids = {
            code: (pk, unit_id)
            for code, pk, unit_id in Grid.objects.in_scope(self.scope).values_list(
                "code", "pk", "unit_id"
            )
        }
        self.fallback = default_unit(self.unit_code, self.scope)
        self.vocabulary = tag_vocabulary()
        self.tag_cache: dict[str, tuple[str, str | None]] = {}
        self.parsed: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        self.to_place: list[dict[str, Any]] = []
        self.labels = (_("longitude"), _("latitude"))

    def check_row(self, number: int, cells: list[str]) -> None:
        index, problems = self.index, self.result.problems
        before = len(problems)
        code = compact(cells[index["code"]])
        if not code:
            self.problem(number, "code", _("household code is empty"))
        elif len(code) > 32:
            self.problem(number, "code", _("household code is longer than 32 characters"))
        elif (code_error := invalid(validate_household_code, code)) is not None:
            self.problem(number, "code", code_error)
        elif code in self.seen:
            self.problem(number, "code", _("duplicate of row %(row)d") % {"row": self.seen[code]})
        else:
            self.seen[code] = number
        row: dict[str, Any] = {"code": code, "_row": number}
        address = clean_text(cells[index["address"]])
        if not address:
            self.problem(number, "address", _("address is empty"))
        elif len(address) > 200:
            self.problem(number, "address", _("address is longer than 200 characters"))
        row["address"] = address
        for key in ("building", "unit_no", "room"):
            if key in index:
                value = clean_text(cells[index[key]])
                if len(value) > 20:
                    self.problem(number, key, _("longer than 20 characters"))
                row[key] = value
        if "lon" in index:
            self._check_point(number, cells, row)
        self._check_place(number, cells, row, before)
        if "tags" in index:
            row["tags"], error = parse_tags(cells[index["tags"]], self.vocabulary, self.tag_cache)
            if error:
                self.problem(number, "tags", error)
        self.parsed.append(row)

    def _check_point(self, number: int, cells: list[str], row: dict[str, Any]) -> None:
        before = len(self.result.problems)
        lon, error = parse_float(cells[self.index["lon"]], -180, 180, self.labels[0])
        if error:
            self.problem(number, "lon", error)
        lat, error = parse_float(cells[self.index["lat"]], -90, 90, self.labels[1])
        if error:
            self.problem(number, "lat", error)
        if (lon is None) != (lat is None) and len(self.result.problems) == before:
            self.problem(
                number, "lat" if lat is None else "lon", _("longitude and latitude go together")
            )
        row["lon"], row["lat"] = lon, lat

    def _check_place(self, number: int, cells: list[str], row: dict[str, Any], before: int) -> None:
        """The grid named, the point to place, the fallback unit, or a problem."""
        index = self.index
        grid_code = compact(cells[index["grid_code"]]) if "grid_code" in index else ""
        if grid_code:
            grid = self.grids.get(grid_code)
            if grid is None:
                reason = _("grid %(code)s does not exist") % {"code": grid_code}
                self.problem(number, "grid_code", reason)
            else:
                row["grid_id"], row["unit_id"] = grid
                row["scope_code"] = grid_code
        elif "grid_code" in index or "lon" in index:
            fallback = self.fallback
            if row.get("lon") is not None:
                self.to_place.append(row)
            elif fallback is not None:
                row["grid_id"], row["unit_id"], row["scope_code"] = None, fallback.pk, fallback.code
            elif len(self.result.problems) == before:
                self.problem(
                    number,
                    "grid_code" if "grid_code" in index else "lon",
                    _(
                        "no grid code and no coordinates: give one (or import with --unit CODE for households without a grid)"
                    ),
                )

    def check_all(self) -> None:
        """Rows given by coordinates go to the grid holding them."""
        to_place = self.to_place
        if not to_place:
            return
        located = GridIndex.from_queryset(Grid.objects.in_scope(self.scope)).locate(
            [r["lon"] for r in to_place], [r["lat"] for r in to_place]
        )
        unit_of = dict(self.grids.values())
        grid_codes = {pk: code for code, (pk, _u) in self.grids.items()}
        for row, grid_pk in zip(to_place, located, strict=True):
            if grid_pk is None:
                reason = _("the point (%(lon)s, %(lat)s) lies in no grid") % {
                    "lon": row["lon"],
                    "lat": row["lat"],
                }
                self.problem(row["_row"], "lon", reason)
                continue
            row["grid_id"], row["unit_id"] = grid_pk, unit_of[grid_pk]
            row["scope_code"] = grid_codes[grid_pk]

    def match(self) -> None:
        """New and changed households; a code of another area's household is a problem. Rows
        with neither grid column nor coordinates keep their territory; new ones need one."""
        self.existing = existing = _existing_households(self.seen.keys())
        self.creates: list[dict[str, Any]] = []
        self.updates: list[tuple[Any, ...]] = []
        now = db_datetime(timezone.now())
        fallback = self.fallback
        for row in self.parsed:
            old = existing.get(row["code"])
            if old is not None and not self.scope.contains(old[1][_SCOPE_AT]):
                # Codes are unique across the registry: naming another area's household must
                # not take it over.
                reason = _("household %(code)s is outside your area") % {"code": row["code"]}
                self.problem(row["_row"], "code", reason)
                continue
            if old is None:
                if "unit_id" not in row:
                    if fallback is None:
                        reason = _("a new household needs a grid code or coordinates")
                        self.problem(row["_row"], "code", reason)
                        continue
                    row["grid_id"], row["unit_id"] = None, fallback.pk
                    row["scope_code"] = fallback.code
                self.creates.append(row)
                continue
            pk, values = old
            merged = dict(zip(HOUSEHOLD_FIELDS, values, strict=True))
            merged.update({k: v for k, v in row.items() if k in merged})
            new_values = tuple(merged[f] for f in HOUSEHOLD_FIELDS)
            if new_values == values:
                self.result.unchanged += 1
            else:
                self.updates.append((*new_values, now, pk))
        self.result.created, self.result.updated = len(self.creates), len(self.updates)
        self.now = now

    def write(self) -> None:
        after_pk = last_pk(Household)
        now = self.now
        insert_rows(
            Household,
            ("code", *HOUSEHOLD_FIELDS, "created_at", "updated_at"),
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
                for r in self.creates
            ),
        )
        update_rows(Household, (*HOUSEHOLD_FIELDS, "updated_at"), self.updates)
        if self.updates:
            # Members follow their moved households, each with an audit event.
            household_members_follow(households=[u[-1] for u in self.updates])
        _audit_households(self.creates, self.updates, self.existing, after_pk)


def _audit_households(
    creates: list[dict[str, Any]],
    updates: list[tuple[Any, ...]],
    existing: dict[str, tuple[int, tuple[Any, ...]]],
    after_pk: int,
) -> None:
    """One event per household written, in the import's transaction; sensitive tags apart."""
    kind = audit.object_type(Household)
    fields = [f for f in HOUSEHOLD_FIELDS if f not in ("scope_code", "tags")]
    sensitive = sensitive_tag_names()
    secret_created: SensitiveItems = []
    secret_updated: SensitiveItems = []
    if creates:
        pks = pks_by(Household, "code", [r["code"] for r in creates], after_pk)
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
            columns={"code": "code", **{audit_name(f): f for f in fields}},
            after_pk=after_pk,
        )
    if updates:
        old_by_pk = {pk: (code, values) for code, (pk, values) in existing.items()}
        items = []
        for new in updates:
            pk = new[-1]
            code, old = old_by_pk[pk]
            before = dict(zip(HOUSEHOLD_FIELDS, old, strict=True))
            after = dict(zip(HOUSEHOLD_FIELDS, new[: len(HOUSEHOLD_FIELDS)], strict=True))
            changes = {
                audit_name(f): [before[f], after[f]]
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
    audit_sensitive(kind, secret_created, secret_updated)


def _existing_households(codes: Iterable[str]) -> dict[str, tuple[int, tuple[Any, ...]]]:
    found: dict[str, tuple[int, tuple[Any, ...]]] = {}
    codes = list(codes)
    for start in range(0, len(codes), 900):
        chunk = codes[start : start + 900]
        for row in Household.objects.filter(code__in=chunk).values_list(
            "code", "pk", *HOUSEHOLD_FIELDS
        ):
            found[row[0]] = (row[1], tuple(row[2:]))
    return found
