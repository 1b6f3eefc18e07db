"""API of notifications: what was sent to whom, what failed, and retrying a failed send."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from grassroots.core.api_support import (
    ErrorOut,
    Page,
    PageQuery,
    paginate,
    require_perm,
    responses,
)

from .models import Notification
from .notify import RetryRefused, notification_retry

router = Router()

VIEW_PERMISSION = "cases.view_notification"
_SCOPE_NOTE = (
    " Requires the permission cases.view_notification (dispatchers, officials, secretaries, "
    "county administrators); 403 otherwise. You see the notifications about your territory."
)


class NotificationOut(Schema):
    id: int
    status: Notification.Status = Field(
        description="pending (waiting), sent, failed (will retry) or gave_up (no more tries)."
    )
    backend: str = Field(
        description="console, email or webhook; empty for a row that records that nobody "
        "serves a tier."
    )
    recipient: str | None = Field(
        description="The account told; null for the reporter of the case or for nobody."
    )
    address: str = Field(description="Where it goes, masked (138****5678, z***@example.com).")
    case: str | None = Field(
        description="The case's tracking code; null for a digest of several cases or a "
        "message about no case (a branch life reminder)."
    )
    scope_code: str = Field(description="The territory the message is about.")
    subject: str
    body: str
    attempts: int = Field(description="Tries so far.")
    last_error: str = Field(description="Why the last try failed; empty once sent.")
    next_attempt_at: datetime.datetime = Field(description="When it is tried next, if due.")
    created_at: datetime.datetime
    sent_at: datetime.datetime | None


class NotificationPage(Page):
    items: list[NotificationOut]


class NotificationFilters(Schema):
    status: Notification.Status | None = Field(
        None, description="Only notifications in this state."
    )


def notification_data(row: Notification) -> dict[str, Any]:
    return {
        "id": row.pk,
        "status": row.status,
        "backend": row.backend,
        "recipient": row.recipient.get_username() if row.recipient else None,
        "address": row.address,
        "case": row.case.tracking_code if row.case else None,
        "scope_code": row.scope_code,
        "subject": row.subject,
        "body": row.body,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }


def _visible(request: HttpRequest) -> Any:
    user = require_perm(request, VIEW_PERMISSION)
    return user, Notification.objects.visible_to(user).select_related("recipient", "case")


@router.get(
    "/notifications",
    response=responses(NotificationPage),
    operation_id="listNotifications",
    tags=["notifications"],
    summary="List notifications",
    description=(
        "Messages to staff and reporters, newest first, with their state: a dispatcher "
        "finds here the sends that failed (status=failed: tried again later; status=gave_up: "
        "no more tries) and the tiers nobody serves." + _SCOPE_NOTE
    ),
)
def list_notifications(
    request: HttpRequest, filters: Query[NotificationFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    _user, rows = _visible(request)
    if filters.status:
        rows = rows.filter(status=filters.status)
    page = paginate(rows, paging)
    page["items"] = [notification_data(row) for row in page["items"]]
    return page


@router.post(
    "/notifications/{notification_id}/retry",
    response={**responses(NotificationOut), 409: ErrorOut},
    operation_id="retryNotification",
    tags=["notifications"],
    summary="Retry a notification",
    description=(
        "Puts a failed or given-up notification back in the queue with a fresh count of "
        "tries; the worker sends it within seconds. 409 for a notification already sent, or "
        "one that has nobody to send to; 404 outside your scope. Recorded in the audit trail."
        + _SCOPE_NOTE
    ),
)
def retry_notification(request: HttpRequest, notification_id: int) -> dict[str, Any]:
    user, rows = _visible(request)
    row = get_object_or_404(rows, pk=notification_id)
    try:
        row = notification_retry(row, actor=user)
    except RetryRefused as exc:
        raise HttpError(409, exc.message) from None
    except PermissionDenied:
        raise Http404 from None
    return notification_data(row)
