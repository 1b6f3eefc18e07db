"""The web pages at county scale: the console, the grid worker's pages and the portal.

bench/run.py starts this file once per database engine, in its own process (Django reads
DATABASE_URL once):

    .venv/bin/python bench/web.py --engine sqlite --households 300000 --cases 1000000 \
        --out figures.json

It builds the benchmark county the fast way the other benchmarks do: the territory of the demo
county of 300,000 households (1,000 grids) and its staff with bench/cases.py's `County`; the
demo county's households and residents for that territory (`--households`, about 3.3 residents
each), imported with the registry's imports; a year of cases (`--cases`) generated and loaded
with bench/cases.py's `Generator` and `load_cases`, their timelines and statistics buckets.
Then it signs in as the people who use the pages (a county administrator, a town official, a
dispatcher over the county, the grid worker of the grid with the most open cases) with the
Django test client and times each page server-side, as the application answers it (middleware,
view, queries, template): the first request on a new database connection, then the best of 5.
Each page has a baseline timed the same way in the same run: the service or API call that
gives the page its figures, alone, so the ratio is what the page adds. A last request per page
counts its queries (CaptureQueriesContext; not timed, since it logs every statement).

Figures go to --out as JSON; bench/report.py renders them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases as bench_cases  # noqa: E402 - bench/cases.py, next to this file

ROOT = Path(__file__).resolve().parent.parent
FULL_HOUSEHOLDS = 300_000
FULL_CASES = 1_000_000
RUNS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument(
        "--households",
        type=int,
        default=int(os.environ.get("BENCH_WEB_HOUSEHOLDS", FULL_HOUSEHOLDS)),
    )
    parser.add_argument(
        "--cases", type=int, default=int(os.environ.get("BENCH_WEB_CASES", FULL_CASES))
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database and directory")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="time the pages on a county kept by --keep (the directory it printed) instead of "
        "building one",
    )
    return parser.parse_args()


def say(text: str) -> None:
    bench_cases.say(text)


# --- The county ----------------------------------------------------------------------------------


def load_people(households: int, seed: int, workdir: Path) -> dict[str, int]:
    """The demo county's households and residents over the benchmark territory, imported."""
    from grassroots.demo.files import _write_csv
    from grassroots.demo.generator import HOUSEHOLD_HEADERS, RESIDENT_HEADERS, _build_territory
    from grassroots.demo.generator import County as DemoCounty
    from grassroots.demo.people import add_people
    from grassroots.registry.imports import import_households, import_residents

    units, grids = _build_territory(bench_cases.COUNTY_HOUSEHOLDS, seed)
    demo = DemoCounty(households=households, seed=seed, units=units, grids=grids)
    add_people(demo)
    paths = workdir / "households.csv", workdir / "residents.csv"
    _write_csv(paths[0], HOUSEHOLD_HEADERS, demo.household_rows)
    _write_csv(paths[1], RESIDENT_HEADERS, demo.resident_rows)
    del demo
    out = {}
    for what, path, action in (
        ("households", paths[0], import_households),
        ("residents", paths[1], import_residents),
    ):
        result = action(path)
        if result.problems:
            raise SystemExit(f"{what}: the import refused the demo file: {result.problems[:3]}")
        out[what] = result.created
        path.unlink()
    return out


def load_cases(county: bench_cases.County, n: int, seed: int, engine: str) -> int:
    from grassroots.cases.stats import rebuild_buckets

    gen = bench_cases.Generator(county, n, seed, int(time.time()), engine)
    with bench_cases.without_indexes(["cases_case", "cases_caseevent"], n):
        bench_cases.load_cases(gen)
        bench_cases.write_timelines()
        say("rebuilding the indexes")
    buckets: int = rebuild_buckets()
    bench_cases.after_load()
    return buckets


