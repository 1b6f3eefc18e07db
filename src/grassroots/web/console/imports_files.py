"""The files of a console import job: its folder under VAR_DIR/imports/<job id>/ (never
served), the upload's safe name, and the progress file (see imports_jobs.py for why progress
goes to a file). Used by the job's lifecycle (imports_jobs.py) and its phases
(imports_phases.py), which the worker runs (web/tasks.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from grassroots.web.models import ImportJob

Status = ImportJob.Status
PROGRESS_FILE = "progress.json"
# A check or import that has reported no progress for this long is taken for dead (its worker
# was stopped) and may be deleted; the longest quiet stretch of a live one is the write.
STALLED_AFTER = 30 * 60


def safe_file_name(name: str | None) -> str:
    """The uploaded name without folders or odd characters, short enough for any file system;
    keeps the suffix (the reader goes by it)."""
    base = Path(name or "").name
    base = re.sub(r"[^\w.() -]", "_", base).lstrip(". ") or "upload"
    path = Path(base)
    return path.stem[:100] + path.suffix[:10].lower()


# ---------------------------------------------------------------------------------------------
# Progress (see the module docstring)


def write_progress(job: ImportJob, stage: str, done: int, total: int | None) -> None:
    folder = job.folder
    if not folder.is_dir():
        return  # deleted meanwhile
    staged = folder / f".{PROGRESS_FILE}.{os.getpid()}"
    staged.write_text(json.dumps({"stage": stage, "done": done, "total": total}))
    staged.replace(folder / PROGRESS_FILE)


def progress_of(job: ImportJob) -> dict[str, Any]:
    """Stage ('waiting', 'counting', 'reading', 'writing', 'finished'), rows done and total, and
    the percentage (None when unknown: the bar then shows activity without a value)."""
    if not job.running:
        rows = job.rows_total or 0
        return {"stage": "finished", "done": rows, "total": rows, "percent": 100}
    state: dict[str, Any] = {"stage": "waiting", "done": 0, "total": job.rows_total}
    if job.status != Status.QUEUED:
        state["stage"] = "counting"
        with contextlib.suppress(OSError, ValueError):  # not written yet, or deleted
            state.update(json.loads((job.folder / PROGRESS_FILE).read_text()))
    total, done = state.get("total"), state.get("done") or 0
    percent: int | None = None
    if state["stage"] == "reading" and total:
        percent = min(100, round(100 * done / total))
    state["percent"] = percent
    return state


def stalled(job: ImportJob) -> bool:
    """Whether a running check or import has given no sign of life for STALLED_AFTER."""
    if job.status not in (Status.CHECKING, Status.IMPORTING):
        return False
    try:
        last = (job.folder / PROGRESS_FILE).stat().st_mtime
    except OSError:
        last = (job.confirmed_at or job.created_at).timestamp()
    return time.time() - last > STALLED_AFTER


def remove_files(job: ImportJob) -> None:
    shutil.rmtree(job.folder, ignore_errors=True)
