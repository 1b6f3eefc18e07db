"""Background work of the web pages, on Django's tasks API (django-tasks).

The console's registry import jobs (web/console/imports_jobs.py, imports_phases.py): the check of an upload and,
once confirmed, its import. `grassroots worker` runs them from the database queue; each task
claims its job with a conditional UPDATE, so a task run twice does its work once.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from grassroots.web.console.imports_phases import check, run


@task()
def check_import(job_id: int) -> dict[str, Any]:
    """Check every row of an uploaded file (a dry run) and keep every problem."""
    return check(job_id)


@task()
def run_import(job_id: int) -> dict[str, Any]:
    """Import a checked and confirmed file, all or nothing."""
    return run(job_id)