def analyze_people() -> None:
    """PostgreSQL: the statistics autovacuum would gather after the imports (bench_cases's
    after_load covers the case tables). Without them the planner takes the million residents
    for one row and joins them in nested loops. SQLite gets none, as in production."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("registry_household", "registry_resident"):
                cursor.execute(f"VACUUM ANALYZE {table}")


class Personas:
    """The people who sign in, and what the pages are opened on."""

    def __init__(self, county_code: str, town: str) -> None:
        from django.db.models import Count

        from grassroots.accounts.models import User
        from grassroots.accounts.services import grid_assign, user_create
        from grassroots.cases.models import Case
        from grassroots.registry.models import Resident
        from grassroots.territory.models import Grid

        password = "bench-not-a-password"

        def create(username: str, role: str, code: str) -> Any:
            found = User.objects.filter(username=username).first()
            if found is not None:  # a county kept by --keep
                return found
            return user_create(
                username=username,
                role=role,
                scope_codes=[code],
                password=password,
                check_password=False,
            )

        self.county, self.town = county_code, town
        self.admin = create("web_county_admin", "county_admin", self.county)
        self.official = create("web_town_official", "town_official", self.town)
        self.dispatcher = create("web_dispatcher", "dispatcher", self.county)
        busiest = (
            Case.objects.filter(is_open=True, grid__isnull=False)
            .values("scope_code")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        assert busiest is not None
        self.grid, self.grid_open = busiest["scope_code"], busiest["n"]
        # bench/cases.py's worker of that grid, who the generated cases are assigned to.
        self.worker = User.objects.get(username=f"bw{self.grid}")
        grid_assign(user=self.worker, grids=[Grid.objects.get(code=self.grid)])
        self.worker_tasks = Case.objects.filter(is_open=True, assignee=self.worker).count()
        # The open case of that grid with the longest timeline.
        case = (
            Case.objects.filter(is_open=True, scope_code=self.grid)
            .order_by("-version", "id")
            .first()
        )
        assert case is not None
        self.case, self.case_events = case.tracking_code, case.events.count()
        # The commonest pinyin initials among the grid's residents: a search a worker types.
        initials = (
            Resident.objects.filter(scope_code__startswith=self.grid)
            .exclude(name_initials="")
            .values("name_initials")
            .annotate(n=Count("id"))
            .order_by("-n", "name_initials")
            .first()
        )
        self.initials = initials["name_initials"] if initials else "zh"


def client_for(user: Any) -> Any:
    """A test client signed in as `user`, past two-factor sign-in where the role needs it."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from grassroots.accounts.two_factor import otp_required

    client = Client()
    if user is None:
        return client
    client.force_login(user, backend="grassroots.accounts.backends.RoleBackend")
    if otp_required(user):
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


# --- Measurements --------------------------------------------------------------------------------


def timed_runs(action: Callable[[], Any]) -> dict[str, Any]:
    """First call on a new connection, then the best of RUNS."""
    bench_cases.fresh_connection()
    first, value = bench_cases.timed(action)
    runs = [bench_cases.timed(action)[0] for _ in range(RUNS)]
    return {"first": first, "best": min(runs), "value": value}


def get(client: Any, url: str) -> Callable[[], Any]:
    def action() -> Any:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code}")
        return response

    return action


def measure_page(
    name: str,
    client: Any,
    url: str,
    baseline: tuple[str, Callable[[], Any]] | None,
) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page = timed_runs(get(client, url))
    response = page.pop("value")
    with CaptureQueriesContext(connection) as queries:
        get(client, url)()
    slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
    row: dict[str, Any] = {
        "name": name,
        "url": url,
        **page,
        "bytes": len(response.content),
        "queries": len(queries),
        "slowest": [
            {"seconds": float(q["time"]), "sql": bench_cases.short(q["sql"], 300)} for q in slowest
        ],
    }
    if baseline is not None:
        label, action = baseline
        base = timed_runs(action)
        base.pop("value")
        with CaptureQueriesContext(connection) as queries:
            action()
        row["baseline"] = {"label": label, **base, "queries": len(queries)}
    ratio = ""
    if "baseline" in row:
        ratio = f", {row['best'] / max(row['baseline']['best'], 1e-9):.1f}× baseline"
    say(
        f"{name}: first {row['first'] * 1000:.0f} ms, best {row['best'] * 1000:.0f} ms, "
        f"{row['queries']} queries, {row['bytes'] / 1000:.0f} kB{ratio}"
    )
    return row


