"""Notifications in the admin: a read-only list, scoped, with a retry action for failed sends."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import ScopedAdminMixin

from .models import Notification
from .notify import RetryRefused, notification_retry


@admin.register(Notification)
class NotificationAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "created_at",
        "status",
        "backend",
        "recipient",
        "address",
        "case",
        "subject",
        "attempts",
        "next_attempt_at",
        "short_error",
    )
    list_filter = ("status", "backend", "created_at")
    search_fields = ("subject", "=case__tracking_code", "=recipient__username", "=scope_code")
    list_select_related = ("recipient", "case", "case__category")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "status",
        "backend",
        "recipient",
        "address",
        "case",
        "scope_code",
        "subject",
        "body",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields
    actions = ["retry"]

    @admin.display(description=_("last error"))
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("cases.view_notification"))

    @admin.action(description=_("Retry the selected notifications"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        done = 0
        refused: dict[str, int] = {}
        for row in queryset:
            try:
                notification_retry(row, actor=request.user)  # type: ignore[arg-type]
                done += 1
            except RetryRefused as exc:
                refused[exc.message] = refused.get(exc.message, 0) + 1
            except PermissionDenied:
                key = gettext("Not in your scope.")
                refused[key] = refused.get(key, 0) + 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification will be sent again.",
                    "%(count)d notifications will be sent again.",
                    done,
                )
                % {"count": done},
                messages.SUCCESS,
            )
        for message, count in refused.items():
            self.message_user(request, f"{message} ({count})", messages.WARNING)
