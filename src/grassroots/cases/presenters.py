"""What a case shows: to staff (the API's answers and the console's case page alike) and to its
reporter (the portal's API answers and pages alike). Reporter names and phone numbers leave
masked; what the public sees holds no name, phone or ID number (DOMAIN.md)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from grassroots.core.text import mask_numbers
from grassroots.core.validators import mask_name, mask_phone

from .models import Case, CasePhoto, Stage
from .selectors import public_timeline, timeline
from .workflow import REOPEN_DAYS, allowed_actions, reporter_may_rate

if TYPE_CHECKING:
    from grassroots.accounts.models import User
    from grassroots.territory.models import Grid, Unit


def ref(place: Unit | Grid | None) -> dict[str, str] | None:
    return None if place is None else {"code": place.code, "name": place.name}


def photo_url(photo: CasePhoto) -> str:
    """A linked photo's own address; a stored one is served by the API (getCasePhoto), in
    scope."""
    if photo.url:
        return str(photo.url)
    return f"/api/v1/cases/{photo.case.tracking_code}/photos/{photo.pk}"


def case_out(case: Case, now: datetime.datetime | None = None) -> dict[str, Any]:
    """A case as staff see it in lists."""
    now = now or timezone.now()
    return {
        "tracking_code": case.tracking_code,
        "kind": case.kind,
        "category": case.category.code,
        "category_name": case.category.name,
        "channel": case.channel,
        "urgent": case.urgent,
        "description": case.description,
        "address": case.address,
        "lon": case.lon,
        "lat": case.lat,
        "unit": ref(case.unit),
        "grid": ref(case.grid),
        "stage": case.stage,
        "stage_label": str(Stage(case.stage).label),
        "tier": case.tier,
        "due_at": case.due_at,
        "due_fallback": case.due_fallback,
        "tier_due_at": case.tier_due_at,
        "tier_due_fallback": case.tier_due_fallback,
        "overdue": case.is_overdue(now),
        "deferred": case.deferred,
        "escalations": case.escalations,
        "reworks": case.reworks,
        "assignee": case.assignee.get_username() if case.assignee is not None else None,
        "reporter_name": mask_name(case.reporter_name),
        "reporter_phone": mask_phone(case.reporter_phone),
        "reported_at": case.reported_at,
        "handled_at": case.handled_at,
        "closed_at": case.closed_at,
        "rating": case.rating,
        "merged_into": case.merged_into.tracking_code if case.merged_into is not None else None,
        "version": case.version,
    }


def _event_out(event: Any) -> dict[str, Any]:
    return {
        "at": event.at,
        "action": event.action,
        "label": str(event.get_action_display()),
        "by": event.actor_name,
        "from_stage": event.from_stage,
        "to_stage": event.to_stage,
        "from_tier": event.from_tier,
        "to_tier": event.to_tier,
        "note": event.note,
        "data": event.data,
        "photos": [photo_url(p) for p in event.photos.all()],
    }


def case_detail(case: Case, user: User) -> dict[str, Any]:
    """The case as `GET /cases/{code}` shows it to `user`; the console's case page shows it."""
    out = case_out(case)
    out["timeline"] = [_event_out(e) for e in timeline(case)]
    out["allowed_actions"] = allowed_actions(case, user)
    first = next((e for e in out["timeline"] if e["action"] == "report"), None)
    out["possible_duplicates"] = list((first or {}).get("data", {}).get("possible_duplicates", []))
    return out


def public_out(case: Case) -> dict[str, Any]:
    """A case as its reporter sees it after the look-up by code and phone: their own report
    (numbers in it masked, as in every public answer) and, for a merged one, the status of the
    case it was joined with, nothing else of that case (another reporter's)."""
    now = timezone.now()
    recently = case.closed_at is not None and now - case.closed_at <= datetime.timedelta(
        days=REOPEN_DAYS
    )
    main = case.merged_into if case.stage == Stage.MERGED else None
    return {
        "tracking_code": case.tracking_code,
        "category_name": case.category.name,
        "description": mask_numbers(case.description),
        "stage": case.stage,
        "stage_label": str(Stage(case.stage).label),
        "status": "open" if case.is_open else "closed",
        "reported_at": case.reported_at,
        "closed_at": case.closed_at,
        "rating": case.rating,
        "can_rate": reporter_may_rate(case),
        "can_reject": case.stage in (Stage.CLOSED, Stage.RATED) and recently,
        "timeline": [
            {**step, "note": mask_numbers(step["note"])} for step in public_timeline(case)
        ],
        "merged_into": None
        if main is None
        else {
            "tracking_code": main.tracking_code,
            "stage": main.stage,
            "stage_label": str(Stage(main.stage).label),
            "status": "open" if main.is_open else "closed",
            "closed_at": main.closed_at,
        },
    }