def measure(p: Personas) -> list[dict[str, Any]]:
    from django.utils import timezone

    from grassroots.cases import stats
    from grassroots.core.scoping import Scope
    from grassroots.registry.coverage import coverage_report, problem_records
    from grassroots.web.console.insight_map import case_counts

    admin, official = client_for(p.admin), client_for(p.official)
    dispatcher, worker, public = client_for(p.dispatcher), client_for(p.worker), client_for(None)
    today = timezone.localdate()
    month = today - datetime.timedelta(days=29), today
    year = datetime.date(today.year, 1, 1), today
    county, town = Scope.of(p.county), Scope.of(p.town)
    report = coverage_report(county, sample_size=0)
    problem = max(
        (k for k in report.counts if k != "grids_without_worker"), key=lambda k: report.counts[k]
    )

    def indicators(code: str, period: tuple[datetime.date, datetime.date]) -> Any:
        return ("stats.indicators()", lambda: stats.indicators(code, *period))

    def api(client: Any, url: str) -> tuple[str, Callable[[], Any]]:
        return (f"GET {url}", get(client, url))

    def counts(scope: Scope) -> tuple[str, Callable[[], Any]]:
        return ("open and overdue per grid, one grouped query", lambda: case_counts(scope))

    def audit(scope: Scope) -> tuple[str, Callable[[], Any]]:
        return ("coverage_report()", lambda: coverage_report(scope, sample_size=0))

    def records() -> Any:
        _model, qs = problem_records(county, problem)
        return list(qs.order_by("pk")[:50])

    pages: list[tuple[str, Any, str, tuple[str, Callable[[], Any]] | None]] = [
        ("dashboard, county, 30 days", admin, "/console/", indicators(p.county, month)),
        ("dashboard, county, this year", admin, "/console/?period=year",
         indicators(p.county, year)),
        ("dashboard, town, 30 days", official, "/console/", indicators(p.town, month)),
        ("dashboard, town, this year", official, "/console/?period=year",
         indicators(p.town, year)),
        ("map data, county, open", admin, "/console/map/data/?indicator=open", counts(county)),
        ("map data, county, overdue", admin, "/console/map/data/?indicator=overdue",
         counts(county)),
        ("map data, county, coverage", admin, "/console/map/data/?indicator=coverage",
         audit(county)),
        ("map page, county", admin, "/console/map/", counts(county)),
        ("coverage, county", admin, "/console/coverage/", audit(county)),
        ("coverage, town", official, "/console/coverage/", audit(town)),
        (f"coverage, county, records of {problem}", admin,
         f"/console/coverage/?problem={problem}",
         (f"problem_records({problem}), first 50", records)),
        ("case queue, default (open, by deadline)", dispatcher, "/console/cases/",
         api(dispatcher, "/api/v1/cases?open=true&sort=due")),
        ("case queue, overdue environment, by tier", dispatcher,
         "/console/cases/?overdue=on&category=environment&sort=tier",
         api(dispatcher, "/api/v1/cases?open=true&overdue=true&category=environment&sort=due")),
        ("case queue, open and closed, newest first", dispatcher,
         "/console/cases/?open=&sort=-reported",
         api(dispatcher, "/api/v1/cases?sort=-reported")),
        ("case page", dispatcher, f"/console/cases/{p.case}/",
         api(dispatcher, f"/api/v1/cases/{p.case}")),
        ("worker home /w/", worker, "/w/",
         api(worker, f"/api/v1/cases?grid={p.grid}&open=true&sort=due")),
        ("worker tasks /w/tasks/", worker, "/w/tasks/",
         api(worker, f"/api/v1/cases?grid={p.grid}&open=true&sort=due")),
        (f"worker households ?q={p.initials}", worker, f"/w/households/?q={p.initials}",
         api(worker, f"/api/v1/residents?q={p.initials}")),
        ("portal submit page", public, "/portal/", api(admin, "/api/v1/case-categories")),
        ("(API) case stats, county", admin, "/api/v1/cases/stats",
         indicators(p.county, (None, None))),  # type: ignore[arg-type]
    ]  # fmt: skip
    who = {
        id(admin): "county admin",
        id(official): "town official",
        id(dispatcher): "dispatcher (county)",
        id(worker): "grid worker",
        id(public): "anyone",
    }
    rows = []
    for name, client, url, base in pages:
        rows.append({"who": who[id(client)], **measure_page(name, client, url, base)})
    return rows


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    bench_cases.setup_django(workdir, database_url)
    from django.core.management import call_command

    from grassroots.cases.models import Case, CaseEvent
    from grassroots.registry.models import Household, Resident
    from grassroots.territory.models import Grid, Unit

    timer = bench_cases.Timer()
    figures: dict[str, Any] = {"engine": args.engine, "cases_requested": args.cases}
    if args.reuse:
        say(f"reusing the county in {database_url}")
        county_code = Unit.objects.filter(parent__isnull=True).values_list("code", flat=True)[0]
        town = Unit.objects.filter(level="town").order_by("code").values_list("code", flat=True)[0]
    else:
        timer.run("migrate", lambda: call_command("migrate", verbosity=0))
        county = timer.run(
            "territory (1,000 grids) and staff", lambda: bench_cases.County(args.seed)
        )
        figures["people"] = timer.run(
            f"households ({args.households:,}) and residents: generate, import",
            lambda: load_people(args.households, args.seed, workdir),
        )
        figures["buckets"] = timer.run(
            f"cases ({args.cases:,}): generate, load, timelines, buckets",
            lambda: load_cases(county, args.cases, args.seed, args.engine),
        )
        analyze_people()
        county_code, town = county.county_code, county.towns[0]
    p = Personas(county_code, town)
    figures["world"] = {
        "grids": Grid.objects.count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
        "cases": Case.objects.count(),
        "open": Case.objects.filter(is_open=True).count(),
        "events": CaseEvent.objects.count(),
        "town": p.town,
        "grid": p.grid,
        "grid_open": p.grid_open,
        "worker_tasks": p.worker_tasks,
        "case": p.case,
        "case_events": p.case_events,
        "initials": p.initials,
    }
    figures["server"] = bench_cases.server_version()
    say(f"world: {figures['world']}")
    figures["pages"] = measure(p)
    figures["timings"] = timer.figures
    return figures


