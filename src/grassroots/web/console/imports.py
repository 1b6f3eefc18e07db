"""Registry import from the browser: upload, a background check listing the problems (the first
IMPORT_MAX_PROBLEMS_SHOWN, with their number), confirm, and the import with a progress bar (the
work is in imports_jobs.py, run by web/tasks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.uploads import UploadTooLarge
from grassroots.web.models import ImportJob
from grassroots.web.paging import sorted_page

from .imports_files import progress_of, stalled
from .imports_forms import ImportForm, too_large_message
from .imports_jobs import job_confirm, job_create, job_delete

PERM = "registry.import_registry"
JOB_SORTS: dict[str, Sequence[str]] = {
    "uploaded": ["created_at"],
    "file": ["file_name"],
    "status": ["status"],
}
PROBLEM_SORTS: dict[str, Sequence[str]] = {"row": ["row", "column"], "column": ["column", "row"]}


def _job(request: HttpRequest, pk: int) -> ImportJob:
    """The job if this user may see it (its uploader, or an administrator over it); 404 else."""
    return get_object_or_404(
        ImportJob.objects.visible_to(request.user).select_related("created_by"), pk=pk
    )


def _start_page(request: HttpRequest, form: ImportForm, status: int = 200) -> HttpResponse:
    jobs = ImportJob.objects.visible_to(request.user).select_related("created_by")
    context: dict[str, Any] = {"form": form, "title": _("Import households or residents")}
    context.update(sorted_page(request, jobs, JOB_SORTS, "-uploaded", per_page=10))
    return render(request, "web/console/import.html", context, status=status)


# CSRF is checked below, once the body has been read: an upload past the limit is stopped while
# it is read, and the CSRF middleware, reading the form first, would turn that into a bare 400.
@csrf_exempt
@login_required
@permission_required(PERM, raise_exception=True)
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            request.POST, request.FILES  # noqa: B018 - reads the body now
        except UploadTooLarge as exc:
            form = ImportForm({}, {}, user=request.user)
            form.full_clean()
            form.errors.clear()
            form.add_error("file", too_large_message(exc.limit))
            return _start_page(request, form, status=413)
    return _import_start(request)


@csrf_protect
def _import_start(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _start_page(request, ImportForm(user=request.user))
    form = ImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _start_page(request, form, status=422)
    job = job_create(
        actor=request.user,
        kind=form.cleaned_data["kind"],
        upload=form.cleaned_data["file"],
        unit_code=form.cleaned_data["unit_code"],
    )
    messages.success(
        request, _("%(file)s was uploaded; every row is being checked.") % {"file": job.file_name}
    )
    return redirect("console:import_job", pk=job.pk)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    context: dict[str, Any] = {
        "job": job,
        "progress": progress_of(job),
        "can_delete": job.deletable or stalled(job),
        "title": job.file_name,
    }
    if job.problem_count:
        context.update(sorted_page(request, job.problems.all(), PROBLEM_SORTS, "row"))
    return render(request, "web/console/import_job.html", context)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar alone, polled by HTMX every second while the job runs; once it ends,
    HTMX reloads the whole page (the summary and the problems)."""
    job = _job(request, pk)
    response = render(
        request,
        "web/console/import_progress.html",
        # The status badge in the page's heading changes along (an out-of-band swap).
        {"job": job, "progress": progress_of(job), "oob": True},
    )
    if not job.running and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.problem_count or job.error:
        messages.error(
            request,
            _(
                "This file has problems and cannot be imported: the import is all or nothing. "
                "Correct the rows listed and upload the file again."
            ),
        )
    elif job_confirm(actor=request.user, job=job):
        messages.success(request, _("The import has started."))
    else:
        messages.error(request, _("This file was already imported or is being imported."))
    return redirect("console:import_job", pk=job.pk)


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def import_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job_delete(job=job):
        messages.success(
            request, _("%(file)s and its check were deleted.") % {"file": job.file_name}
        )
        return redirect("console:import")
    messages.error(request, _("A running check or import cannot be stopped; wait until it ends."))
    return redirect("console:import_job", pk=job.pk)
