"""Rows the web pages keep of their own: registry import jobs started from the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.roles import Role
from grassroots.core.scoping import Scope


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def visible_to(self, user: Any) -> ImportJobQuerySet:
        """The uploader's own jobs, and for county administrators (and superusers) the jobs of
        uploaders inside their scope. Nobody else sees a job: it holds a whole file's rows."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        mine = Q(created_by=user)
        if user.is_superuser:
            return self
        if user.role == Role.COUNTY_ADMIN:
            scope = Scope.for_user(user)
            if scope.codes:
                return self.filter(mine | scope.q("scope_code"))
        return self.filter(mine)


class ImportJob(models.Model):
    """One spreadsheet uploaded in the console: checked (a dry run) in the background, then,
    once confirmed, imported from the same file. See web/console/imports_jobs.py."""

    class Kind(models.TextChoices):
        HOUSEHOLDS = "households", _("Household records")
        RESIDENTS = "residents", _("Resident records")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    file_name = models.CharField(_("file"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    unit_code = models.CharField(_("default unit"), max_length=12, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="import_jobs",
        verbose_name=_("uploaded by"),
    )
    # The uploader's territory when uploading: county administrators above it see the job.
    scope_code = models.CharField(_("scope"), max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    problem_count = models.PositiveIntegerField(_("problems"), default=0)
    # Why the file as a whole could not be read or imported (no row to blame).
    error = models.TextField(_("error"), blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name}"

    @property
    def folder(self) -> Path:
        """Where the upload and its progress file live (outside the served static/media)."""
        return Path(settings.VAR_DIR) / "imports" / str(self.pk)

    @property
    def path(self) -> Path:
        return self.folder / self.file_name

    @property
    def running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.CHECKING, self.Status.IMPORTING)

    @property
    def confirmable(self) -> bool:
        return self.status == self.Status.CHECKED and not self.problem_count and not self.error

    @property
    def deletable(self) -> bool:
        # A running check or import reads the file; the write cannot be stopped half way.
        return self.status not in (self.Status.CHECKING, self.Status.IMPORTING)


class ImportProblem(models.Model):
    """One problem the check found: row as the spreadsheet shows it (header is row 1), the
    column's header as written, the cell's value and the reason."""

    # No index of its own: both indexes below start with the job.
    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="problems", db_index=False
    )
    row = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100)
    value = models.CharField(_("value"), max_length=200, blank=True)
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
        indexes = [
            # The job page's table, sorted by row (the default) or by column.
            models.Index(fields=["job", "row"], name="importproblem_job_row"),
            models.Index(fields=["job", "column", "row"], name="importproblem_job_column"),
        ]

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.reason}"