def main() -> int:
    args = parse_args()
    bench_cases.ENGINE = "SQLite" if args.engine == "sqlite" else "PostgreSQL"
    if args.reuse:
        # The kept directory holds the database (or its URL) and VAR_DIR with the keys.
        workdir = Path(args.reuse).resolve()
        saved = workdir / "database_url"
        url = (
            saved.read_text().strip() if saved.exists() else f"sqlite:///{workdir / 'web.sqlite3'}"
        )
        figures = run(args, workdir, url)
        args.out.write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix=f"grassroots-bench-web-{args.engine}-"))
    database = f"gr_bench_web_{os.getpid()}"
    figures: dict[str, Any]
    try:
        if args.engine == "sqlite":
            url = f"sqlite:///{workdir / 'web.sqlite3'}"
        else:
            try:
                url = bench_cases.pg_database(database, create=True)
            except Exception as exc:  # noqa: BLE001 - any failure to reach the server
                say(f"not reachable at {bench_cases.PG_ADMIN_URL}: {exc}; skipped")
                args.out.write_text(json.dumps({"engine": args.engine, "skipped": str(exc)}))
                return 0
        say(f"{args.households:,} households, {args.cases:,} cases in {workdir}")
        if args.keep:
            (workdir / "database_url").write_text(url)
        figures = run(args, workdir, url)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep:
            say(f"kept {workdir}" + (f" and database {database}" if args.engine != "sqlite"
                                     else ""))  # fmt: skip
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.engine == "postgresql":
                with contextlib.suppress(Exception):
                    bench_cases.pg_database(database, create=False)
    args.out.write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
