from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from grassroots.audit import services as audit
from grassroots.core.admin_support import ScopedAdminMixin
from grassroots.core.validators import mask_name, mask_phone

from . import admin_notifications  # noqa: F401  (registers Notification)
from .models import CalendarDay, Case, CaseEvent, Category, Open311Key


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Holidays and adjusted working days for years the official calendar does not know yet."""

    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"
    search_fields = ("name",)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The categories and their time limits per tier (working days, or hours when urgent)."""

    list_display = ("code", "name", "first_tier", "kind", "department", "active", "position")
    list_editable = ("active", "position")
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "kind", "active", "position")}),
        (_("Tiers"), {"fields": ("first_tier", "department")}),
        (
            _("Working days per tier"),
            {"fields": ("grid_days", "village_days", "town_days", "county_days")},
        ),
        (
            _("Hours per tier for urgent cases"),
            {"fields": ("grid_hours", "village_hours", "town_hours", "county_hours")},
        ),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = audit.snapshot(Category.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            audit.created(obj)
        else:
            audit.updated(obj, before)


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = (
        "at",
        "actor_name",
        "action",
        "from_stage",
        "to_stage",
        "from_tier",
        "to_tier",
        "note",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Cases, read-only here: steps are taken through the workflow (API and pages), which
    check who may take them and keep the timeline."""

    list_display = (
        "tracking_code",
        "category",
        "stage",
        "tier",
        "due_at",
        "grid",
        "unit",
        "reported_at",
    )
    list_filter = ("stage", "tier", "category", "channel", "urgent", "is_open")
    list_select_related = ("category", "grid", "unit")
    search_fields = ("=tracking_code", "description", "address")
    date_hierarchy = "reported_at"
    inlines = [CaseEventInline]
    exclude = ("reporter_email",)
    # Shown masked, as the API shows them; no query-string lookup on them either.
    private_fields = {
        "reporter_name": "masked_reporter_name",
        "reporter_phone": "masked_reporter_phone",
    }

    @admin.display(description=_("reporter name"))
    def masked_reporter_name(self, obj: Case) -> str:
        return mask_name(obj.reporter_name)

    @admin.display(description=_("reporter phone"))
    def masked_reporter_phone(self, obj: Case) -> str:
        return mask_phone(obj.reporter_phone)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    """Open311 clients' keys, read-only: `grassroots open311 key|revoke NAME` issues and
    revokes them (the key itself is shown once and never stored)."""

    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
