"""Registry import jobs of the console: upload, a background check (dry run), confirm, import.

The importers are those of `grassroots import` and the API (registry/imports.py), run through
the same pipeline (core/imports.py) with the uploader's scope. A job's file lives in VAR_DIR/imports/<job id>/ (never served), and goes as
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

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from grassroots.web import tasks
from grassroots.web.models import ImportJob

from .imports_files import Status, remove_files, safe_file_name, stalled

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


def _enqueue(name: str, job_id: int) -> None:
    getattr(tasks, name).enqueue(job_id)
