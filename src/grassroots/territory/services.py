"""Writes to the territory: importing units (CSV/XLSX) and grids (GeoJSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.core.tables import check_size, read_table
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


@dataclass
class TerritoryResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _kind_from_name(level: str, name: str) -> str:
    if level == "town":
        return "street" if name.endswith("街道") else "town"
    if level == "village":
        return "community" if name.endswith(("社区", "居委会")) else "village"
    return level


def import_units(path: str | Path, *, dry_run: bool = False) -> TerritoryResult:
    """Upsert units by code. Columns code, name and optionally level; parents come from codes."""
    result = TerritoryResult(dry_run=dry_run)
    table = read_table(path)
    wanted = {
        "code": ("code", "编码", "代码", "区划代码", "统计用区划代码"),
        "name": ("name", "名称", "单位名称"),
        "level": ("level", "层级", "级别", "类型"),
    }
    index: dict[str, int] = {}
    for i, written in enumerate(table.headers):
        for key, labels in wanted.items():
            if written.lower() in labels and key not in index:
                index[key] = i
    for key in ("code", "name"):
        if key not in index:
            result.problems.append(f"row 1: {key}: " + _("column is missing"))
    if result.problems:
        return result
    header = {k: table.headers[i] for k, i in index.items()}
    rows: dict[str, dict[str, Any]] = {}
    for number, cells in table.rows:
        code = compact(cells[index["code"]])
        name = clean_text(cells[index["name"]])

        def problem(key: str, reason: str, number: int = number) -> None:
            result.problems.append(f"row {number}: {header[key]}: {reason}")

        # isascii: str.isdigit() also holds for other scripts' digits (١٢٣), which no code has.
        if not (code.isascii() and code.isdigit()) or len(code) not in LEVEL_BY_LENGTH:
            problem("code", _("code %(code)s must be 2, 4, 6, 9 or 12 digits") % {"code": code})
            continue
        if code in rows:
            problem("code", _("duplicate of row %(row)d") % {"row": rows[code]["row"]})
            continue
        if not name:
            problem("name", _("name is empty"))
            continue
        if len(name) > NAME_MAX_LENGTH:
            problem("name", _("name is longer than %(n)d characters") % {"n": NAME_MAX_LENGTH})
        try:
            validate_name(name)
        except ValidationError as exc:
            problem("name", exc.messages[0])
            continue
        level = LEVEL_BY_LENGTH[len(code)]
        kind = _kind_from_name(level, name)
        if "level" in index and compact(cells[index["level"]]):
            word = compact(cells[index["level"]]).lower()
            if word not in LEVEL_WORDS:
                problem(
                    "level",
                    _(
                        "%(v)s is not a level (use 区县, 乡镇, 街道, 村, 社区 or county, town, village)"
                    )
                    % {"v": word},
                )
                continue
            given_level, kind = LEVEL_WORDS[word]
            if given_level != level:
                problem(
                    "level",
                    _("a %(len)d-digit code is a %(level)s, not a %(given)s")
                    % {"len": len(code), "level": level, "given": given_level},
                )
                continue
        rows[code] = {"row": number, "name": name, "level": level, "kind": kind}

    existing = {u.code: u for u in Unit.objects.filter(code__in=list(rows))}
    known_codes = set(rows) | set(
        Unit.objects.filter(
            code__in=[c[: PARENT_LENGTH[len(c)]] for c in rows if len(c) in PARENT_LENGTH]
        ).values_list("code", flat=True)
    )
    for code, row in rows.items():
        parent_code = code[: PARENT_LENGTH[len(code)]] if len(code) in PARENT_LENGTH else None
        if parent_code and parent_code not in known_codes:
            if row["level"] in ROOT_LEVELS:
                parent_code = None
            else:
                result.problems.append(
                    f"row {row['row']}: {header['code']}: "
                    + _("parent unit %(p)s does not exist (import it first or in the same file)")
                    % {"p": parent_code}
                )
                continue
        row["parent_code"] = parent_code
    if result.problems or dry_run:
        _count(result, rows, existing)
        return result
    with transaction.atomic():
        _count(result, rows, existing)
        by_code = dict(existing)
        for code in sorted(rows, key=len):
            row = rows[code]
            parent = by_code.get(row["parent_code"]) or (
                Unit.objects.get(code=row["parent_code"]) if row["parent_code"] else None
            )
            unit = by_code.get(code) or Unit(code=code)
            unit.name, unit.level, unit.kind, unit.parent = (
                row["name"],
                row["level"],
                row["kind"],
                parent,
            )
            unit.save()
            by_code[code] = unit
    return result


def _count(
    result: TerritoryResult, rows: dict[str, dict[str, Any]], existing: dict[str, Unit]
) -> None:
    for code, row in rows.items():
        unit = existing.get(code)
        if unit is None:
            result.created += 1
        elif (unit.name, unit.level, unit.kind, unit.parent.code if unit.parent else None) == (
            row["name"],
            row["level"],
            row["kind"],
            row.get("parent_code"),
        ):
            result.unchanged += 1
        else:
            result.updated += 1


GRID_KINDS = {
    "综合": "comprehensive",
    "综合网格": "comprehensive",
    "comprehensive": "comprehensive",
    "专属": "dedicated",
    "专属网格": "dedicated",
    "dedicated": "dedicated",
    "": "comprehensive",
}


def import_grids(path: str | Path, *, dry_run: bool = False) -> TerritoryResult:
    """Upsert grids by code from a GeoJSON FeatureCollection (properties code, name, kind)."""
    result = TerritoryResult(dry_run=dry_run)
    try:
        check_size(Path(path))  # TableError when too large, before reading it
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problems.append(
            _("%(file)s is not readable GeoJSON: %(e)s") % {"file": Path(path).name, "e": exc}
        )
        return result
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        result.problems.append(
            _("%(file)s is not a GeoJSON FeatureCollection") % {"file": Path(path).name}
        )
        return result
    units = {u.code: u for u in Unit.objects.filter(level="village")}
    grids: dict[str, dict[str, Any]] = {}
    for number, feature in enumerate(data["features"], start=1):
        # A hand-edited file may hold anything where a Feature or its properties should be.
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        code = compact(props.get("code", ""))
        name = clean_text(props.get("name", ""))
        label = (
            _("grid %(code)s (%(name)s)") % {"code": code or "?", "name": name or "?"}
            + f" [feature {number}]"
        )

        def problem(reason: str, label: str = label) -> None:
            result.problems.append(f"{label}: {reason}")

        if not (code.isascii() and code.isdigit()) or len(code) != GRID_CODE_LENGTH:
            problem(_("code must be 15 digits"))
            continue
        if code in grids:
            problem(_("the same code appears twice in the file"))
            continue
        if not name:
            problem(_("name is empty"))
            continue
        if len(name) > NAME_MAX_LENGTH:
            problem(_("name is longer than %(n)d characters") % {"n": NAME_MAX_LENGTH})
        try:
            validate_name(name)
        except ValidationError as exc:
            problem(exc.messages[0])
            continue
        unit = units.get(code[:12])
        if unit is None:
            problem(
                _("code does not start with the code of an existing village/community (%(p)s)")
                % {"p": code[:12]}
            )
            continue
        kind = GRID_KINDS.get(clean_text(props.get("kind", "")).lower())
        if kind is None:
            problem(_("kind must be 综合 or 专属 (comprehensive or dedicated)"))
            continue
        try:
            polygon = parse_polygon(feature.get("geometry"))
        except ValidationError as exc:
            problem(exc.messages[0])
            continue
        grids[code] = {
            "name": name,
            "kind": kind,
            "unit": unit,
            "geometry": feature["geometry"],
            "polygon": polygon,
            "label": label,
        }

    if grids:
        existing_polygons = [
            (g.code, parse_polygon(g.boundary)) for g in Grid.objects.only("code", "boundary")
        ]
        for a, b in find_overlaps([(c, g["polygon"]) for c, g in grids.items()], existing_polygons):
            other = grids[b]["label"] if b in grids else _("existing grid %(code)s") % {"code": b}
            result.problems.append(
                f"{grids[a]['label']}: " + _("overlaps %(other)s") % {"other": other}
            )
    existing = {g.code: g for g in Grid.objects.filter(code__in=list(grids))}
    for code, row in grids.items():
        grid = existing.get(code)
        if grid is None:
            result.created += 1
        elif (grid.name, grid.kind, grid.unit_id, grid.boundary) == (
            row["name"],
            row["kind"],
            row["unit"].pk,
            row["geometry"],
        ):
            result.unchanged += 1
        else:
            result.updated += 1
    if result.problems or dry_run:
        return result
    with transaction.atomic():
        for code, row in grids.items():
            grid = existing.get(code) or Grid(code=code)
            if grid.pk and (grid.name, grid.kind, grid.unit_id, grid.boundary) == (
                row["name"],
                row["kind"],
                row["unit"].pk,
                row["geometry"],
            ):
                continue
            grid.name, grid.kind, grid.unit = row["name"], row["kind"], row["unit"]
            grid.set_boundary(row["geometry"])
            grid.save()
    return result
