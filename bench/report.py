"""The benchmark figures as Markdown, and their place in docs/performance.md."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

START = "<!-- bench:start (written by bench/run.py; edit outside these markers) -->"
END = "<!-- bench:end -->"


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "missed"


def render(r: dict[str, Any], info: dict[str, str], command: str) -> str:
    t = r["timings"]
    residents, seconds = r["residents"], t["import residents"]
    bare, bare_after = r["bare_insert"], r["bare_insert_indexes_after"]
    ratio, ratio_after = seconds / bare, seconds / bare_after
    audit_first, audit_best = r["coverage"][0], min(r["coverage"])
    locate = t["placement: locate all points"]
    build = t["placement: build GridIndex"]
    naive = r["naive_placement_extrapolated"]
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} with `{command}`.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        f"County: {r['grids']:,} grids, {r['households']:,} households, {residents:,} residents "
        f"(residents.csv {r['residents_file_mb']:.0f} MB), demo seed 1.",
        "",
        "| measure | figure | target | |",
        "|---|---|---|---|",
        f"| import of {residents:,} residents from CSV, full validation, SQLite | "
        f"{seconds:.1f} s, {residents / seconds:,.0f} rows/s | ≤ 60 s | "
        f"{_verdict(seconds, 60)} |",
        f"| … as a ratio to a bare sqlite3 executemany of the same parsed rows into the same "
        f"table and indexes ({bare:.1f} s) | {ratio:.2f}× | ≤ 4× | {_verdict(ratio, 4)} |",
        f"| … as a ratio to the same bare insert with the indexes built after the rows "
        f"({bare_after:.1f} s) | {ratio_after:.2f}× | | |",
        f"| coverage audit of the whole county (`coverage_report(Scope.everything())`) | "
        f"first run {audit_first:.2f} s, best of 3 {audit_best:.2f} s | ≤ 2 s | "
        f"{_verdict(audit_best, 2)} |",
        f"| placement of {r['placement_points']:,} household points (the coordinates of "
        f"{r['placement_distinct']:,} households, cycled) into {r['grids']:,} grids "
        f"(`GridIndex.locate`) | {locate:.2f} s (+ {build:.2f} s to build the index) | ≤ 2 s | "
        f"{_verdict(locate + build, 2)} |",
        f"| … naive baseline: loop over the grids per point with a bounding-box test, "
        f"timed on {r['naive_placement_sample']:,} points and extrapolated | {naive:.1f} s "
        f"(GridIndex is {naive / max(locate + build, 1e-9):,.0f}× faster) | | |",
        "",
        "Other steps of the same run (not targets): "
        + ", ".join(
            f"{name} {t[name]:.1f} s"
            for name in ("generate demo files", "import units", "import grids", "import households")
        )
        + f". {r['placement_agree']:,} of {r['placement_points']:,} points were placed in the "
        "grid the file names (the others belong to the households planted outside their grid).",
        "",
        f"The residents import includes encrypting {residents:,} ID numbers and their mobile "
        "numbers (AES-GCM), their keyed hashes, and writing "
        f"{r['audit_events_residents']:,} audit events (one per resident plus the import's "
        "summary) in the same transaction; the bare baseline writes the resident rows only. "
        f"Key rotation (not a target): {t['key rotation: re-encrypt every value']:.1f} s to "
        f"re-encrypt {r['rotation_values']:,} values under a new key, in batches of 2,000, "
        "while the data stays readable.",
    ]
    counts = r["coverage_counts"]
    lines += [
        "",
        "Coverage problems in the benchmark database (the files carry the households planted "
        "outside their grid and the empty ones; the benchmark creates no users, so no grid has "
        "a worker): " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()) + ".",
    ]
    return "\n".join(lines)


TEMPLATE = f"""# Performance

Figures from `make bench` (`bench/run.py`). They are measurements with a baseline taken in the
same run, never assertions; run it again on your own machine to compare.

## Latest figures

