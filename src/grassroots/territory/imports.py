"""Imports of the territory, plugged into the import pipeline (core/imports.py): units from a
spreadsheet (code, name, level; parents come from the codes) and grids from a GeoJSON
FeatureCollection (properties code, name, kind), both upserted by code, each written record
audited, and the import too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core.imports import (
    Column,
    Importer,
    ImportResult,
    Problem,
    register,
    run_import,
)
from grassroots.core.tables import Features, read_features
from grassroots.core.text import clean_text, compact
from grassroots.core.validators import validate_name

from .geometry import find_overlaps, parse_polygon
from .models import GRID_CODE_LENGTH, LEVEL_BY_LENGTH, PARENT_LENGTH, Grid, Unit

LEVEL_WORDS = {
    "province": ("province", "province"),
    "省": ("province", "province"),
    "city": ("city", "city"),
    "市": ("city", "city"),
    "地级市": ("city", "city"),
    "county": ("county", "county"),
    "区县": ("county", "county"),
    "县": ("county", "county"),
    "区": ("county", "county"),
    "县级市": ("county", "county"),
    "town": ("town", "town"),
    "乡镇": ("town", "town"),
    "镇": ("town", "town"),
    "乡": ("town", "town"),
    "街道": ("town", "street"),
    "street": ("town", "street"),
    "village": ("village", "village"),
    "村": ("village", "village"),
    "社区": ("village", "community"),
    "community": ("village", "community"),
    "居委会": ("village", "community"),
    "村委会": ("village", "village"),
}
# Levels whose parent may be missing: a deployment starts at a county (or above).
ROOT_LEVELS = {"province", "city", "county"}
# Units and grids alike; checked here, as SQLite would store a longer name and PostgreSQL fail.
NAME_MAX_LENGTH = 100
UNIT_FIELDS = ("name", "level", "kind", "parent_id")


def _kind_from_name(level: str, name: str) -> str:
    if level == "town":
        return "street" if name.endswith("街道") else "town"
    if level == "village":
        return "community" if name.endswith(("社区", "居委会")) else "village"
    return level


def _name_problem(name: str) -> str | None:
    """Why a unit's or grid's name is refused, or None."""
    if not name:
        return _("name is empty")
    try:
        validate_name(name)
    except ValidationError as exc:
        return str(exc.messages[0])
    return None


class _Audited(Importer):
    record_event = staticmethod(audit.record)
    acting = staticmethod(acting)

    def audit_written(self, created: list[Any], updated: list[tuple[Any, dict[str, Any]]]) -> None:
        """One event per record created or updated (`updated`: the record and its snapshot
        before), written together."""
        kind = self.model._meta.label_lower

        def new(obj: Any) -> dict[str, Any]:
            return {k: [None, v] for k, v in audit.snapshot(obj).items() if v not in (None, "")}

        audit.record_many(
            audit.Event.Action.CREATE,
            kind,
            [(obj.pk, audit.label(obj), obj.code, new(obj)) for obj in created],
        )
        audit.record_many(
            audit.Event.Action.UPDATE,
            kind,
            [
                (obj.pk, audit.label(obj), obj.code, audit.diff(before, audit.snapshot(obj)))
                for obj, before in updated
            ],
        )


# ---------------------------------------------------------------------------------------------
# Units


@register
class UnitImporter(_Audited):
    kind = "units"
    model = Unit
    help = "units from CSV/XLSX/XLS: code, name[, level]"
    columns = (
        Column("code", ("编码", "code", "代码", "区划代码", "统计用区划代码"), required=True),
        Column("name", ("名称", "name", "单位名称"), required=True),
        Column("level", ("层级", "level", "级别", "类型")),
    )

    def prepare(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def check_row(self, number: int, cells: list[str]) -> None:
        code = compact(cells[self.index["code"]])
        name = clean_text(cells[self.index["name"]])
        # isascii: str.isdigit() also holds for other scripts' digits (١٢٣), which no code has.
        if not (code.isascii() and code.isdigit()) or len(code) not in LEVEL_BY_LENGTH:
            reason = _("code %(code)s must be 2, 4, 6, 9 or 12 digits") % {"code": code}
            return self.problem(number, "code", reason)
        if code in self.rows:
            reason = _("duplicate of row %(row)d") % {"row": self.rows[code]["row"]}
            return self.problem(number, "code", reason)
        if name and len(name) > NAME_MAX_LENGTH:
            reason = _("name is longer than %(n)d characters") % {"n": NAME_MAX_LENGTH}
            self.problem(number, "name", reason)
        if (name_problem := _name_problem(name)) is not None:
            return self.problem(number, "name", name_problem)
        level = LEVEL_BY_LENGTH[len(code)]
        kind = _kind_from_name(level, name)
        word = compact(cells[self.index["level"]]).lower() if "level" in self.index else ""
        if word:
            if word not in LEVEL_WORDS:
                reason = _(
                    "%(v)s is not a level (use 区县, 乡镇, 街道, 村, 社区 or county, town, village)"
                ) % {"v": word}
                return self.problem(number, "level", reason)
            given_level, kind = LEVEL_WORDS[word]
            if given_level != level:
                reason = _("a %(len)d-digit code is a %(level)s, not a %(given)s") % {
                    "len": len(code),
                    "level": level,
                    "given": given_level,
                }
                return self.problem(number, "level", reason)
        self.rows[code] = {"row": number, "name": name, "level": level, "kind": kind}

    def check_all(self) -> None:
        """Every parent exists, or comes in the same file (a county's may be missing)."""
        rows = self.rows
        parents = {c[: PARENT_LENGTH[len(c)]] for c in rows if len(c) in PARENT_LENGTH}
        known = set(rows) | set(
            Unit.objects.filter(code__in=list(parents)).values_list("code", flat=True)
        )
        for code, row in rows.items():
            parent = code[: PARENT_LENGTH[len(code)]] if len(code) in PARENT_LENGTH else None
            if parent and parent not in known:
                if row["level"] not in ROOT_LEVELS:
                    reason = _(
                        "parent unit %(p)s does not exist (import it first or in the same file)"
                    ) % {"p": parent}
                    self.problem(row["row"], "code", reason)
                    continue
                parent = None
            row["parent"] = parent

    def match(self) -> None:
        rows, result = self.rows, self.result
        wanted = set(rows) | {r["parent"] for r in rows.values() if r["parent"]}
        self.units = {u.code: u for u in Unit.objects.filter(code__in=list(wanted))}
        parent_codes = {u.pk: u.code for u in self.units.values()}
        for code, row in rows.items():
            unit = self.units.get(code)
            if unit is None:
                result.created += 1
            elif (unit.name, unit.level, unit.kind, parent_codes.get(unit.parent_id or 0)) == (
                row["name"],
                row["level"],
                row["kind"],
                row["parent"],
            ):
                result.unchanged += 1
            else:
                result.updated += 1

    def write(self) -> None:
        """Level by level from the top, so that each parent has its key before its children."""
        units = self.units
        created: list[Unit] = []
        updated: list[tuple[Unit, dict[str, Any]]] = []
        for length in sorted({len(code) for code in self.rows}):
            new = []
            for code, row in self.rows.items():
                if len(code) != length:
                    continue
                parent = units[row["parent"]] if row["parent"] else None
                values = (row["name"], row["level"], row["kind"], parent.pk if parent else None)
                unit = units.get(code)
                if unit is None:
                    unit = units[code] = Unit(code=code)
                    new.append(unit)
                elif tuple(getattr(unit, f) for f in UNIT_FIELDS) == values:
                    continue
                else:
                    updated.append((unit, audit.snapshot(unit)))
                unit.name, unit.level, unit.kind, unit.parent = (*values[:3], parent)
            created += Unit.objects.bulk_create(new)
        Unit.objects.bulk_update([unit for unit, _before in updated], list(UNIT_FIELDS))
        self.audit_written(created, updated)


def import_units(path: str | Path, *, dry_run: bool = False) -> ImportResult:
    """Upsert units by code. Columns code, name and optionally level; parents come from codes."""
    return run_import(UnitImporter(), path, dry_run=dry_run)


# ---------------------------------------------------------------------------------------------
# Grids

GRID_KINDS = {
    "综合": "comprehensive",
    "综合网格": "comprehensive",
    "comprehensive": "comprehensive",
    "专属": "dedicated",
    "专属网格": "dedicated",
    "dedicated": "dedicated",
    "": "comprehensive",
}


@register
class GridImporter(_Audited):
    kind = "grids"
    model = Grid
    help = "grids from a GeoJSON FeatureCollection: properties code, name, kind"

    def open(self, source: Any, max_rows: int | None) -> Features:
        return read_features(source)

    def prepare(self) -> None:
        self.villages = {u.code: u for u in Unit.objects.filter(level="village")}
        self.grids: dict[str, dict[str, Any]] = {}

    def feature_problem(self, number: int, label: str, reason: str) -> None:
        self.result.problems.append(Problem(number, label, reason, where="feature"))

    def check_row(self, number: int, feature: Any) -> None:
        # A hand-edited file may hold anything where a Feature or its properties should be.
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        code = compact(props.get("code", ""))
        name = clean_text(props.get("name", ""))
        label = _("grid %(code)s (%(name)s)") % {"code": code or "?", "name": name or "?"}
        if not (code.isascii() and code.isdigit()) or len(code) != GRID_CODE_LENGTH:
            return self.feature_problem(number, label, _("code must be 15 digits"))
        if code in self.grids:
            reason = _("the same code appears twice in the file")
            return self.feature_problem(number, label, reason)
        if name and len(name) > NAME_MAX_LENGTH:
            reason = _("name is longer than %(n)d characters") % {"n": NAME_MAX_LENGTH}
            self.feature_problem(number, label, reason)
        if (name_problem := _name_problem(name)) is not None:
            return self.feature_problem(number, label, name_problem)
        unit = self.villages.get(code[:12])
        if unit is None:
            reason = _(
                "code does not start with the code of an existing village/community (%(p)s)"
            ) % {"p": code[:12]}
            return self.feature_problem(number, label, reason)
        kind = GRID_KINDS.get(clean_text(props.get("kind", "")).lower())
        if kind is None:
            reason = _("kind must be 综合 or 专属 (comprehensive or dedicated)")
            return self.feature_problem(number, label, reason)
        try:
            polygon = parse_polygon(feature.get("geometry"))
        except ValidationError as exc:
            return self.feature_problem(number, label, exc.messages[0])
        self.grids[code] = {
            "name": name,
            "kind": kind,
            "unit": unit,
            "geometry": feature["geometry"],
            "polygon": polygon,
            "label": label,
            "number": number,
        }

    def check_all(self) -> None:
        """No grid overlaps another of the file or an existing one."""
        grids = self.grids
        if not grids:
            return
        existing = [
            (g.code, parse_polygon(g.boundary)) for g in Grid.objects.only("code", "boundary")
        ]
        for a, b in find_overlaps([(c, g["polygon"]) for c, g in grids.items()], existing):
            other = grids[b]["label"] if b in grids else _("existing grid %(code)s") % {"code": b}
            reason = _("overlaps %(other)s") % {"other": other}
            self.feature_problem(grids[a]["number"], grids[a]["label"], reason)

    def match(self) -> None:
        result = self.result
        self.existing = {g.code: g for g in Grid.objects.filter(code__in=list(self.grids))}
        for code, row in self.grids.items():
            grid = self.existing.get(code)
            if grid is None:
                result.created += 1
            elif self._same(grid, row):
                result.unchanged += 1
            else:
                result.updated += 1

    @staticmethod
    def _same(grid: Grid, row: dict[str, Any]) -> bool:
        return (grid.name, grid.kind, grid.unit_id, grid.boundary) == (
            row["name"],
            row["kind"],
            row["unit"].pk,
            row["geometry"],
        )

    def write(self) -> None:
        new: list[Grid] = []
        updated: list[tuple[Grid, dict[str, Any]]] = []
        now = timezone.now()
        for code, row in self.grids.items():
            grid = self.existing.get(code)
            if grid is None:
                grid = Grid(code=code)
                new.append(grid)
            elif self._same(grid, row):
                continue
            else:
                updated.append((grid, audit.snapshot(grid)))
                grid.updated_at = now
            grid.name, grid.kind, grid.unit = row["name"], row["kind"], row["unit"]
            grid.set_boundary(row["geometry"])
        created = Grid.objects.bulk_create(new)
        Grid.objects.bulk_update(
            [grid for grid, _before in updated],
            ["name", "kind", "unit", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"]
            + ["updated_at"],
        )
        self.audit_written(created, updated)


def import_grids(path: str | Path, *, dry_run: bool = False) -> ImportResult:
    """Upsert grids by code from a GeoJSON FeatureCollection (properties code, name, kind)."""
    return run_import(GridImporter(), path, dry_run=dry_run)
