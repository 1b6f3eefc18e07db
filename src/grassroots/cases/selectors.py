"""Reads of cases for lists, pages and the API; every one starts from `visible_to(user)`."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet

from .filters import CaseFilter
from .models import Case, CaseEvent, past_due_q

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
    filters: CaseFilter | None = None,
    *,
    sort: str | None = "-reported",
    now: datetime.datetime | None = None,
) -> QuerySet[Case]:
    """The user's cases with the list's filters (filters.CaseFilter), in `sort` order (None:
    unordered, for a page that sorts them itself); one grid's open cases use
    `case_open_by_scope`."""
    qs = cases_for(user)
    if filters is not None:
        qs = filters.filter(qs, user=user, now=now)
    return qs.order_by(*SORTS[sort]) if sort else qs


def open_and_overdue(now: datetime.datetime) -> dict[str, Count]:
    """Aggregates for `.aggregate()` or `.annotate()` over a query of open cases only (filter
    is_open=True first): their number, and the overdue ones among them (models.overdue_q, whose
    is_open half the query holds already; see models.past_due_q). The dashboard and the map."""
    return {"open": Count("id"), "overdue": Count("id", filter=past_due_q(now))}


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
