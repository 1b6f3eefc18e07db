"""`grassroots import orgs FILE`: party organizations from a spreadsheet, on the import pipeline
(core/imports.py): 组织编码 code, 名称 name, 类型 kind, 上级组织 parent_code, 所属单位 units (unit
codes separated by 、 ; or ,). Upserted by code, parents before children, each organization
written audited, and the import too; a file that names an organization twice, a parent that is
neither in the file nor in the database, a loop of parents or a unit outside the importer's
scope is refused, naming the row and the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core.imports import (
    Column,
    Importer,
    ImportResult,
    register,
    run_import,
    split_values,
)
from grassroots.core.tables import Table
from grassroots.core.text import clean_text, compact
from grassroots.core.validators import validate_name
from grassroots.registry.imports_common import invalid
from grassroots.territory.models import Unit

from .models import ORG_CODE_MAX_LENGTH, Organization, OrganizationUnit, validate_org_code
from .services import units_problem

KIND_WORDS = {
    **{kind.value: kind.value for kind in Organization.Kind},
    "党委": Organization.Kind.COMMITTEE,
    "党总支": Organization.Kind.GENERAL_BRANCH,
    "党支部": Organization.Kind.BRANCH,
    "支部": Organization.Kind.BRANCH,
    "联合党支部": Organization.Kind.JOINT_BRANCH,
    "临时党支部": Organization.Kind.TEMPORARY_BRANCH,
}


@register
class OrgImporter(Importer):
    kind = "orgs"
    model = Organization
    help = "party organizations from CSV/XLSX/XLS: code, name, kind, parent_code, units"
    options = ("errors", "as_user")
    record_event = staticmethod(audit.record)
    acting = staticmethod(acting)
    columns = (
        Column("code", ("组织编码", "code", "编码"), required=True),
        Column("name", ("名称", "name", "组织名称"), required=True),
        Column("kind", ("类型", "kind", "组织类型"), required=True),
        Column("parent_code", ("上级组织", "parent_code", "上级组织编码")),
        Column("units", ("所属单位", "units", "单位"), required=True),
    )

    def prepare(self) -> None:
        self.units = {u.code: u for u in Unit.objects.in_scope(self.scope)}
        self.rows: dict[str, dict[str, Any]] = {}

    def check_row(self, number: int, cells: list[str]) -> None:
        code = compact(cells[self.index["code"]])
        name = clean_text(cells[self.index["name"]])
        word = compact(cells[self.index["kind"]])
        parent = compact(cells[self.index["parent_code"]]) if "parent_code" in self.index else ""
        codes = [compact(c) for c in split_values(cells[self.index["units"]]) if compact(c)]
        if len(code) > ORG_CODE_MAX_LENGTH or (why := invalid(validate_org_code, code)):
            reason = why if len(code) <= ORG_CODE_MAX_LENGTH else None
            return self.problem(number, "code", reason or _("at most 32 characters"))
        if code in self.rows:
            reason = _("duplicate of row %(row)d") % {"row": self.rows[code]["row"]}
            return self.problem(number, "code", reason)
        if not name:
            self.problem(number, "name", _("name is empty"))
        elif len(name) > 100 or (why := invalid(validate_name, name)):
            self.problem(number, "name", why or _("name is longer than 100 characters"))
        kind = KIND_WORDS.get(word.lower() if word.isascii() else word)
        if kind is None:
            reason = _("%(v)s is not a kind (党委, 党总支, 党支部, 联合党支部 or 临时党支部)") % {
                "v": word[:20]
            }
            self.problem(number, "kind", reason)
        if parent == code:
            self.problem(number, "parent_code", _("an organization cannot sit under itself"))
        unknown = [c for c in codes if c not in self.units]
        if unknown:
            reason = _("no unit %(codes)s in your scope") % {"codes": "、".join(unknown[:5])}
            self.problem(number, "units", reason)
        elif kind is not None and (why := units_problem(kind, len(set(codes)))):
            self.problem(number, "units", why)
        self.rows[code] = {
            "row": number,
            "name": name,
            "kind": kind,
            "parent": parent or None,
            "units": sorted(set(codes)),
        }

    def check_all(self) -> None:
        """Every parent exists or comes in the file, and no parents go round in a loop."""
        rows = self.rows
        wanted = {r["parent"] for r in rows.values() if r["parent"]} - set(rows)
        known = dict(
            Organization.objects.filter(code__in=list(wanted)).values_list("code", "parent__code")
        )
        for row in rows.values():
            parent = row["parent"]
            if parent and parent not in rows and parent not in known:
                reason = _("no organization %(p)s (import it first or in the same file)") % {
                    "p": parent
                }
                self.problem(row["row"], "parent_code", reason)
        for code, row in rows.items():
            seen, at = {code}, row["parent"]
            while at in rows:
                if at in seen:
                    self.problem(row["row"], "parent_code", _("the parents go round in a loop"))
                    break
                seen.add(at)
                at = rows[at]["parent"]

    def match(self) -> None:
        self.existing = {
            o.code: o
            for o in Organization.objects.filter(code__in=list(self.rows)).select_related("parent")
        }
        self.served: dict[int, list[str]] = {}
        for org_id, unit_code in OrganizationUnit.objects.filter(
            organization__in=list(self.existing.values())
        ).values_list("organization_id", "unit_code"):
            self.served.setdefault(org_id, []).append(unit_code)
        scope = self.scope
        for code, row in self.rows.items():
            org = self.existing.get(code)
            served = self.served.get(org.pk, []) if org is not None else []
            outside = not scope.is_everything and any(
                not any(unit.startswith(s) for s in scope.codes or ()) for unit in served
            )
            if outside:
                # An organization serving units beyond the importer's scope is not theirs to change.
                reason = _("organization %(code)s serves units outside your scope") % {"code": code}
                self.problem(row["row"], "code", reason)
            elif org is None:
                self.result.created += 1
            elif self._state(org) == self._wanted(row):
                self.result.unchanged += 1
            else:
                self.result.updated += 1

    def _state(self, org: Organization) -> tuple[Any, ...]:
        parent = org.parent.code if org.parent else None
        return (org.name, org.kind, parent, sorted(self.served.get(org.pk, [])))

    @staticmethod
    def _wanted(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["name"], row["kind"], row["parent"], row["units"])

    def _order(self) -> list[str]:
        """The file's codes, each after its parent when the parent comes in the file."""
        done: list[str] = []
        placed: set[str] = set()

        def place(code: str) -> None:
            parent = self.rows[code]["parent"]
            if parent in self.rows and parent not in placed:
                place(parent)
            if code not in placed:
                placed.add(code)
                done.append(code)

        for code in self.rows:
            place(code)
        return done

    def write(self) -> None:
        orgs = dict(self.existing)
        missing = {r["parent"] for r in self.rows.values() if r["parent"]} - set(orgs)
        orgs.update({o.code: o for o in Organization.objects.filter(code__in=list(missing))})
        now = timezone.now()
        for code in self._order():
            row = self.rows[code]
            org = orgs.get(code)
            creating = org is None
            if org is not None and self._state(org) == self._wanted(row):
                continue
            before = {} if org is None else audit.snapshot(org)
            before_units = [] if org is None else sorted(self.served.get(org.pk, []))
            org = org or Organization(code=code, created_at=now)
            org.name, org.kind = row["name"], row["kind"]
            org.parent = orgs[row["parent"]] if row["parent"] else None
            org.updated_at = now
            org.save()
            orgs[code] = org
            if row["units"] != before_units:
                OrganizationUnit.objects.filter(organization=org).delete()
                OrganizationUnit.objects.bulk_create(
                    OrganizationUnit(organization=org, unit=self.units[c], unit_code=c)
                    for c in row["units"]
                )
            org.unit_codes_written = row["units"]  # type: ignore[attr-defined]
            changes = audit.diff(before, audit.snapshot(org))
            if row["units"] != before_units:
                changes["units"] = [before_units or None, row["units"]]
            if creating:
                changes = {k: v for k, v in changes.items() if v[1] not in (None, "")}
                audit.changed(org, changes, action=audit.Event.Action.CREATE)
            else:
                audit.changed(org, changes)


def import_orgs(source: str | Path | Table, *, dry_run: bool = False) -> ImportResult:
    """Upsert party organizations by code (see the module's docstring)."""
    return run_import(OrgImporter(), source, dry_run=dry_run)


# The members' import lives beside this one; importing it registers its kind.
from . import imports_members  # noqa: E402, F401
