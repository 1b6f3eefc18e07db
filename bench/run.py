"""Benchmarks with targets: import, coverage audit, point placement, cases, web pages and party
organizations at county size.

    .venv/bin/python bench/run.py                          full size: 1,000,000 residents,
                                                           5,000,000 cases on SQLite and PostgreSQL
    BENCH_RESIDENTS=100000 BENCH_CASES=200000 .venv/bin/python bench/run.py   a quick run
    .venv/bin/python bench/run.py --residents 200000 --keep
    .venv/bin/python bench/run.py --only cases --engine sqlite --cases 200000
    .venv/bin/python bench/run.py --only web --engine sqlite --web-households 100000 \
        --web-cases 300000                                 the web pages, a mid-size county
    .venv/bin/python bench/run.py --only orgs --orgs-members 3000 --orgs-years 2   party
                                                           organizations, a quick run

The cases benchmark (bench/cases.py) runs once per engine in its own process, each with its own
database: a SQLite file in a temporary directory, and on PostgreSQL (127.0.0.1:5432, user
postgres, or $BENCH_PG_URL) a database it creates and drops; when the server cannot be reached
that engine is reported as not run. The web pages benchmark (bench/web.py) runs the same way,
on a county of --web-households households (default 300,000, about a million residents) and
--web-cases cases (default 1,000,000). The party organizations benchmark (bench/orgs.py) runs the
same way, on about 300 organizations with --orgs-members members (default 30,000) and
--orgs-years years of meetings (default 5).

Everything happens in a new temporary directory (database, VAR_DIR, files), never in var/.
Figures are printed with their targets and ratios to baselines measured in the same run; they
are never asserted. A full-size run also writes them to docs/performance.md (--docs to write
after a smaller run, --no-docs to leave the file alone).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZE = 1_000_000
CASES_FULL_SIZE = 5_000_000
WEB_FULL_HOUSEHOLDS = 300_000
WEB_FULL_CASES = 1_000_000
ORGS_FULL_MEMBERS = 30_000
ORGS_FULL_YEARS = 5
# Households per resident of the demo county (about 3.3 residents a household).
HOUSEHOLDS_PER_RESIDENT = 0.3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--residents",
        type=int,
        default=int(os.environ.get("BENCH_RESIDENTS", FULL_SIZE)),
        help=f"size of the county (default $BENCH_RESIDENTS or {FULL_SIZE:,})",
    )
    parser.add_argument(
        "--cases",
        type=int,
        default=int(os.environ.get("BENCH_CASES", CASES_FULL_SIZE)),
        help=f"cases for the cases benchmark (default $BENCH_CASES or {CASES_FULL_SIZE:,})",
    )
    parser.add_argument(
        "--web-households",
        type=int,
        default=int(os.environ.get("BENCH_WEB_HOUSEHOLDS", WEB_FULL_HOUSEHOLDS)),
        help="households for the web pages benchmark (default $BENCH_WEB_HOUSEHOLDS or "
        f"{WEB_FULL_HOUSEHOLDS:,})",
    )
    parser.add_argument(
        "--web-cases",
        type=int,
        default=int(os.environ.get("BENCH_WEB_CASES", WEB_FULL_CASES)),
        help=f"cases for the web pages benchmark (default $BENCH_WEB_CASES or {WEB_FULL_CASES:,})",
    )
    parser.add_argument(
        "--orgs-members",
        type=int,
        default=int(os.environ.get("BENCH_ORGS_MEMBERS", ORGS_FULL_MEMBERS)),
        help="party members for the organizations benchmark (default $BENCH_ORGS_MEMBERS or "
        f"{ORGS_FULL_MEMBERS:,})",
    )
    parser.add_argument(
        "--orgs-years",
        type=int,
        default=int(os.environ.get("BENCH_ORGS_YEARS", ORGS_FULL_YEARS)),
        help="years of meetings for the organizations benchmark (default $BENCH_ORGS_YEARS or "
        f"{ORGS_FULL_YEARS})",
    )
    parser.add_argument(
        "--only",
        choices=["residents", "cases", "web", "uploads", "orgs"],
        help="run one benchmark (default: all five)",
    )
    parser.add_argument(
        "--engine",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="database(s) for the cases, web pages and organizations benchmarks (default both)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--docs", action="store_true", help="write docs/performance.md")
    docs.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    return parser.parse_args()


def setup_django(workdir: Path) -> None:
    """Point settings at the temporary directory before Django reads them."""
    os.environ["VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


class Timer:
    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    def run(self, name: str, action: Any) -> Any:
        print(f"  {name} ...", end="", flush=True)
        start = time.perf_counter()
        value = action()
        self.figures[name] = time.perf_counter() - start
        print(f" {self.figures[name]:.2f} s", flush=True)
        return value


def machine() -> dict[str, str]:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPUs (nproc)": str(cpus),
        "CPU": platform.processor() or platform.machine(),
        "memory": memory,
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "OS": platform.platform(terse=True),
        "commit": commit or "?",
    }


def main() -> int:
    args = parse_args()
    info = machine()
    command = " ".join(
        [
            f"{k}={os.environ[k]}"
            for k in (
                "BENCH_RESIDENTS",
                "BENCH_CASES",
                "BENCH_WEB_HOUSEHOLDS",
                "BENCH_WEB_CASES",
                "BENCH_ORGS_MEMBERS",
                "BENCH_ORGS_YEARS",
            )
            if k in os.environ
        ]
        + [".venv/bin/python", "bench/run.py", *sys.argv[1:]]
    )
    import report

    texts = []
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.only in (None, "residents"):
        text = residents_bench(args, info, command)
        texts.append(text)
        if args.docs or (args.residents >= FULL_SIZE and not args.no_docs):
            path = report.write_docs(ROOT / "docs" / "performance.md", text)
            print(f"written to {path.relative_to(ROOT)}")
    if args.only in (None, "cases"):
        results = [cases_bench(engine, args) for engine in engines]
        text = report.render_cases(results, info, command)
        texts.append(text)
        if args.docs or (args.cases >= CASES_FULL_SIZE and not args.no_docs):
            path = report.write_docs(
                ROOT / "docs" / "performance.md",
                text,
                report.CASES_START,
                report.CASES_END,
                report.CASES_HEADING,
            )
            print(f"written to {path.relative_to(ROOT)}")
    if args.only in (None, "web"):
        results = [web_bench(engine, args) for engine in engines]
        text = report.render_web(results, info, command)
        texts.append(text)
        full = args.web_households >= WEB_FULL_HOUSEHOLDS and args.web_cases >= WEB_FULL_CASES
        if args.docs or (full and not args.no_docs):
            path = report.write_docs(
                ROOT / "docs" / "performance.md",
                text,
                report.WEB_START,
                report.WEB_END,
                report.WEB_HEADING,
            )
            print(f"written to {path.relative_to(ROOT)}")
    if args.only in (None, "uploads"):
        text = report.render_uploads(uploads_bench(), info, command)
        texts.append(text)
        if not args.no_docs:
            path = report.write_docs(
                ROOT / "docs" / "performance.md",
                text,
                report.UPLOADS_START,
                report.UPLOADS_END,
                report.UPLOADS_HEADING,
            )
            print(f"written to {path.relative_to(ROOT)}")
    if args.only in (None, "orgs"):
        results = [orgs_bench(engine, args) for engine in engines]
        text = report.render_orgs(results, info, command)
        texts.append(text)
        full = args.orgs_members >= ORGS_FULL_MEMBERS and args.orgs_years >= ORGS_FULL_YEARS
        if args.docs or (full and not args.no_docs):
            path = report.write_docs(
                ROOT / "docs" / "performance.md",
                text,
                report.ORGS_START,
                report.ORGS_END,
                report.ORGS_HEADING,
            )
            print(f"written to {path.relative_to(ROOT)}")
    print()
    print("\n\n".join(texts))
    return 0


def residents_bench(args: argparse.Namespace, info: dict[str, str], command: str) -> str:
    households = max(1, round(args.residents * HOUSEHOLDS_PER_RESIDENT))
    workdir = Path(tempfile.mkdtemp(prefix="grassroots-bench-"))
    print(
        f"grassroots bench: {args.residents:,} residents ({households:,} households) in {workdir}"
    )
    setup_django(workdir)
    try:
        results = run_benchmarks(workdir, households, args.seed)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    import report

    return report.render(results, info, command)


def cases_bench(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench/cases.py for one engine, in its own process (Django reads DATABASE_URL once)."""
    print(f"grassroots bench: {args.cases:,} cases on {engine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="grassroots-bench-figures-") as tmp:
        out = Path(tmp) / "cases.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "cases.py"),
            "--engine",
            engine,
            "--cases",
            str(args.cases),
            "--seed",
            str(args.seed),
            "--out",
            str(out),
            *(["--keep"] if args.keep else []),
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode != 0 or not out.exists():
            return {"engine": engine, "skipped": f"bench/cases.py failed ({done.returncode})"}
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def uploads_bench() -> dict[str, Any]:
    """bench/uploads.py: hostile and oversized spreadsheets through the import API."""
    print("grassroots bench: hostile and oversized uploads", flush=True)
    with tempfile.TemporaryDirectory(prefix="grassroots-bench-figures-") as tmp:
        out = Path(tmp) / "uploads.json"
        command = [sys.executable, str(ROOT / "bench" / "uploads.py"), "--out", str(out)]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode != 0 or not out.exists():
            return {"skipped": f"bench/uploads.py failed ({done.returncode})"}
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def web_bench(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench/web.py for one engine, in its own process."""
    print(
        f"grassroots bench: web pages, {args.web_households:,} households and "
        f"{args.web_cases:,} cases on {engine}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="grassroots-bench-figures-") as tmp:
        out = Path(tmp) / "web.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "web.py"),
            "--engine",
            engine,
            "--households",
            str(args.web_households),
            "--cases",
            str(args.web_cases),
            "--seed",
            str(args.seed),
            "--out",
            str(out),
            *(["--keep"] if args.keep else []),
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode != 0 or not out.exists():
            return {"engine": engine, "skipped": f"bench/web.py failed ({done.returncode})"}
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def orgs_bench(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench/orgs.py for one engine, in its own process."""
    print(
        f"grassroots bench: party organizations, {args.orgs_members:,} members and "
        f"{args.orgs_years} years of meetings on {engine}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="grassroots-bench-figures-") as tmp:
        out = Path(tmp) / "orgs.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "orgs.py"),
            "--engine",
            engine,
            "--members",
            str(args.orgs_members),
            "--years",
            str(args.orgs_years),
            "--seed",
            str(args.seed),
            "--out",
            str(out),
            *(["--keep"] if args.keep else []),
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode != 0 or not out.exists():
            return {"engine": engine, "skipped": f"bench/orgs.py failed ({done.returncode})"}
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def run_benchmarks(workdir: Path, households: int, seed: int) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command

    import baselines
    from grassroots.core.scoping import Scope
    from grassroots.demo import write_demo_files
    from grassroots.registry.coverage import coverage_report
    from grassroots.registry.imports import import_households, import_residents
    from grassroots.registry.models import Household, Resident
    from grassroots.territory.geometry import GridIndex, parse_polygon
    from grassroots.territory.imports import import_grids, import_units
    from grassroots.territory.models import Grid

    timer = Timer()
    figures: dict[str, Any] = {"households_requested": households}
    paths = timer.run(
        "generate demo files",
        lambda: write_demo_files(workdir / "files", households=households, seed=seed),
    )
    timer.run("migrate", lambda: call_command("migrate", verbosity=0))

    def check(what: str, result: Any) -> Any:
        if result.problems:
            raise SystemExit(f"{what}: the import refused the demo file: {result.problems[:3]}")
        return result

    timer.run("import units", lambda: check("units", import_units(paths["units"])))
    timer.run("import grids", lambda: check("grids", import_grids(paths["grids"])))
    timer.run(
        "import households", lambda: check("households", import_households(paths["households"]))
    )
    result = timer.run(
        "import residents", lambda: check("residents", import_residents(paths["residents"]))
    )
    figures["residents"] = result.created
    figures["households"] = Household.objects.count()
    figures["grids"] = Grid.objects.count()
    figures["residents_file_mb"] = paths["residents"].stat().st_size / 1e6

    from django.db import connection

    connection.close()
    database = Path(settings.DATABASES["default"]["NAME"])
    init_command = settings.DATABASES["default"]["OPTIONS"]["init_command"]
    columns, rows = timer.run(
        "read rows back for the baseline", lambda: baselines.read_rows(database)
    )
    # Timed inside (the referenced tables are set up first, untimed).
    for key, label, after in (
        ("bare_insert", "bare executemany, indexes maintained", False),
        ("bare_insert_indexes_after", "bare executemany, indexes built after", True),
    ):
        figures[key] = baselines.bare_insert(
            database, workdir / "bare.sqlite3", columns, rows, init_command, indexes_after=after
        )
        print(f"  {label} ... {figures[key]:.2f} s", flush=True)
    rows.clear()  # free the memory before the next steps

    audits = [
        timer.run(f"coverage audit, run {i}", lambda: coverage_report(Scope.everything()))
        for i in (1, 2, 3)
    ]
    figures["coverage"] = [timer.figures[f"coverage audit, run {i}"] for i in (1, 2, 3)]
    figures["coverage_counts"] = audits[0].counts

    grids = [(pk, parse_polygon(b)) for pk, b in Grid.objects.values_list("pk", "boundary")]
    points = list(Household.objects.filter(lon__isnull=False).values_list("lon", "lat", "grid_id"))
    figures["placement_distinct"] = len(points)
    # As many points as households: the household coordinates, cycled (some have none).
    points = list(itertools.islice(itertools.cycle(points), figures["households"]))
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    index = timer.run("placement: build GridIndex", lambda: GridIndex(grids))
    located = timer.run("placement: locate all points", lambda: index.locate(lons, lats))
    figures["placement_points"] = len(points)
    figures["placement_agree"] = sum(1 for p, g in zip(points, located, strict=True) if p[2] == g)
    sample = min(2_000, len(points))
    step = max(1, len(points) // sample)
    per_point = timer.run(
        f"placement: naive loop, {sample:,}-point sample",
        lambda: baselines.naive_placement(grids, lons[::step][:sample], lats[::step][:sample]),
    )
    figures["naive_placement_sample"] = sample
    figures["naive_placement_extrapolated"] = per_point * len(points)
    from grassroots.audit.models import Event
    from grassroots.core import keys

    figures["audit_events_residents"] = Event.objects.filter(
        object_type="registry.resident"
    ).count()
    timer.run("key rotation: new primary key", keys.add_primary_key)
    rotation = timer.run("key rotation: re-encrypt every value", keys.reencrypt)
    figures["rotation_values"] = sum(rotation.reencrypted.values())
    figures["residents_current"] = Resident.objects.filter(
        moved_out_on__isnull=True, deceased_on__isnull=True
    ).count()
    figures["timings"] = timer.figures
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
