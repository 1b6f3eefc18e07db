"""Reads of cases for lists, pages and the API; every one starts from `visible_to(user)`."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from grassroots.core.scoping import Scope

from .models import Case, CaseEvent

if TYPE_CHECKING:
    from grassroots.accounts.models import User

SORTS = {
    "due": ("due_at", "id"),
    "-due": ("-due_at", "-id"),
    "reported": ("reported_at", "id"),
    "-reported": ("-reported_at", "-id"),
}


def cases_for(user: User | Any) -> QuerySet[Case]:
    return Case.objects.visible_to(user).select_related("category", "unit", "grid", "assignee")


def case_list(
    user: User | Any,
    *,
    scope_code: str | None = None,
    queue: str | None = None,
    stage: str | None = None,
    is_open: bool | None = None,
    category: str | None = None,
    tier: str | None = None,
    overdue_at: datetime.datetime | None = None,
    assignee: User | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    sort: str = "-reported",
) -> QuerySet[Case]:
    """The user's cases with the list filters; one grid's open cases use `case_open_by_scope`."""
    qs = cases_for(user)
    if scope_code:
        qs = qs.filter(Scope.of(scope_code).q("scope_code"))
    if queue:
        # The unit's own queue: cases placed at the unit, in no grid (no point, no household).
        qs = qs.filter(scope_code=queue)
    if is_open is not None:
        qs = qs.filter(is_open=is_open)
    if stage:
        qs = qs.filter(stage=stage)
    if category:
        qs = qs.filter(category__code=category)
    if tier:
        qs = qs.filter(tier=tier)
    if overdue_at is not None:
        qs = qs.filter(is_open=True, due_at__lte=overdue_at)
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if since is not None:
        qs = qs.filter(reported_on__gte=since)
    if until is not None:
        qs = qs.filter(reported_on__lte=until)
    return qs.order_by(*SORTS[sort])


def open_cases_of_grid(user: User | Any, grid_code: str, limit: int = 50) -> list[Case]:
    """One grid's open cases, soonest due first (the grid worker's list)."""
    return list(
        cases_for(user).filter(scope_code=grid_code, is_open=True).order_by("due_at", "id")[:limit]
    )


def my_tasks(user: User | Any) -> QuerySet[Case]:
    """Open cases assigned to the user, or waiting in their grids unassigned; overdue first."""
    mine = Q(assignee=user)
    if getattr(user, "role", "") == "grid_worker":
        mine |= Q(assignee__isnull=True, scope_code__in=user.scope_codes())
    return cases_for(user).filter(mine, is_open=True).order_by("due_at", "id")


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").prefetch_related("photos").order_by("at", "id")


def public_timeline(case: Case) -> list[dict[str, Any]]:
    """The steps a reporter sees: no staff names, no internal notes beyond the step's reason."""
    shown = []
    for event in case.events.order_by("at", "id"):
        shown.append(
            {
                "at": event.at,
                "action": event.action,
                "label": str(event.get_action_display()),
                "stage": event.to_stage,
                "tier": event.to_tier,
                "note": event.note
                if event.action in ("reject", "handle", "close", "rate", "reopen")
                else "",
            }
        )
    return shown