{START}
{END}
"""


def write_docs(
    path: Path,
    text: str,
    start: str = START,
    end: str = END,
    heading: str = "## Latest figures",
) -> Path:
    """Replace one generated section of docs/performance.md (the rest is left as it is)."""
    current = path.read_text(encoding="utf-8") if path.exists() else TEMPLATE
    if start not in current or end not in current:
        current = current.rstrip("\n") + f"\n\n{heading}\n\n{start}\n{end}\n"
    before, rest = current.split(start, 1)
    _old, after = rest.split(end, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{before}{start}\n{text}\n{end}{after}", encoding="utf-8")
    return path


# --- Cases at county scale (bench/cases.py) ------------------------------------------------------

CASES_START = "<!-- bench-cases:start (written by bench/run.py; edit outside these markers) -->"
CASES_END = "<!-- bench-cases:end -->"
CASES_HEADING = "## Cases at county scale: latest figures"
SWEEP_TARGET, STATS_TARGET, LIST_TARGET = 1.0, 0.5, 0.050
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def _judged(seconds: float, target: float) -> str:
    return f"**{_s(seconds)}** ({_verdict(seconds, target)})"


def _ratio(slow: float, fast: float) -> str:
    return f"{slow / max(fast, 1e-9):,.1f}×"


def _case_rows(r: dict[str, Any]) -> dict[str, str]:
    """One engine's cells, by row key."""
    sw, st, gl, t = r["sweep"], r["stats"], r["grid_list"], r["timings"]
    a, b = sw["a_notify"], sw["b_quiet"]
    n = sw["per_set"]
    done = lambda x: f"{x['escalated']:,} escalated + {x['overdue']:,} overdue"  # noqa: E731
    load = t.get(f"generate and load {r['cases_requested']:,} cases", 0.0)
    return {
        "sweep": f"{_judged(a['seconds'], SWEEP_TARGET)}: {done(a)}, {a['statements']:,} "
        "statements",
        "sweep_quiet": f"{_s(b['seconds'])}: {done(b)}",
        "again": f"{_s(sw['again']['seconds'])}: {done(sw['again'])}",
        "floor": f"{_s(sw['floor']['seconds'])} for {sw['floor']['rows']:,} rows; the sweep "
        f"takes {_ratio(a['seconds'], sw['floor']['seconds'])} (notify=False: "
        f"{_ratio(b['seconds'], sw['floor']['seconds'])})",
        "loop": f"{sw['loop']['extrapolated']:,.0f} s ({sw['loop']['sample']:,} cases in "
        f"{sw['loop']['seconds']:.1f} s, × {n / max(1, sw['loop']['sample']):,.0f}): "
        f"{_ratio(sw['loop']['extrapolated'], a['seconds'])} the sweep's time",
        "stats": f"first {_s(st['county_first'])}, best of 3 {_judged(st['county_best'], 0.5)}",
        "stats_town": f"{_s(st['town_best'])} (town {st['town']})",
        "stats_month": f"{_s(st['month_best'])} ({st['month'][0]} to {st['month'][1]})",
        "stats_base": f"{_s(st['from_cases_best'])}: the buckets are "
        f"{_ratio(st['from_cases_best'], st['county_best'])} faster"
        + ("" if st["agree"] else "; **the figures differ from the buckets'**"),
        "list": f"first {_s(gl['first'])}, best of 5 {_judged(gl['best'], LIST_TARGET)} "
        f"({gl['rows']} rows)",
        "list_base": f"first {_s(gl['no_index_first'])}, best {_s(gl['no_index_best'])}: "
        f"{_ratio(gl['no_index_best'], gl['best'])} the indexed time",
        "rebuild": f"{_s(t['rebuild_buckets()'])} ({r['buckets_built']:,} buckets)",
        "load": f"{load:.0f} s cases, {t['timelines (INSERT … SELECT per step)']:.0f} s "
        f"timelines, {t['indexes and foreign keys rebuilt']:.0f} s indexes "
        f"({r['size_gb']:.1f} GB)",
    }


CASE_ROWS = [
    (
        "sweep",
        "`sweep()` with 1% of the cases overdue (set A), as the product runs it "
        "(notify=True: escalation events, buckets, audit, notifications)",
        "≤ 1 s",
    ),
    ("sweep_quiet", "… `sweep(notify=False)` over another 1% (set B)", ""),
    ("again", "… a second sweep at the same `now` (idempotence)", "nothing to do"),
    (
        "floor",
        "… floor: one ORM `.update()` of a third 1% (set C) with the same escalation "
        "columns, no events, buckets or deadlines per category (rolled back)",
        "",
    ),
    ("loop", "… naive baseline: per case read, save, event, bucket delta (rolled back)", ""),
    ("stats", "`indicators()` for the whole county", "≤ 0.5 s"),
    ("stats_town", "… one town", ""),
    ("stats_month", "… the county, one month", ""),
    (
        "stats_base",
        "… baseline: the same counts from the cases table, one aggregate query over the county",
        "",
    ),
    (
        "list",
        "`open_cases_of_grid()` for the grid with the most open cases, county administrator",
        "≤ 50 ms",
    ),
    ("list_base", "… baseline: the same call with `case_open_by_scope` dropped (rolled back)", ""),
    ("rebuild", "`rebuild_buckets()` after the load (not a target)", ""),
    ("load", "generation and load (bench set-up, not a target)", ""),
]


