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


def write_docs(path: Path, text: str) -> Path:
    """Replace the generated section of docs/performance.md (the rest is left as it is)."""
    current = path.read_text(encoding="utf-8") if path.exists() else TEMPLATE
    if START not in current or END not in current:
        current = current.rstrip("\n") + "\n\n## Latest figures\n\n" + START + "\n" + END + "\n"
    before, rest = current.split(START, 1)
    _old, after = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")
    return path
