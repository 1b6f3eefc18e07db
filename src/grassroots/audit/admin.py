"""The audit trail in the admin: read-only, scoped like every other list.

Nobody may add, change or delete an event here, superusers included: the change page only
shows the event, and the add, change (POST) and delete views answer 403.

The list filters only on the filters it offers (action, channel, object type, time): a lookup
on the changes (`?changes__icontains=…`), the reason or any other field in the query string is
refused with 400, so that no one can search the recorded values for what they may not see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import ScopedAdminMixin

from .context import current
from .models import Event
from .selectors import change_rows, shown_changes, visible_events


@admin.register(Event)
class EventAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("at", "actor_name", "channel", "action", "object", "object_repr", "scope_code")
    list_filter = ("action", "channel", "object_type", "at")
    search_fields = ("actor_name", "object_type", "=object_id", "object_repr", "=request_id")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "at",
        "actor_name",
        "actor_id",
        "channel",
        "request_id",
        "client_request_id",
        "address",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "scope_code",
        "changes_table",
        "reason",
    )
    readonly_fields = fields

    # Query-string lookups the list's own filters make (DateFieldListFilter on `at`).
    allowed_lookups = frozenset(
        {
            "action",
            "action__exact",
            "channel",
            "channel__exact",
            "object_type",
            "object_type__exact",
        }
        | {"at__gte", "at__lt", "at__isnull", "at__date", "at__year", "at__month", "at__day"}
    )

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest | None = None) -> bool:
        return lookup in self.allowed_lookups

    def visible_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # Events without a territory are for county-level scopes only (see selectors).
        return visible_events(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("object"), ordering="object_type")
    def object(self, event: Event) -> str:
        return event.object_label

    @admin.display(description=_("changes"))
    def changes_table(self, event: Event) -> str:
        # List cells get no request: the reader is the request's user in the audit context.
        request = current().request
        rows = change_rows(shown_changes(event, getattr(request, "user", None)))
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
            ((row.field, row.before_text if row.pair else "", row.after_text) for row in rows),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("Field"),
            _("Before"),
            _("After"),
            body,
        )
