"""Party organizations in the admin (Chinese by default), scoped like everything else.

Organizations and alliances are written through the services (who may, audit); members come
from `grassroots import members` and the API and are read-only here, their numbers masked;
meetings and activities are recorded on the console's pages and the API and are read here.
The frequencies of branch life are the administrator's to change (audited).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from grassroots.audit import services as audit
from grassroots.core.admin_support import ScopedAdminMixin
from grassroots.territory.models import Unit

from . import admin_shared  # noqa: F401  (registers resources, bookings, projects)
from .models import (
    Activity,
    Alliance,
    Attendance,
    LifeRequirement,
    Meeting,
    Member,
    MemberPost,
    Organization,
)
from .selectors import organizations_for
from .services import alliance_save, organization_create, organization_update


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrganizationForm(forms.ModelForm):
    units = forms.ModelMultipleChoiceField(
        label=_("units served"),
        queryset=Unit.objects.none(),
        help_text=_("One for a branch; two or more villages or communities for a joint branch."),
    )

    class Meta:
        model = Organization
        fields = ("code", "name", "kind", "parent")


@admin.register(Organization)
class OrganizationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    form = OrganizationForm

    def get_form(self, request: HttpRequest, obj: Any = None, *args: Any, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, *args, **kwargs)
        fields = form.base_fields  # none for a user who may only look
        if "units" in fields:
            units = Unit.objects.visible_to(request.user).filter(level__in=["town", "village"])
            fields["units"].queryset = units.order_by("code")
            if obj is not None:
                fields["units"].initial = list(obj.units.values_list("pk", flat=True))
        if "parent" in fields:
            fields["parent"].queryset = organizations_for(request.user).order_by("code")
        return form

    def _data(self, obj: Organization, form: Any) -> dict[str, Any]:
        data = self.form_values(obj, form, ("code", "name", "kind", "parent"))
        if form is not None and "units" in form.cleaned_data:
            data["units"] = list(form.cleaned_data["units"])
        return data

    def create_object(self, request: HttpRequest, obj: Organization, form: Any) -> Organization:
        return organization_create(actor=self.actor(request), data=self._data(obj, form))

    def update_object(self, request: HttpRequest, obj: Organization, form: Any) -> Organization:
        return organization_update(
            actor=self.actor(request), organization=obj, data=self._data(obj, form)
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the units were written by the service

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MemberPostInline(ScopedAdminMixin, ReadOnlyMixin, admin.TabularInline):
    model = MemberPost
    fields = ("post", "organization", "started_on", "ended_on")
    readonly_fields = fields
    extra = 0

    def visible_queryset(self, request: HttpRequest) -> Any:
        return MemberPost.objects.filter(member__in=Member.objects.visible_to(request.user))


@admin.register(Member)
class MemberAdmin(ScopedAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "masked_id_number", "status", "joined_on", "organization", "available")
    list_filter = ("status", "available")
    search_fields = ("name",)
    list_select_related = ("organization",)
    exclude = ("id_number", "phone", "id_hash", "phone_hash", "resident", "user")
    readonly_fields = ("masked_id_number", "masked_phone")
    private_fields = {"id_number": "masked_id_number", "phone": "masked_phone"}
    inlines = [MemberPostInline]

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Member) -> str:
        return obj.id_number_masked

    @admin.display(description=_("mobile number"))
    def masked_phone(self, obj: Member) -> str:
        return obj.phone_masked


class AttendanceInline(ScopedAdminMixin, ReadOnlyMixin, admin.TabularInline):
    model = Attendance
    fields = ("member", "status", "reason")
    readonly_fields = fields
    extra = 0

    def visible_queryset(self, request: HttpRequest) -> Any:
        return Attendance.objects.filter(meeting__in=Meeting.objects.visible_to(request.user))


@admin.register(Meeting)
class MeetingAdmin(ScopedAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("held_on", "kind", "topic", "organization")
    list_filter = ("kind",)
    search_fields = ("topic", "organization__name")
    list_select_related = ("organization",)
    date_hierarchy = "held_on"
    inlines = [AttendanceInline]


@admin.register(Activity)
class ActivityAdmin(ScopedAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("held_on", "theme", "organization", "alliance", "guests")
    search_fields = ("theme",)
    list_select_related = ("organization", "alliance")
    date_hierarchy = "held_on"
    exclude = ("attendees",)


class AllianceForm(forms.ModelForm):
    class Meta:
        model = Alliance
        fields = ("code", "name", "organizations")


@admin.register(Alliance)
class AllianceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")
    form = AllianceForm
    filter_horizontal = ("organizations",)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organizations":
            kwargs["queryset"] = organizations_for(request.user).order_by("code")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _save(self, request: HttpRequest, obj: Alliance | None, form: Any) -> Alliance:
        return alliance_save(
            actor=self.actor(request),
            data={k: form.cleaned_data[k] for k in ("code", "name")},
            organizations=list(form.cleaned_data["organizations"]),
            alliance=obj,
        )

    def create_object(self, request: HttpRequest, obj: Alliance, form: Any) -> Alliance:
        return self._save(request, None, form)

    def update_object(self, request: HttpRequest, obj: Alliance, form: Any) -> Alliance:
        return self._save(request, obj, form)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the service set the organizations

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LifeRequirement)
class LifeRequirementAdmin(admin.ModelAdmin):
    """How often each kind of meeting is required (the defaults: life.DEFAULT_REQUIREMENTS)."""

    list_display = ("kind", "period", "times")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = audit.snapshot(LifeRequirement.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            audit.created(obj)
        else:
            audit.updated(obj, before)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
