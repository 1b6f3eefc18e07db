"""Reading the audit trail: the events a user may see, filtered, and how they are shown.

`grassroots audit log`, the API (/api/v1/audit/events), the auditors' page (/audit/log/) and
the admin all read through `visible_events` / `events_for`, so they agree on what a user sees:

- an event carries the territory code of the object it is about (`scope_code`), and
  `Event.objects.visible_to(user)` keeps the events under the user's scope;
- events without a territory (key rotation, an import's summary) are seen only by users whose
  scope holds a top-level unit (the county), and by superusers;
- events their writer marked sensitive (about sensitive tags, 特殊人群) are seen only by users
  holding settings.AUDIT_SENSITIVE_PERMISSION: for everyone else they do not exist, in lists,
  counts and filters alike; the public part of the same change is an event of its own;
- a command run without a user (`user=None`) sees everything.

Callers check the permission `audit.view_event` first. The filters are one definition,
audit.filters.EventFilters, for all of them: a bad value is refused naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from grassroots.core.scoping import Scope

from .filters import EventFilters
from .models import Event

if TYPE_CHECKING:
    from grassroots.accounts.models import User

VIEW_PERMISSION = "audit.view_event"


# Who sees what


def _no_top_level_unit(scope: Scope) -> bool:
    return False


# Whether a scope holds a top-level unit of the territory. The territory app, which lies above
# this one, sets it when Django starts (territory.apps); until then nobody but a superuser or a
# command sees events without a territory.
holds_top_level_unit: Callable[[Scope], bool] = _no_top_level_unit


def sees_global_events(user: User | Any) -> bool:
    """Whether `user` sees events without a territory: superusers and county-level scopes."""
    scope = Scope.for_user(user)
    if scope.is_everything:
        return True
    if not scope.codes:
        return False
    return holds_top_level_unit(scope)


def sees_sensitive_events(user: User | Any | None) -> bool:
    """Whether `user` reads the events marked sensitive (`None`: a command, yes)."""
    return user is None or bool(user.has_perm(settings.AUDIT_SENSITIVE_PERMISSION))


def visible_events(user: User | Any | None) -> QuerySet[Event]:
    """The events `user` may read, newest first (`None`: a command, everything)."""
    if user is None:
        return Event.objects.all()
    events = Event.objects.visible_to(user)
    if sees_global_events(user):
        events = events | Event.objects.filter(scope_code="")
    if not sees_sensitive_events(user):
        events = events.filter(sensitive=False)
    return events.order_by("-at", "-id")


# The selector


def events_for(
    user: User | Any | None, filters: EventFilters | None = None, **given: str | None
) -> QuerySet[Event]:
    """Events `user` may read, newest first, narrowed by `filters`.

    The filters come parsed by a door (the API's query), or as text here (`events_for(user,
    object="resident:42", since="2024-05-01")`, read by EventFilters.parse): a ValidationError
    then names each one that does not parse.
    """
    if filters is None:
        unknown = set(given) - set(EventFilters.model_fields)
        if unknown:
            raise TypeError(f"events_for() got unknown filters: {', '.join(sorted(unknown))}")
        filters = EventFilters.parse(given)
    elif given:
        raise TypeError("events_for() takes filters parsed or as text, not both")
    return filters.filter(visible_events(user))


# Showing events


def shown_changes(event: Event, user: Any) -> dict[str, Any]:
    """The changes of `event` as `user` may see them: as recorded.

    What only some may read was split off by the writer into an event marked sensitive, which
    `visible_events` leaves out for the others; nothing is cut here.
    """
    return dict(event.changes or {})


def event_data(event: Event, user: Any = None) -> dict[str, Any]:
    """Every field of `event` as plain data: what the API answers and `--json` prints."""
    return {
        "id": event.pk,
        "at": timezone.localtime(event.at).isoformat(),
        "actor": event.actor_name,
        "actor_id": event.actor_id,
        "channel": event.channel,
        "request_id": event.request_id,
        "address": event.address,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object": event.object_repr,
        "scope_code": event.scope_code,
        "changes": shown_changes(event, user),
        "reason": event.reason,
    }


@dataclass(frozen=True)
class ChangeRow:
    """One line of an event's changes: a field before and after, or a detail (`pair=False`)."""

    field: str
    before: Any
    after: Any
    pair: bool

    @property
    def before_text(self) -> str:
        return show_value(self.before)

    @property
    def after_text(self) -> str:
        return show_value(self.after)


def change_rows(changes: Mapping[str, Any] | None) -> list[ChangeRow]:
    """The changes of an event as rows: `{field: [before, after]}`, or details (imports)."""
    rows = []
    for field, value in (changes or {}).items():
        if isinstance(value, list | tuple) and len(value) == 2:
            rows.append(ChangeRow(str(field), value[0], value[1], True))
        else:
            rows.append(ChangeRow(str(field), None, value, False))
    return rows


def show_value(value: Any) -> str:
    """A recorded value as text: `—` for nothing, lists joined with commas."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def change_summary(changes: Mapping[str, Any] | None) -> list[str]:
    """`field: before → after` per changed field (`field: value` for details)."""
    return [
        f"{row.field}: {show_value(row.before)} → {show_value(row.after)}"
        if row.pair
        else f"{row.field}: {show_value(row.after)}"
        for row in change_rows(changes)
    ]
