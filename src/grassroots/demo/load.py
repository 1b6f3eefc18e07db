"""Writing the demo county into the database, and wiping territory and registry for a new one.

Everything goes through the importers (units, grids, households, residents, party organizations
and members: orgs.py), so the demo is
checked by the same rules as a county's own files. What no import may create goes through the
services of its app, never into another app's tables directly: the second resident with an ID
number already in the registry (registry.services.resident_create, as a hand-made entry),
enterprises (registry.services.enterprises_create: there is no enterprise import yet), users
(accounts.services.user_create, and grid_workers_create for the thousand grid workers). The
bulk services validate and audit like the others, set-wise. The wipe clears each app through
its own service, one audit event per kind of row.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.accounts.services import (
    NewGridWorker,
    grid_workers_create,
    user_create,
    users_delete,
)
from grassroots.audit import services as audit
from grassroots.cases.models import Case, CaseStatBucket
from grassroots.core.scoping import Scope
from grassroots.core.tables import Table
from grassroots.orgs.models import Member, Organization
from grassroots.orgs.services import orgs_clear
from grassroots.registry.imports import (
    RELATIONS,
    ImportResult,
    import_households,
    import_residents,
)
from grassroots.registry.models import Enterprise, Household, Resident
from grassroots.registry.services import enterprises_create, registry_clear, resident_create
from grassroots.territory.imports import import_grids, import_units
from grassroots.territory.models import Grid, Unit
from grassroots.territory.services import territory_clear

from .files import write_grids, write_units
from .generator import HOUSEHOLD_HEADERS, RESIDENT_HEADERS, County, DemoUser
from .orgs import load_orgs
from .people import WORKER_PREFIX, demo_password

DEMO_USER_PREFIX = "demo_"
USERS_FILE = "demo-users.txt"


class DemoError(Exception):
    """The demo cannot be loaded (the database is not empty, or an import refused a row)."""


@dataclass
class LoadedUser:
    username: str
    role: str
    scope: str
    password: str


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    users: list[LoadedUser] = field(default_factory=list)
    users_file: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def existing_data() -> dict[str, int]:
    """Rows that make the database 'not empty' for the demo, by kind (only non-zero kinds)."""
    counts = {
        "units": Unit.objects.count(),
        "grids": Grid.objects.count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "party organizations": Organization.objects.count(),
        "demo users": User.objects.filter(username__startswith=DEMO_USER_PREFIX).count(),
    }
    return {k: v for k, v in counts.items() if v}


def wipe() -> None:
    """Delete every registry and territory row and the demo users (not other users)."""
    reason = "demo --force"
    try:
        with transaction.atomic():
            # One audit event per kind of row (a demo county is not worth a million events),
            # one per account for the demo users. Cases first: they refer to grids, units and
            # households. (The cases app has no service for this yet.)
            Case.objects.filter(merged_into__isnull=False).update(merged_into=None)
            CaseStatBucket.objects.all().delete()
            count = Case.objects.count()
            Case.objects.all().delete()
            if count:
                audit.record(
                    audit.Event.Action.DELETE,
                    object_type=audit.object_type(Case),
                    object_repr=str(Case._meta.verbose_name_plural),
                    changes={"count": count},
                    reason=reason,
                )
            orgs_clear(reason=reason)
            registry_clear(reason=reason)
            users_delete(
                actor=None,
                users=User.objects.filter(username__startswith=DEMO_USER_PREFIX),
                reason=reason,
            )
            territory_clear(reason=reason)
    except ProtectedError as exc:
        kinds = sorted({str(type(o)._meta.verbose_name_plural) for o in exc.protected_objects})
        raise DemoError(
            _("cannot wipe the database: other records still refer to it (%(kinds)s)")
            % {"kinds": ", ".join(kinds)}
        ) from None


def _check(what: str, result: ImportResult) -> None:
    if result.problems:
        first = "; ".join(str(p) for p in result.problems[:3])
        raise DemoError(f"{what}: {len(result.problems)} problem(s), first: {first}")


def _table(headers: list[str], rows: Iterable[list[str]]) -> Table:
    return Table(headers=list(headers), rows=enumerate(rows, start=2), source="demo")


def _timed(report: LoadReport, step: str, action: Callable[[], None]) -> None:
    start = time.perf_counter()
    action()
    report.timings[step] = time.perf_counter() - start


def load_county(county: County) -> LoadReport:
    """Write `county` into an empty database in one transaction; returns counts and users."""
    report = LoadReport()
    with transaction.atomic():
        _timed(report, "territory", lambda: _load_territory(county))
        _timed(
            report,
            "households",
            lambda: _check(
                "households",
                import_households(_table(HOUSEHOLD_HEADERS, county.household_rows)),
            ),
        )
        _timed(
            report,
            "residents",
            lambda: _check(
                "residents", import_residents(_table(RESIDENT_HEADERS, county.resident_rows))
            ),
        )
        _timed(report, "planted problems", lambda: _load_defects(county))
        _timed(report, "enterprises", lambda: _load_enterprises(county))
        _timed(report, "users", lambda: report.users.extend(_load_users(county)))
        _timed(report, "party organizations", lambda: _load_orgs(county))
    report.counts = {
        "units": Unit.objects.count(),
        "grids": Grid.objects.count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "users": len(report.users),
        "party organizations": Organization.objects.count(),
        "party members": Member.objects.count(),
    }
    report.users_file = write_users_file(report.users, county)
    return report


def _load_territory(county: County) -> None:
    with tempfile.TemporaryDirectory(prefix="grassroots-demo-") as tmp:
        units, grids = Path(tmp) / "units.csv", Path(tmp) / "grids.geojson"
        write_units(county, units)
        write_grids(county, grids)
        _check("units", import_units(units))
        _check("grids", import_grids(grids))


def _load_defects(county: County) -> None:
    """The planted coverage problems that are not rows of the household file."""
    defects = county.defects
    by_village: dict[str, list[list[str]]] = {}
    members: list[list[str]] = []
    for code, address, village, rows in defects.households_without_grid:
        by_village.setdefault(village, []).append([code, address, "", "", "", "", "", "", ""])
        members.extend(rows)
    for village, rows in by_village.items():
        _check(
            "households without grid",
            import_households(_table(HOUSEHOLD_HEADERS, rows), unit_code=village),
        )
    # A scope keeps each import from reading every household of the county.
    _check(
        "their residents",
        import_residents(_table(RESIDENT_HEADERS, members), scope=Scope.of(*by_village)),
    )
    floating: dict[str, list[list[str]]] = {}
    for village, row in defects.residents_without_household:
        floating.setdefault(village, []).append(row)
    for village, rows in floating.items():
        _check(
            "residents without household",
            import_residents(
                _table(RESIDENT_HEADERS, rows), scope=Scope.of(village), unit_code=village
            ),
        )
    households = {
        h.code: h
        for h in Household.objects.filter(code__in=[d[1] for d in defects.duplicate_id_numbers])
    }
    for number, household_code, name in defects.duplicate_id_numbers:
        # An import refuses a number twice, so this record is entered the way a hand-made
        # entry in an older system would have been.
        resident_create(
            actor=None,
            data={
                "name": name,
                "id_number": number,
                "household": households[household_code],
                "relation": RELATIONS["其他"],
            },
        )


def _load_enterprises(county: County) -> None:
    try:
        enterprises_create(
            actor=None,
            rows=[
                {
                    "name": e.name,
                    "credit_code": e.credit_code,
                    "address": e.address,
                    "industry": e.industry,
                    "contact_name": e.contact_name,
                    "contact_phone": e.contact_phone,
                    "lon": e.lon,
                    "lat": e.lat,
                    "grid_code": e.grid_code,
                }
                for e in county.enterprises
            ],
        )
    except ValidationError as exc:
        raise DemoError(f"enterprises: {'; '.join(exc.messages[:3])}") from None


def _load_orgs(county: County) -> None:
    try:
        load_orgs(county.seed)
    except ValueError as exc:
        raise DemoError(str(exc)) from None


def _load_users(county: County) -> list[LoadedUser]:
    loaded = []
    workers = [u for u in county.users if u.username.startswith(WORKER_PREFIX)]
    for planned in county.users:
        if planned.username.startswith(WORKER_PREFIX):
            continue
        password = demo_password(county.seed, planned.username)
        user_create(
            username=planned.username,
            role=planned.role,
            scope_codes=planned.scope_codes,
            password=password,
            check_password=False,
            first_name=planned.first_name,
            last_name=planned.last_name,
            phone=planned.phone,
        )
        loaded.append(
            LoadedUser(planned.username, planned.role, ",".join(planned.scope_codes), password)
        )
    password = demo_password(county.seed, WORKER_PREFIX)
    _create_grid_workers(workers, password)
    loaded.extend(
        LoadedUser(w.username, w.role, ",".join(w.scope_codes), password) for w in workers
    )
    return loaded


def _create_grid_workers(workers: list[DemoUser], password: str) -> None:
    """The grid workers of every other grid, sharing one password hashed once, in bulk."""
    grid_workers_create(
        workers=[
            NewGridWorker(
                username=w.username,
                grid_codes=tuple(w.scope_codes),
                first_name=w.first_name,
                last_name=w.last_name,
                phone=w.phone,
            )
            for w in workers
        ],
        password=password,
    )


def write_users_file(users: list[LoadedUser], county: County) -> Path:
    """VAR_DIR/demo-users.txt: every demo login with its role, scope and password (mode 0600)."""
    path = Path(settings.VAR_DIR) / USERS_FILE
    lines = [
        f"# Grassroots demo users: households={county.households} seed={county.seed}"
        f" written {datetime.datetime.now().isoformat(timespec='seconds')}",
        "# username\trole\tscope\tpassword",
        *(f"{u.username}\t{u.role}\t{u.scope}\t{u.password}" for u in users),
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path
