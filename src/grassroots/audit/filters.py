"""The filters of the audit trail: one definition for its three doors.

EventFilters is the query of GET /api/v1/audit/events, the form of the auditors' page
(/audit/log/, whose fields bear the same names) and the options of `grassroots audit log`. Each
door reads them through it (the API as its query parameters, the page and the command with
`EventFilters.parse`), so the same text means the same events everywhere, and a value that does
not parse is refused with the same message, naming the parameter.

Nothing filters on the text of an event's changes: only the fields below.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field
from pydantic import ValidationInfo, field_validator

from grassroots.core.api_support import TextFilter, filter_field
from grassroots.core.filters import Filters

from .models import Event

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
ACTOR_MAX_LENGTH = 150

# For the OpenAPI document; the parsers below keep their own messages.
OBJECT_PATTERN = r"^([A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?(:[^\s:]{1,40})?)?$"
WHEN_PATTERN = r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?)?$"


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


def _checked(parse: Callable[[str], Any], value: str) -> Any:
    """`parse(value)`, its ValidationError turned into the ValueError pydantic reports."""
    try:
        return parse(value)
    except ValidationError as exc:
        raise ValueError(exc.messages[0]) from None


# The filters


class EventFilters(Filters):
    """The filters of the audit trail, as the API, the auditors' page and the command read them."""

    object: TextFilter = filter_field(
        "TYPE:ID for one object (resident:42, registry.household:7) or TYPE alone; TYPE "
        "is resident, household, enterprise, user, grid, unit or a model label (an unknown "
        "one answers 422).",
        OBJECT_PATTERN,
    )
    actor: TextFilter = filter_field("The account name, exactly.")
    since: TextFilter = filter_field(
        "ISO 8601 date or date-time (2024-05-01, 2024-05-01T08:30+08:00); without an "
        "offset, the server's time zone.",
        WHEN_PATTERN,
    )
    until: TextFilter = filter_field(
        "Like `since`; a date includes the whole of that day.", WHEN_PATTERN
    )
    action: TextFilter = Field(
        None,
        description="Empty: no filter.",
        json_schema_extra={"enum": ["", *Event.Action.values]},
    )
    channel: TextFilter = Field(
        None,
        description="Empty: no filter.",
        json_schema_extra={"enum": ["", *Event.Channel.values]},
    )

    @field_validator("object")
    @classmethod
    def _check_object(cls, value: str | None) -> str | None:
        if value is not None:
            _checked(parse_object, value)
        return value

    @field_validator("actor")
    @classmethod
    def _check_actor(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) > ACTOR_MAX_LENGTH:
            raise ValueError(_("an account name has at most 150 characters"))
        return value

    @field_validator("since", "until")
    @classmethod
    def _check_when(cls, value: str | None) -> str | None:
        if value is not None:
            _checked(parse_when, value)
        return value

    @field_validator("until")
    @classmethod
    def _check_span(cls, value: str | None, info: ValidationInfo) -> str | None:
        since = info.data.get("since")
        if (
            value is not None
            and since is not None
            and _start(parse_when(since)) > _last(parse_when(value))
        ):
            raise ValueError(_("until lies before since"))
        return value

    @field_validator("action", "channel")
    @classmethod
    def _check_choice(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Exactly as the document lists them.
        if info.field_name == "action":
            what, choices = _("action"), Event.Action.values
        else:
            what, choices = _("channel"), Event.Channel.values
        if value is not None and value not in choices:
            raise ValueError(
                _("unknown %(what)s %(value)s (one of: %(choices)s)")
                % {"what": what, "value": value.strip() or '""', "choices": ", ".join(choices)}
            )
        return value

    def filter(self, events: QuerySet[Event]) -> QuerySet[Event]:
        """`events` (audit.selectors.visible_events) narrowed by these filters.

        object: `TYPE[:ID]` (see parse_object). actor: the account name as recorded (`alice`,
        or `os:alice` for a command without an account). since/until: ISO 8601; a date means
        the whole day, so `until=2024-05-01` includes that day. action, channel: one of
        Event's choices.
        """
        if self.object:
            target = parse_object(self.object)
            events = events.filter(object_type=target.object_type)
            if target.object_id is not None:
                events = events.filter(object_id=target.object_id)
        if self.actor and self.actor.strip():
            events = events.filter(actor_name=self.actor.strip())
        if self.since:
            events = events.filter(at__gte=_start(parse_when(self.since)))
        if self.until:
            end = parse_when(self.until)
            if isinstance(end, datetime.datetime):
                events = events.filter(at__lte=end)
            else:  # the whole day
                events = events.filter(at__lt=_start(end + datetime.timedelta(days=1)))
        if self.action:
            events = events.filter(action=self.action)
        if self.channel:
            events = events.filter(channel=self.channel)
        return events
