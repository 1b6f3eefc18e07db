"""The two phases of a console import job, run by the tasks in web/tasks.py: the check (a dry
run) and, once confirmed, the import, through the pipeline of core/imports.py."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit.context import acting
from grassroots.core.imports import ImportRefused, ImportResult, run_import
from grassroots.core.scoping import Scope
from grassroots.core.tables import TableError, read_table
from grassroots.registry.imports import HouseholdImporter, ResidentImporter
from grassroots.web.models import ImportJob, ImportProblem

from .imports_files import Status, remove_files, write_progress

logger = logging.getLogger("grassroots.web.imports")
VALUE_LENGTH = 200


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

        importer_class = HouseholdImporter if job.kind == "households" else ResidentImporter
        importer = importer_class(scope=scope, unit_code=job.unit_code or None)
        with acting(channel="task", user=job.confirmed_by or uploader, label="task:import"):
            result = run_import(
                importer,
                job.path,
                dry_run=dry_run,
                progress=progress,
                max_rows=settings.IMPORT_MAX_ROWS,
            )
    except (TableError, ImportRefused) as exc:
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
