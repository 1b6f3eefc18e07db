"""Shared resources, bookings and joint projects in the admin (Chinese by default), scoped like
everything else (orgs/admin.py imports this module).

Resources and projects are written through orgs.shared (who may, audit); their organization
and alliance are set when they are created and kept. Bookings are made on the resource's
console page and through the API, which show what is booked already; here they are listed and
cancelled (deleted) through the same service. Milestones and income by year are read here and
written on the project's console page and through the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import ScopedAdminMixin

from .models import Booking, Milestone, Project, ProjectIncome, Resource
from .selectors import organizations_for
from .shared import (
    PROJECT_FIELDS,
    RESOURCE_FIELDS,
    booking_cancel,
    may_cancel,
    project_create,
    project_update,
    resource_create,
    resource_update,
)


def owner_scope(obj: Any) -> str | None:
    """Where a resource or project lies: the deepest unit holding its organization's units."""
    return obj.organization.audit_scope if obj.organization_id else None


@admin.register(Resource)
class ResourceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "organization", "alliance", "amount_yuan")
    list_filter = ("kind",)
    list_select_related = ("organization", "alliance")
    search_fields = ("name", "organization__name", "organization__code")
    fields = ("organization", "alliance", "kind", "name", "description", "amount_yuan")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        kept = ["organization", "alliance"] if obj is not None else []
        return [*super().get_readonly_fields(request, obj), *kept]

    def scope_code_of(self, obj: Resource) -> str | None:
        return owner_scope(obj)

    def create_object(self, request: HttpRequest, obj: Resource, form: Any) -> Resource:
        return resource_create(
            actor=self.actor(request),
            organization=obj.organization,
            alliance=obj.alliance,
            data=self.form_values(obj, form, RESOURCE_FIELDS),
        )

    def update_object(self, request: HttpRequest, obj: Resource, form: Any) -> Resource:
        return resource_update(
            actor=self.actor(request),
            resource=obj,
            data=self.form_values(obj, form, RESOURCE_FIELDS),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Bookings, read here; deleting one cancels it (orgs.shared.booking_cancel)."""

    list_display = ("resource", "organization", "starts_at", "ends_at", "purpose", "created_by")
    list_filter = ("resource",)
    list_select_related = ("resource", "organization", "created_by")
    search_fields = ("purpose", "resource__name", "organization__name")
    date_hierarchy = "starts_at"
    readonly_fields = ("resource", "organization", "starts_at", "ends_at", "purpose", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not request.user.has_perm("orgs.add_booking"):
            return False
        return obj is None or may_cancel(request.user, obj)

    def delete_objects(self, request: HttpRequest, objects: list[Booking]) -> None:
        for booking in objects:
            booking_cancel(actor=self.actor(request), booking=booking)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("orgs.view_project"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MilestoneInline(ReadOnlyInline):
    model = Milestone
    fields = readonly_fields = ("title", "due_on", "done_on")


class IncomeInline(ReadOnlyInline):
    model = ProjectIncome
    fields = readonly_fields = ("year", "collective_yuan", "households_yuan")


@admin.register(Project)
class ProjectAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "industry", "organization", "alliance", "started_on", "investment_yuan")
    list_filter = ("industry",)
    list_select_related = ("organization", "alliance")
    search_fields = ("name", "organization__name", "organization__code")
    date_hierarchy = "started_on"
    fields = (
        "organization",
        "alliance",
        "name",
        "industry",
        "investment_yuan",
        "started_on",
        "description",
        "organizations",
        "households",
    )
    filter_horizontal = ("organizations",)
    autocomplete_fields = ("households",)
    inlines = [MilestoneInline, IncomeInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        kept = ["organization", "alliance"] if obj is not None else []
        return [*super().get_readonly_fields(request, obj), *kept]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organizations":
            kwargs["queryset"] = organizations_for(request.user).order_by("code")
            kwargs["help_text"] = _("The organization leading it always takes part.")
            kwargs["required"] = False
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def scope_code_of(self, obj: Project) -> str | None:
        return owner_scope(obj)

    def _related(self, form: Any) -> dict[str, Any]:
        data = getattr(form, "cleaned_data", {})
        return {name: list(data[name]) for name in ("organizations", "households") if name in data}

    def create_object(self, request: HttpRequest, obj: Project, form: Any) -> Project:
        return project_create(
            actor=self.actor(request),
            organization=obj.organization,
            alliance=obj.alliance,
            data=self.form_values(obj, form, PROJECT_FIELDS),
            **self._related(form),
        )

    def update_object(self, request: HttpRequest, obj: Project, form: Any) -> Project:
        return project_update(
            actor=self.actor(request),
            project=obj,
            data=self.form_values(obj, form, PROJECT_FIELDS),
            **self._related(form),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service set the organizations and households; the inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
