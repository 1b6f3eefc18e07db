"""API of the audit trail: read-only lists of events, for auditors.

Events are append-only: there is no operation that creates, changes or deletes one here, and
any other method on these paths answers 405.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from grassroots.core.api_support import (
    Page,
    PageQuery,
    paginate,
    require_perm,
    responses,
)

from .filters import EventFilters
from .models import Event
from .selectors import VIEW_PERMISSION, event_data, events_for, visible_events

router = Router()

_SCOPE_NOTE = (
    " You see the events about objects in your scope; events without a territory (key "
    "rotation, the summary of an import) only with a county-level scope."
)


class EventOut(Schema):
    id: int
    at: datetime.datetime = Field(description="When, with the server's UTC offset.")
    actor: str = Field(
        description="The account that acted; `os:NAME` for a command run without an account."
    )
    actor_id: int | None = Field(description="The account's id; null without an account.")
    channel: str = Field(description="web, api, import, command or task.")
    request_id: str = Field(
        description="The X-Request-ID of the request (or one id per command run)."
    )
    address: str | None = Field(description="The client's IP address for web and API calls.")
    action: str = Field(description=", ".join(Event.Action.values) + ".")
    object_type: str = Field(description="A model label, e.g. registry.household.")
    object_id: str = Field(description="The object's id; empty for events about a whole type.")
    object: str = Field(description="A masked description of the object.")
    scope_code: str = Field(description="The territory code of the object; empty for none.")
    changes: dict[str, Any] = Field(
        description=(
            "{field: [before, after]} for create, update and delete, with ID and mobile "
            "numbers masked and names reduced to the surname; details for other actions "
            "(an import's file and counts)."
        )
    )
    reason: str = Field(description="The reason given, e.g. for a reveal.")


class EventPage(Page):
    items: list[EventOut]


@router.get(
    "/audit/events",
    response=responses(EventPage),
    operation_id="listAuditEvents",
    tags=["audit"],
    summary="List audit events",
    description=(
        "Who created, changed, deleted, revealed or imported what, when and through which "
        "channel, newest first. Requires the permission audit.view_event (auditor, county "
        "administrator); 403 otherwise. Read-only: events cannot be changed or deleted."
        + _SCOPE_NOTE
        + " A filter that does not parse answers 422 naming the parameter."
    ),
)
def list_events(
    request: HttpRequest,
    filters: Query[EventFilters],
    paging: Query[PageQuery],
) -> dict[str, Any]:
    user = require_perm(request, VIEW_PERMISSION)
    page = paginate(events_for(user, filters), paging)
    page["items"] = [event_data(event, user) for event in page["items"]]
    return page


@router.get(
    "/audit/events/{event_id}",
    response=responses(EventOut),
    operation_id="getAuditEvent",
    tags=["audit"],
    summary="Get an audit event",
    description=(
        "One event by id; 404 if it does not exist or lies outside your scope. Requires the "
        "permission audit.view_event. Read-only." + _SCOPE_NOTE
    ),
)
def get_event(request: HttpRequest, event_id: int) -> dict[str, Any]:
    user = require_perm(request, VIEW_PERMISSION)
    return event_data(get_object_or_404(visible_events(user), pk=event_id), user)
