"""The case timeline: one append-only event per step (models.CaseEvent), written by intake, the
workflow steps, the case kinds and, set-wise, by the sweep."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .models import Case, CaseEvent

if TYPE_CHECKING:
    from grassroots.accounts.models import User

# The names written for steps taken by no user (pages translate them when they show them).
SYSTEM = "system"
REPORTER = "reporter"


def actor_name(actor: User | None, default: str) -> str:
    if actor is None:
        return default
    return actor.get_full_name() or actor.get_username()


def record_event(
    case: Case,
    actor: User | None,
    action: str,
    *,
    note: str = "",
    from_stage: str = "",
    to_stage: str = "",
    from_tier: str = "",
    to_tier: str = "",
    data: dict[str, Any] | None = None,
    at: datetime.datetime | None = None,
    default_name: str = REPORTER,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        at=at or timezone.now(),
        actor=actor,
        actor_name=actor_name(actor, default_name),
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
        from_tier=from_tier,
        to_tier=to_tier,
        note=note,
        data=data or {},
        scope_code=case.scope_code,
    )