def render_cases(results: list[dict[str, Any]], info: dict[str, str], command: str) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    ran = [r for r in results if "skipped" not in r]
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    lines = [f"Measured {when} with `{command}`; {machine}."]
    for r in results:
        if "skipped" in r:
            lines += ["", f"{ENGINES[r['engine']]}: not run ({r['skipped']})."]
    if not ran:
        return "\n".join(lines)
    first = ran[0]
    stages = first["by_stage"]
    closed = stages.get("closed", 0) + stages.get("rated", 0)
    n = sum(stages.values())
    lines += [
        "",
        "Servers: " + "; ".join(r["server"] for r in ran) + ".",
        "",
        f"{n:,} cases over the county's {first['grids']:,} grids and their units' queues, "
        f"reported over the past year: {closed:,} closed ({stages.get('rated', 0):,} of them "
        f"rated), {stages.get('rejected', 0):,} rejected, {stages.get('merged', 0):,} merged, "
        f"{first['open']:,} open ("
        + ", ".join(
            f"{first['open_by_tier'].get(t, 0):,} at {t} tier"
            for t in ("grid", "village", "town", "county")
        )
        + f"); {first['events']:,} timeline events, {first['buckets']:,} statistics buckets. "
        f"Each overdue set holds {first['sweep']['per_set']:,} cases (1%)."
        + (
            ""
            if first["sweep"]["notify_module"]
            else " (cases/notify.py is absent: notify=True told nobody.)"
        ),
        "",
        "| measure | " + " | ".join(ENGINES[r["engine"]] for r in ran) + " | target |",
        "|---|" + "---|" * len(ran) + "---|",
    ]
    cells = [_case_rows(r) for r in ran]
    for key, label, target in CASE_ROWS:
        lines.append(f"| {label} | " + " | ".join(c[key] for c in cells) + f" | {target} |")
    for r in ran:
        check = r["buckets_after_sweeps"]
        if not check["agree"]:
            lines += [
                "",
                f"**{ENGINES[r['engine']]}: after the sweeps the buckets disagree with the "
                "cases** (bucket value, value from the cases): "
                + ", ".join(f"{k} {v}" for k, v in check.items() if k != "agree"),
            ]
    lines += [
        "",
        "Where the sweep over set A spends its time (statements grouped by their SQL, "
        "slowest first; each statement timed inside `execute()` by a wrapper around the cursor, so "
        "the rows a SELECT yields after it returns, SQLite's lazily, are not counted):",
    ]
    for r in ran:
        steps = r["sweep_statements_a_notify"]
        total = r["sweep"]["a_notify"]["seconds"]
        in_sql = sum(s["seconds"] for s in steps)
        lines += [
            "",
            f"{ENGINES[r['engine']]}: {in_sql:.2f} s of {total:.2f} s in the database.",
            "",
            "| statements | rows sent | time | SQL |",
            "|---|---|---|---|",
        ]
        for s in steps[:6]:
            sql = s["sql"][:150].replace("|", "\\|")
            lines.append(f"| {s['count']:,} | {s['rows'] or ''} | {_s(s['seconds'])} | `{sql}` |")
        plans = [s for s in steps[:3] if s["plan"]]
        if plans:
            lines += ["", "Plans of the slowest:", "", "```"]
            for s in plans:
                lines += [s["sql"][:120], s["plan"], ""]
            lines[-1] = "```"
    lines += ["", "Plans of the timed reads (" + ENGINES[first["engine"]] + " first):", ""]
    for r in ran:
        lines += ["```", f"-- {ENGINES[r['engine']]}"]
        for name, p in r["plans"].items():
            lines += [f"-- {name}", p["plan"], ""]
        lines[-1] = "```"
    return "\n".join(lines)


# --- Web pages at county scale (bench/web.py) ----------------------------------------------------

WEB_START = "<!-- bench-web:start (written by bench/run.py; edit outside these markers) -->"
WEB_END = "<!-- bench-web:end -->"
WEB_HEADING = "## Web pages at county scale: latest figures"


def _queries(n: int) -> str:
    return f"{n} query" if n == 1 else f"{n} queries"


