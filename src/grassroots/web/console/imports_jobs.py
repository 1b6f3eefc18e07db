"""Registry import jobs of the console: upload, a background check (dry run), confirm, import.

The importers are those of `grassroots import` and the API (registry/imports.py), run with the
uploader's scope. A job's file lives in VAR_DIR/imports/<job id>/ (never served), and goes as
soon as it can no longer be imported: after the import, after a check that found problems, on
failure, and when the job is deleted.

Where progress goes. The job row holds the state that matters (status, rows, counts, the first
IMPORT_MAX_PROBLEMS_SHOWN problems and their number), written between the phases in short
transactions of their own. The rows done while a
phase runs go to a small JSON file in the job's folder instead, replaced atomically
(write, then rename), and the page's poll reads it. The database is no place for them: the
real import writes in one all-or-nothing transaction, and on SQLite that transaction holds the
single write lock, so a progress UPDATE from another connection would wait for it (or fail with
"database is locked"), while one on the worker's own connection would stay invisible to the
page until the commit on PostgreSQL, and be rolled back with the import on failure. A file is
seen at once by the web process on either database, costs one rename per thousand rows, and a
lost file only loses the bar. The worker and the web server share VAR_DIR already (the upload
is there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit.context import acting
from grassroots.core.imports import ImportResult
from grassroots.core.scoping import Scope
from grassroots.core.tables import TableError, read_table
from grassroots.registry.imports import IMPORTERS, UnknownUnit
from grassroots.web.models import ImportJob, ImportProblem

logger = logging.getLogger("grassroots.web.imports")

Status = ImportJob.Status
PROGRESS_FILE = "progress.json"
# A check or import that has reported no progress for this long is taken for dead (its worker
# was stopped) and may be deleted; the longest quiet stretch of a live one is the write.
STALLED_AFTER = 30 * 60
VALUE_LENGTH = 200


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


# ---------------------------------------------------------------------------------------------
# Services


def job_create(*, actor: Any, kind: str, upload: UploadedFile, unit_code: str = "") -> ImportJob:
    """Store the upload as a new job and enqueue its check (a dry run)."""
    job = ImportJob.objects.create(
        kind=kind,
        file_name=safe_file_name(upload.name),
        size=upload.size or 0,
        unit_code=unit_code or "",
        created_by=actor,
        scope_code="" if actor.is_superuser else (actor.scope_code or ""),
    )
    job.folder.mkdir(parents=True, exist_ok=True)
    with job.path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    # No transaction is open here (views run in autocommit): the job row is committed before
    # a worker can pick the task up.
    _enqueue("check_import", job.pk)
    return job


def job_confirm(*, actor: Any, job: ImportJob) -> bool:
    """Enqueue the real import of a checked job without problems; False if it is not one (any
    more: the conditional update decides between two confirmations at once)."""
    claimed = ImportJob.objects.filter(
        pk=job.pk, status=Status.CHECKED, problem_count=0, error=""
    ).update(status=Status.QUEUED, confirmed_at=timezone.now(), confirmed_by=actor)
    if not claimed:
        return False
    _enqueue("run_import", job.pk)
    return True


def stalled(job: ImportJob) -> bool:
    """Whether a running check or import has given no sign of life for STALLED_AFTER."""
    if job.status not in (Status.CHECKING, Status.IMPORTING):
        return False
    try:
        last = (job.folder / PROGRESS_FILE).stat().st_mtime
    except OSError:
        last = (job.confirmed_at or job.created_at).timestamp()
    return time.time() - last > STALLED_AFTER


def job_delete(*, job: ImportJob) -> bool:
    """Delete a job with its file, unless its check or import is running (and alive) now."""
    jobs = ImportJob.objects.filter(pk=job.pk)
    if not stalled(job):
        # Conditional: a worker may claim the job between the page and this click.
        jobs = jobs.exclude(status__in=[Status.CHECKING, Status.IMPORTING])
    deleted, _counts = jobs.delete()
    if deleted:
        remove_files(job)
    return bool(deleted)


def remove_files(job: ImportJob) -> None:
    shutil.rmtree(job.folder, ignore_errors=True)


def _enqueue(name: str, job_id: int) -> None:
    from grassroots.web import tasks

    getattr(tasks, name).enqueue(job_id)


# ---------------------------------------------------------------------------------------------
# The two phases, run by the tasks in web/tasks.py


def check(job_id: int) -> dict[str, Any]:
    """The dry run: count the rows, check every one, keep the first problems and their number."""
    if not ImportJob.objects.filter(
        pk=job_id, status=Status.QUEUED, confirmed_at__isnull=True
    ).update(status=Status.CHECKING):
        return {"skipped": True}  # deleted, or taken by another worker
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    result = _run(job, dry_run=True)
    if result is None:
        return {"failed": True}
    _save_problems(job, result)
    job.status = Status.CHECKED
    job.finished_at = timezone.now()
    job.save()
    if result.problems:
        remove_files(job)  # it can never be imported
    return {"rows": result.rows, "problems": len(result.problems)}


def run(job_id: int) -> dict[str, Any]:
    """The confirmed import, from the same file, all or nothing."""
    if not ImportJob.objects.filter(
        pk=job_id, status=Status.QUEUED, confirmed_at__isnull=False
    ).update(status=Status.IMPORTING):
        return {"skipped": True}
    job = ImportJob.objects.select_related("created_by", "confirmed_by").get(pk=job_id)
    result = _run(job, dry_run=False)
    if result is None:
        return {"failed": True}
    if result.problems:
        # The registry changed since the check (a household taken meanwhile): nothing written.
        _save_problems(job, result)
        job.status = Status.FAILED
        job.error = _(
            "The registry changed since the check and %(n)d row(s) are no longer valid; "
            "nothing was written."
        ) % {"n": len({p.row for p in result.problems})}
    else:
        job.status = Status.DONE
    job.finished_at = timezone.now()
    job.save()
    remove_files(job)
    return {"created": result.created, "updated": result.updated}


def _run(job: ImportJob, *, dry_run: bool) -> ImportResult | None:
    """Run the importer on the job's file with progress; None (and the job failed) when the file
    as a whole cannot be read."""
    uploader = job.created_by
    scope = Scope.for_user(uploader) if uploader is not None else Scope.nothing()
    try:
        if job.rows_total is None:
            write_progress(job, "counting", 0, None)
            rows = read_table(job.path, max_rows=settings.IMPORT_MAX_ROWS).rows
            job.rows_total = sum(1 for _row in rows)
            ImportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total)
        total = job.rows_total

        def progress(stage: str, done: int) -> None:
            write_progress(job, stage, done, total)

        with acting(channel="task", user=job.confirmed_by or uploader, label="task:import"):
            result = IMPORTERS[job.kind](
                job.path,
                scope=scope,
                dry_run=dry_run,
                unit_code=job.unit_code or None,
                progress=progress,
                max_rows=settings.IMPORT_MAX_ROWS,
            )
    except (TableError, UnknownUnit) as exc:
        _fail(job, str(exc))
        return None
    except Exception:
        logger.exception("import job %s failed", job.pk)
        _fail(job, _("The import stopped on an unexpected error; nothing was written."))
        raise
    job.rows_done = result.rows
    job.encoding = result.encoding or ""
    job.warnings = list(result.warnings)
    job.created, job.updated, job.unchanged = result.created, result.updated, result.unchanged
    return result


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.FAILED, error=message, finished_at=timezone.now()
    )
    remove_files(job)


def _save_problems(job: ImportJob, result: ImportResult) -> None:
    """The first IMPORT_MAX_PROBLEMS_SHOWN problems by row, with the cell's value as the file
    has it, and how many there are in all."""
    shown = result.first_problems()
    cells_of = dict(result.bad_rows)
    missing = {p.row for p in shown if p.row > 1 and p.row not in cells_of}
    if missing:
        # Found after the row pass (placement, registry lookups): read those rows again.
        last = max(missing)
        for number, cells in read_table(job.path).rows:
            if number in missing:
                cells_of[number] = cells
            if number >= last:
                break
    column_index: dict[str, int] = {}
    for i, header in enumerate(result.headers):
        column_index.setdefault(header, i)

    def value(row: int, column: str) -> str:
        cells, i = cells_of.get(row), column_index.get(column)
        if cells is None or i is None or i >= len(cells) or row == 1:
            return ""
        return cells[i][:VALUE_LENGTH]

    def problems() -> Iterable[ImportProblem]:
        for p in shown:
            yield ImportProblem(
                job=job,
                row=p.row,
                column=p.column[:100],
                value=value(p.row, p.column),
                reason=p.reason,
            )

    with transaction.atomic():
        ImportProblem.objects.filter(job=job).delete()
        batch: list[ImportProblem] = []
        for problem in problems():
            batch.append(problem)
            if len(batch) == 1000:
                ImportProblem.objects.bulk_create(batch)
                batch = []
        ImportProblem.objects.bulk_create(batch)
    job.problem_count = len(result.problems)
