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

Nothing filters on the text of an event's changes: only the fields named in `events_for`.

Callers check the permission `audit.view_event` first; filters given as text (query strings,
command options) are parsed here, and a bad value raises a ValidationError naming the parameter.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.scoping import Scope
from grassroots.territory.models import Unit

from .models import Event

if TYPE_CHECKING:
    from grassroots.accounts.models import User

VIEW_PERMISSION = "audit.view_event"

# Short names accepted for object types in filters (`resident:42`).
OBJECT_ALIASES = {
    "resident": "registry.resident",
    "household": "registry.household",
    "enterprise": "registry.enterprise",
    "user": "accounts.user",
    "grid": "territory.grid",
    "unit": "territory.unit",
}
_OBJECT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_OBJECT_ID = re.compile(r"^[^\s:]{1,40}$")


# Who sees what


def sees_global_events(user: User | Any) -> bool:
    """Whether `user` sees events without a territory: superusers and county-level scopes."""
    scope = Scope.for_user(user)
    if scope.is_everything:
        return True
    if not scope.codes:
        return False
    return Unit.objects.in_scope(scope).filter(parent__isnull=True).exists()


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


# Parsing filters given as text


@dataclass(frozen=True)
class ObjectFilter:
    """`TYPE` or `TYPE:ID`: every event about objects of a type, or about one object."""

    object_type: str
    object_id: str | None = None

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id}" if self.object_id else self.object_type


def _known_type(label: str) -> bool:
    app_label, _dot, model = label.partition(".")
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True


def parse_object(value: str) -> ObjectFilter:
    """`resident:42`, `registry.household:7` or a type alone (`grid`); ValidationError if not."""
    text = value.strip()
    kind, colon, pk = text.partition(":")
    kind, pk = kind.strip().lower(), pk.strip()
    kind = OBJECT_ALIASES.get(kind, kind)
    aliases = ", ".join(OBJECT_ALIASES)
    if not kind or not _OBJECT_TYPE.match(kind) or not _known_type(kind):
        raise ValidationError(
            _(
                "expected TYPE:ID such as resident:42 or registry.household:7, where TYPE is "
                "one of %(aliases)s or a model label (app.model); got %(value)s"
            )
            % {"aliases": aliases, "value": text or '""'},
            code="object",
        )
    if colon and not _OBJECT_ID.match(pk):
        raise ValidationError(
            _("the ID after %(type)s: is missing or not an id (got %(value)s)")
            % {"type": kind, "value": text},
            code="object",
        )
    return ObjectFilter(kind, pk or None)


def parse_when(value: str | datetime.date) -> datetime.date:
    """An ISO 8601 date or date-time; a date-time without offset is in settings.TIME_ZONE.

    Returns a date (a whole day) or an aware datetime.
    """
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        return value
    else:
        text = value.strip()
        try:
            if len(text) <= 10:
                return datetime.date.fromisoformat(text)
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                _(
                    "expected an ISO 8601 date or date-time such as 2024-05-01 or "
                    "2024-05-01T08:30 or 2024-05-01T08:30+08:00; got %(value)s"
                )
                % {"value": text or '""'},
                code="when",
            ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _start(when: datetime.date) -> datetime.datetime:
    """The first moment of `when`: itself for a datetime, midnight (TIME_ZONE) for a date."""
    if isinstance(when, datetime.datetime):
        return when
    midnight = datetime.datetime.combine(when, datetime.time.min)
    return timezone.make_aware(midnight, timezone.get_default_timezone())


def _last(when: datetime.date) -> datetime.datetime:
    """The last moment of `when`: itself for a datetime, the end of the day for a date."""
    if isinstance(when, datetime.datetime):
        return when
    return _start(when + datetime.timedelta(days=1)) - datetime.timedelta(microseconds=1)


def _choice(value: str, choices: list[str], what: str) -> str:
    text = value.strip().lower()
    if text not in choices:
        raise ValidationError(
            _("unknown %(what)s %(value)s (one of: %(choices)s)")
            % {"what": what, "value": value.strip() or '""', "choices": ", ".join(choices)},
            code="choice",
        )
    return text


# The selector


def events_for(
    user: User | Any | None,
    *,
    object: str | ObjectFilter | None = None,
    actor: str | None = None,
    since: str | datetime.date | None = None,
    until: str | datetime.date | None = None,
    action: str | None = None,
    channel: str | None = None,
) -> QuerySet[Event]:
    """Events `user` may read, newest first, narrowed by the filters given.

    object: `TYPE[:ID]` (see parse_object). actor: the account name as recorded (`alice`, or
    `os:alice` for a command without an account). since/until: ISO 8601; a date means the whole
    day, so `until=2024-05-01` includes that day. action, channel: one of Event's choices.
    Raises ValidationError with a message per parameter for input that does not parse.
    """
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}

    def parse(name: str, value: Any, parser: Any) -> None:
        if value is None or value == "":
            return
        try:
            parsed[name] = parser(value)
        except ValidationError as exc:
            errors[name] = exc.messages[0]

    parse("object", object, lambda v: v if isinstance(v, ObjectFilter) else parse_object(v))
    parse("since", since, parse_when)
    parse("until", until, parse_when)
    parse("action", action, lambda v: _choice(v, Event.Action.values, _("action")))
    parse("channel", channel, lambda v: _choice(v, Event.Channel.values, _("channel")))
    if actor is not None and len(actor.strip()) > 150:
        errors["actor"] = _("an account name has at most 150 characters")
    if "since" in parsed and "until" in parsed and _start(parsed["since"]) > _last(parsed["until"]):
        errors["until"] = _("until lies before since")
    if errors:
        raise ValidationError({name: [message] for name, message in errors.items()})

    events = visible_events(user)
    if "object" in parsed:
        target: ObjectFilter = parsed["object"]
        events = events.filter(object_type=target.object_type)
        if target.object_id is not None:
            events = events.filter(object_id=target.object_id)
    if actor is not None and actor.strip():
        events = events.filter(actor_name=actor.strip())
    if "since" in parsed:
        events = events.filter(at__gte=_start(parsed["since"]))
    if "until" in parsed:
        end = parsed["until"]
        if isinstance(end, datetime.datetime):
            events = events.filter(at__lte=end)
        else:  # the whole day
            events = events.filter(at__lt=_start(end + datetime.timedelta(days=1)))
    if "action" in parsed:
        events = events.filter(action=parsed["action"])
    if "channel" in parsed:
        events = events.filter(channel=parsed["channel"])
    return events


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