def render_web(results: list[dict[str, Any]], info: dict[str, str], command: str) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    lines = [f"Measured {when} with `{command}`; {machine}."]
    for r in results:
        engine = ENGINES[r["engine"]]
        if "skipped" in r:
            lines += ["", f"{engine}: not run ({r['skipped']})."]
            continue
        w = r["world"]
        lines += [
            "",
            f"**{engine}** ({r['server']}): {w['grids']:,} grids, {w['households']:,} "
            f"households, {w['residents']:,} residents, {w['cases']:,} cases ({w['open']:,} "
            f"open), {w['events']:,} timeline events. Town {w['town']}; the grid worker's grid "
            f"{w['grid']} has {w['grid_open']:,} open cases, {w['worker_tasks']:,} of them "
            f"assigned to the worker; the case page shows {w['case']} ({w['case_events']} "
            f"events); the household search is `?q={w['initials']}`.",
            "",
            "| page | signed in as | first | best of 5 | queries | size | baseline (best of 5) "
            "| page ÷ baseline |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in r["pages"]:
            base = p.get("baseline")
            cells = [
                f"{p['name']} (`{p['url']}`)",
                p["who"],
                _s(p["first"]),
                f"**{_s(p['best'])}**",
                str(p["queries"]),
                f"{p['bytes'] / 1000:,.0f} kB",
                f"{base['label']}: {_s(base['best'])} ({_queries(base['queries'])})"
                if base
                else "",
                _ratio(p["best"], base["best"]) if base else "",
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# --- Hostile and oversized uploads (bench/uploads.py) --------------------------------------------

UPLOADS_START = "<!-- bench-uploads:start (written by bench/run.py; edit outside these markers) -->"
UPLOADS_END = "<!-- bench-uploads:end -->"
UPLOADS_HEADING = "## Hostile and oversized uploads: latest figures"
# Targets (issue 11): the process survives and stays small; an answer lists at most the first
# IMPORT_MAX_PROBLEMS_SHOWN problems.
ADDED_MB_TARGET, ANSWER_KB_TARGET = 300, 200


def render_uploads(r: dict[str, Any], info: dict[str, str], command: str) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if "skipped" in r:
        return f"Run {when}: {r['skipped']}."
    base = r["baseline_csv"]
    names = {
        "far_corner": "far corner (.xlsx, A1 and XFD1048576)",
        "sparse": "200,000 sparse rows (.xlsx)",
        "at_cap": f"{r['at_cap_rows']:,} rows at the row cap, every one with problems (.xlsx)",
        "baseline_csv": "baseline: the same rows as CSV",
    }
    lines = [
        f"Run {when} on {info.get('CPU', '?')}, {info.get('memory', '?')}; `{command}`.",
        "",
        "Each upload is a dry run of `POST /api/v1/imports/residents` by a town official, in a "
        "process of its own; memory is what the request added to the process's peak.",
        "",
        "| upload | file | answer | time | ÷ CSV | memory added | answer size |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in names.items():
        f = r.get(key, {})
        if "failed" in f:
            lines.append(f"| {label} | — | the process ended ({f['failed']}) | | | | |")
            continue
        answer = f"{f['status']}"
        if f.get("problem_count"):
            answer += f", {f['problems_listed']:,} of {f['problem_count']:,} problems listed"
        elif f.get("detail"):
            answer += f": {f['detail'].split(': ', 2)[-1]}"
        ratio = _ratio(f["seconds"], base["seconds"]) if key != "baseline_csv" else "1.0×"
        added = f"{f['added_mb']:.0f} MB"
        if f["added_mb"] > ADDED_MB_TARGET:
            added += " (over target)"
        size = f"{f['answer_bytes'] / 1024:.1f} KB"
        if f["answer_bytes"] / 1024 > ANSWER_KB_TARGET:
            size += " (over target)"
        lines.append(
            f"| {label} | {f['file_bytes'] / 1024:,.0f} KB | {answer} | {_s(f['seconds'])} "
            f"| {ratio} | {added} | {size} |"
        )
    lines += [
        "",
        f"Targets: the process survives every file; at most {ADDED_MB_TARGET} MB added and "
        f"{ANSWER_KB_TARGET} KB of answer per upload. Before issue 11 the far-corner file "
        "aborted the process (SIGABRT) and 200,000 sparse rows added about 490 MB and answered "
        "29 MB.",
    ]
    return "\n".join(lines)


# --- Party organizations at county scale (bench/orgs.py) -----------------------------------------

ORGS_START = "<!-- bench-orgs:start (written by bench/run.py; edit outside these markers) -->"
ORGS_END = "<!-- bench-orgs:end -->"
ORGS_HEADING = "## Party organizations at county scale: latest figures"
KINDS = {
    "committee": "committees",
    "branch": "branches",
    "joint_branch": "joint branches",
    "temporary_branch": "temporary branches",
    "general_branch": "general branches",
}


PLAN_WIDTH, PLAN_LINES = 160, 40


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _orgs_world(r: dict[str, Any]) -> str:
    w = r["world"]
    kinds = ", ".join(f"{n:,} {KINDS.get(k, k)}" for k, n in sorted(w["by_kind"].items()))
    units = w["units"]
    pools = []
    for key, label in (("pool_joint_branch", "joint branch"), ("pool_alliance", "alliance")):
        pool = w.get(key)
        if pool:
            pools.append(
                f"{label} {pool['code']}: {pool['organizations']} organizations, "
                f"{pool['members']:,} members, {pool['with_skill']:,} with 种植"
            )
    built = sum(r["timings"].values())
    return (
        f"**{ENGINES[r['engine']]}** ({r['server']}): {w['organizations']:,} organizations "
        f"({kinds}) serving {units.get('town', 0)} towns and {units.get('village', 0)} villages "
        f"of county {w['county']}; {w['members']:,} members ({w['probationary']:,} "
        f"probationary), {w['posts']:,} posts ({w['vacant']} organizations without a "
        f"secretary), {w['skills']:,} skills ({w['with_skill']:,} 种植); {w['meetings']:,} "
        f"meetings since {w['first_meeting']} with {w['attendance']:,} attendance rows; "
        f"{w['alliances']} alliances. The town official's town is {w['town']}. Talent pools: "
        + "; ".join(pools)
        + "."
        + (f" Built in {built:.0f} s." if built else "")
        + (
            f" Load average (1 min) {r['load'][0]:.1f} before the measures, {r['load'][1]:.1f} "
            "after."
            if "load" in r
            else ""
        )
        + (
            ""
            if w.get("talent_api")
            else " `GET /api/v1/orgs/talent` did not exist yet: only the selector was timed."
        )
    )


def render_orgs(results: list[dict[str, Any]], info: dict[str, str], command: str) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    lines = [f"Measured {when} with `{command}`; {machine}."]
    for r in results:
        engine = ENGINES[r["engine"]]
        if "skipped" in r:
            lines += ["", f"{engine}: not run ({r['skipped']})."]
            continue
        runs = r["runs"]
        lines += [
            "",
            _orgs_world(r),
            "",
            f"| measure | signed in as | first | median of {runs} | best | CPU, this process "
            "| queries (in SQL) | size | baseline: median | ÷ baseline | target |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for m in r["measures"]:
            base = m["baseline"]
            size = f"{m['bytes'] / 1000:,.0f} kB" if "bytes" in m else f"{m.get('rows', '')} rows"
            cells = [
                f"{m['name']} (`{m['what']}`)",
                m["who"],
                _s(m["first"]),
                f"**{_s(m['median'])}**",
                _s(m["best"]),
                _s(m["cpu"]),
                f"{m['queries']} ({_s(m['sql_seconds'])})",
                size,
                f"{base['label']}: {_s(base['median'])}",
                _ratio(m["median"], base["median"]),
                f"≤ {m['target'] * 1000:.0f} ms: {_verdict(m['median'], m['target'])}",
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        breakdown = r["world"].get("tree_breakdown")
        if breakdown:
            lines += [
                "",
                f"The plain SQL of the county's tree for this year, statement by statement (median "
                f"of {runs}): "
                + "; ".join(f"{label} {_s(seconds)}" for label, seconds in breakdown.items())
                + ".",
            ]
        # The slowest statement of each measure that missed its target, with its plan.
        shown: set[str] = set()
        slow = []
        for m in r["measures"]:
            if m["median"] <= m["target"] or not m["slowest"]:
                continue
            top = m["slowest"][0]
            key = top.get("key", top["sql"])
            if key in shown:
                slow.append(f"- {m['name']}: the same statement, {_s(top['seconds'])}.")
                continue
            shown.add(key)
            slow += [
                f"- {m['name']} ({_s(m['median'])}): {_s(top['seconds'])} of "
                f"{_s(m['sql_seconds'])} in SQL in `{top['sql'][:300]}`",
                "",
                "  ```",
                *(f"  {_cut(line, PLAN_WIDTH)}" for line in top["plan"].splitlines()[:PLAN_LINES]),
                "  ```",
            ]
        if slow:
            lazily = (
                " (timed inside `execute()`: the rows SQLite yields lazily after it returns are "
                "not counted)"
                if r["engine"] == "sqlite"
                else ""
            )
            lines += [
                "",
                f"{engine}, the slowest statement of each measure over its target{lazily}:",
                "",
            ]
            lines += slow
    return "\n".join(lines)
