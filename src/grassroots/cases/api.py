"""API of cases: intake by staff, lists, a case with its timeline, every workflow step, the
indicators; and the public portal's intake, lookup, rating and rejection (no account).

Handlers parse, fetch in scope (404 outside it), call one service and render through
`case_out`; reporter phone numbers leave masked.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.throttling import BaseThrottle
from pydantic import field_validator

from grassroots.accounts.models import User
from grassroots.core import ratelimit
from grassroots.core.api_support import (
    ERROR_RESPONSES,
    GRID_CODE_PATTERN,
    PLACE_CODE_PATTERN,
    DateParam,
    ErrorOut,
    Page,
    PageQuery,
    Ref,
    TextFilter,
    check_grid_code,
    filter_field,
    id_field,
    invalid,
    paginate,
    ref,
    require_perm,
    responses,
)
from grassroots.core.scoping import Scope
from grassroots.core.text import mask_numbers
from grassroots.core.validators import mask_name, mask_phone

from . import services, stats
from .models import Case, Stage, Tier
from .selectors import case_list, cases_for, public_timeline, timeline

router = Router()


class PortalThrottle(BaseThrottle):
    """Per client address, for the endpoints open to anyone and the portal's pages alike
    (settings.PORTAL_RATE, read at each request). Counted in the database (core/ratelimit.py),
    so that every process of the server shares one count per address."""

    bucket = "portal"

    def allow_request(self, request: HttpRequest) -> bool:
        address = ratelimit.client_key(self.get_ident(request))
        return ratelimit.hit(self.bucket, address, ratelimit.rate_setting("PORTAL_RATE")).allowed

    def wait(self) -> float:
        # The end of the current window, the same for every client: nothing per request is kept
        # on this object, which all threads share.
        return float(ratelimit.seconds_left(ratelimit.rate_setting("PORTAL_RATE")))


def portal_throttle() -> list[Any]:
    return [PortalThrottle()]


_SCOPE_LENGTHS = (6, 9, 12, 15)


class CaseEventOut(Schema):
    at: datetime.datetime
    action: str
    label: str
    by: str
    from_stage: str
    to_stage: str
    from_tier: str
    to_tier: str
    note: str
    data: dict[str, Any]
    photos: list[str]


class CaseOut(Schema):
    tracking_code: str
    kind: str
    category: str
    category_name: str
    channel: str
    urgent: bool
    description: str
    address: str
    lon: float | None
    lat: float | None
    unit: Ref
    grid: Ref | None
    stage: str
    stage_label: str
    tier: str
    due_at: datetime.datetime
    due_fallback: bool = Field(description="The deadline counts past the official calendar.")
    overdue: bool
    deferred: bool
    escalations: int
    reworks: int
    assignee: str | None
    reporter_name: str = Field(description="Masked to the first character.")
    reporter_phone: str = Field(description="Masked: 138****5678.")
    reported_at: datetime.datetime
    handled_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    rating: int | None
    merged_into: str | None
    version: int = Field(description="Send back as expected_version to detect a concurrent change.")


class CaseDetailOut(CaseOut):
    timeline: list[CaseEventOut]
    allowed_actions: list[str]
    possible_duplicates: list[str]


class CasePage(Page):
    items: list[CaseOut]


def case_out(case: Case, now: datetime.datetime | None = None) -> dict[str, Any]:
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
        "overdue": case.is_open and case.due_at <= now,
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


def photo_url(photo: Any) -> str:
    """A linked photo's own address; a stored one is served by getCasePhoto, in scope."""
    if photo.url:
        return str(photo.url)
    return f"/api/v1/cases/{photo.case.tracking_code}/photos/{photo.pk}"


def case_detail(case: Case, user: User) -> dict[str, Any]:
    """The case as `GET /cases/{code}` shows it to `user` (the web case page shows the same)."""
    out = case_out(case)
    out["timeline"] = [_event_out(e) for e in timeline(case)]
    out["allowed_actions"] = services.allowed_actions(case, user)
    first = next((e for e in out["timeline"] if e["action"] == "report"), None)
    out["possible_duplicates"] = list((first or {}).get("data", {}).get("possible_duplicates", []))
    return out


def _get(user: User, tracking_code: str) -> Case:
    code = services.normalize_tracking_code(tracking_code)
    return get_object_or_404(cases_for(user), tracking_code=code)


class CaseFilters(Schema):
    scope: TextFilter = filter_field("Unit or grid code: cases under it.", PLACE_CODE_PATTERN)
    grid: TextFilter = filter_field("Grid code (15 digits).", GRID_CODE_PATTERN)
    queue: TextFilter = filter_field(
        "Unit code: the cases waiting in that unit's own queue (in no grid).",
        r"^(\d{6}|\d{9}|\d{12})?$",
    )
    stage: Stage | None = None
    open: bool | None = Field(None, description="true: cases still waiting for someone.")
    category: TextFilter = filter_field("Category code, e.g. environment.")
    tier: Tier | None = None
    overdue: bool | None = Field(None, description="true: open cases past their deadline.")
    mine: bool | None = Field(None, description="true: cases assigned to you.")
    since: DateParam = Field(None, description="Reported on or after this date (YYYY-MM-DD).")
    until: DateParam = Field(None, description="Reported on or before this date (YYYY-MM-DD).")
    sort: Literal["due", "-due", "reported", "-reported"] = "-reported"

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str | None) -> str | None:
        if value is not None and not (
            value.isascii() and value.isdigit() and len(value) in _SCOPE_LENGTHS
        ):
            raise ValueError("a unit or grid code has 6, 9, 12 or 15 digits")
        return value

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        if value is not None and not (
            value.isascii() and value.isdigit() and len(value) in (6, 9, 12)
        ):
            raise ValueError("a unit code has 6 (county), 9 (town) or 12 (village) digits")
        return value

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: str | None) -> str | None:
        return check_grid_code(value)


@router.get(
    "/cases",
    response=responses(CasePage),
    operation_id="listCases",
    tags=["cases"],
    summary="List cases",
)
def list_cases(
    request: HttpRequest, filters: Query[CaseFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Cases in your scope. `grid` + `open=true` + `sort=due` is the grid worker's list."""
    user = require_perm(request, "cases.view_case")
    f = filters.dict()
    qs = case_list(
        user,
        scope_code=f["grid"] or f["scope"],
        queue=f["queue"],
        stage=f["stage"],
        is_open=f["open"],
        category=f["category"],
        tier=f["tier"],
        overdue_at=timezone.now() if f["overdue"] else None,
        assignee=user if f["mine"] else None,
        since=f["since"],
        until=f["until"],
        sort=f["sort"],
    )
    page = paginate(qs, paging)
    now = timezone.now()
    page["items"] = [case_out(c, now) for c in page["items"]]
    return page


class CaseIn(Schema):
    category: str = Field(description="Category code (GET /cases/categories).")
    description: str = Field(
        min_length=4, max_length=4000, description="What is the matter (at least 4 characters)."
    )
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    unit: str | None = Field(None, description="Unit whose queue takes a case without a place.")
    urgent: bool = False
    channel: Literal["grid_worker", "hotline", "visit", "api"] | None = Field(
        None, description="Default: grid_worker for grid workers, hotline for dispatchers."
    )
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_household: int | None = id_field("Household id, in your scope.")


def _channel_for(user: User, given: str | None) -> str:
    if given:
        return given
    return {"grid_worker": "grid_worker", "dispatcher": "hotline"}.get(user.role, "api")


@router.post(
    "/cases",
    response={201: CaseDetailOut, **responses(CaseDetailOut)},
    operation_id="reportCase",
    tags=["cases"],
    summary="Report a case (staff)",
)
def report_case(request: HttpRequest, body: CaseIn) -> Status:
    """A grid worker's report, a dispatcher's hotline entry, or any staff intake."""
    from grassroots.registry.models import Household

    user = require_perm(request, "cases.add_case")
    data = body.dict()
    household = None
    if data["reporter_household"] is not None:
        household = Household.objects.visible_to(user).filter(pk=data["reporter_household"]).first()
        if household is None:
            invalid("reporter_household", "no such household in your scope")
    lon, lat, unit = data["lon"], data["lat"], data["unit"]
    if unit and not Scope.for_user(user).contains(unit) and not _unit_above_ok(user, unit):
        invalid("unit", "this unit lies outside your scope")
    case = services.case_report(
        actor=user,
        channel=_channel_for(user, data["channel"]),
        category=data["category"],
        description=data["description"],
        lon=lon,
        lat=lat,
        address=data["address"],
        unit=unit,
        urgent=data["urgent"],
        reporter_name=data["reporter_name"],
        reporter_phone=data["reporter_phone"],
        reporter_household=household,
    )
    if not Scope.for_user(user).contains(case.scope_code):
        # Reported where the reporter does not work (a point in another town): the case stands
        # and goes to that grid; the answer says where, not what.
        return Status(
            201,
            {**case_out(case), "timeline": [], "allowed_actions": [], "possible_duplicates": []},
        )
    return Status(201, case_detail(case, user))


def _unit_above_ok(user: User, unit: str) -> bool:
    # A grid worker reporting to their own village's queue: the unit holds one of their grids.
    return any(code.startswith(unit) for code in user.scope_codes())


class StatsQuery(Schema):
    scope: TextFilter = filter_field(
        "Unit or grid code in your scope; your whole scope without it.", PLACE_CODE_PATTERN
    )
    since: DateParam = Field(None, description="From this day (YYYY-MM-DD).")
    until: DateParam = Field(None, description="To this day included (YYYY-MM-DD).")


@router.get(
    "/cases/stats",
    response=responses(dict[str, Any]),
    operation_id="caseStats",
    tags=["cases"],
    summary="Case indicators for a scope and period",
)
def case_stats(request: HttpRequest, params: Query[StatsQuery]) -> dict[str, Any]:
    """The indicators of `grassroots cases stats` for a unit or grid in your scope.

    Keys: cases_total, closed, closure_rate, on_time_closure_rate, rework_rate,
    satisfaction_rate, grid_tier_share, avg_hours_by_tier (rates are null without a base).
    """
    user = require_perm(request, "cases.view_case")
    scope, since, until = params.scope, params.since, params.until
    if scope is not None and not (
        scope.isascii() and scope.isdigit() and len(scope) in _SCOPE_LENGTHS
    ):
        invalid("scope", "a unit or grid code has 6, 9, 12 or 15 digits")
    if since and until and since > until:
        invalid("since", "since comes after until")
    mine = Scope.for_user(user)
    where = mine.narrow(scope) if scope else mine
    return stats.indicators(scope or "", since, until, scope=where)


@router.get(
    "/cases/{tracking_code}",
    response=responses(CaseDetailOut),
    operation_id="getCase",
    tags=["cases"],
    summary="Get a case with its timeline",
)
def get_case(request: HttpRequest, tracking_code: str) -> dict[str, Any]:
    """One case; 404 if it does not exist or lies outside your scope."""
    user = require_perm(request, "cases.view_case")
    return case_detail(_get(user, tracking_code), user)


class ActionIn(Schema):
    note: str = ""
    reason: str = Field(
        "", description="reject: invalid/duplicate/out_of_scope; escalate, defer: why."
    )
    assignee: str | None = Field(None, description="dispatch: the handler's username.")
    days: int | None = Field(None, description="defer: working days to add.")
    main: str | None = Field(None, description="merge: the main case's tracking code.")
    rating: int | None = Field(None, description="rate: 1 to 5 (recorded from a call-back).")
    expected_version: int | None = Field(
        None, description="The version you saw: refused (409) if someone changed the case since."
    )


Action = Literal[
    "accept",
    "reject",
    "dispatch",
    "start",
    "progress",
    "handle",
    "verify",
    "send_back",
    "close",
    "escalate",
    "defer",
    "merge",
    "rate",
    "reopen",
    "note",
]


def run_action(
    user: User, case: Case, action: str, data: dict[str, Any], photos: list[Any]
) -> Case:
    """One workflow step by name, as the API and the web pages take it (TransitionRefused or
    CaseInputError when refused)."""
    common: dict[str, Any] = {"actor": user, "expected_version": data.get("expected_version")}
    note = data.get("note") or ""
    if photos:
        common["photos"] = photos
    if action == "reject":
        return services.case_reject(case, reason=data.get("reason") or "", note=note, **common)
    if action == "dispatch":
        assignee = User.objects.filter(username=data.get("assignee") or "", is_active=True).first()
        if assignee is None:
            invalid("assignee", "no such active user")
        return services.case_dispatch(case, assignee=assignee, note=note, **common)
    if action == "escalate":
        return services.case_escalate(case, reason=data.get("reason") or note, **common)
    if action == "defer":
        if data.get("days") is None:
            invalid("days", "give the working days to add")
        return services.case_defer(
            case, days=data["days"], reason=data.get("reason") or note, **common
        )
    if action == "merge":
        main = (
            Case.objects.visible_to(user)
            .filter(tracking_code=services.normalize_tracking_code(data.get("main") or ""))
            .first()
        )
        if main is None:
            invalid("main", "no such case in your scope")
        return services.case_merge(case, main=main, note=note, **common)
    if action == "rate":
        if data.get("rating") is None:
            invalid("rating", "give a rating from 1 to 5")
        return services.case_rate(case, rating=data["rating"], comment=note, **common)
    if action == "reopen":
        return services.case_reopen(case, reason=data.get("reason") or note, **common)
    service = {
        "accept": services.case_accept,
        "start": services.case_start,
        "progress": services.case_progress,
        "handle": services.case_handle,
        "verify": services.case_verify,
        "send_back": services.case_send_back,
        "close": services.case_close,
        "note": services.case_note,
    }[action]
    return service(case, note=note, **common)


@router.post(
    "/cases/{tracking_code}/actions/{action}",
    response={**responses(CaseDetailOut), 409: ErrorOut},
    operation_id="actOnCase",
    tags=["cases"],
    summary="Take a workflow step on a case",
)
def act_on_case(
    request: HttpRequest, tracking_code: str, action: Action, body: ActionIn
) -> dict[str, Any]:
    """accept, reject, dispatch, start, progress, handle, verify, send_back, close, escalate,
    defer, merge, rate, reopen or note. A step you may not take answers 403 with the reason;
    a step the case's state does not allow (or a concurrent change) answers 409."""
    step_perm = services.ACTIONS[action][1] if action in services.ACTIONS else None
    user = require_perm(request, "cases.view_case", step_perm or "cases.handle_case")
    case = _get(user, tracking_code)
    try:
        case = run_action(user, case, action, body.dict(), [])
    except services.TransitionRefused as exc:
        raise HttpError(exc.status, exc.message) from None
    return case_detail(case, user)


@router.post(
    "/cases/{tracking_code}/photos",
    response={**responses(CaseDetailOut), 409: ErrorOut},
    operation_id="addCasePhotos",
    tags=["cases"],
    summary="Add progress with photos to a case",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "properties": {"photos": {"minItems": 1, "maxItems": services.MAX_PHOTOS}}
                    }
                }
            }
        }
    },
)
def add_case_photos(
    request: HttpRequest,
    tracking_code: str,
    note: Form[str],
    photos: File[list[UploadedFile]],
) -> dict[str, Any]:
    """A progress note with up to 9 photos (JPEG, PNG, WebP, HEIC; size limited), multipart."""
    user = require_perm(request, "cases.handle_case")
    case = _get(user, tracking_code)
    action = "progress" if case.stage == Stage.IN_PROGRESS else "note"
    try:
        case = run_action(user, case, action, {"note": note}, list(photos))
    except services.TransitionRefused as exc:
        raise HttpError(exc.status, exc.message) from None
    return case_detail(case, user)


@router.get(
    "/cases/{tracking_code}/photos/{photo_id}",
    response=ERROR_RESPONSES,
    operation_id="getCasePhoto",
    tags=["cases"],
    summary="Get a photo of a case",
    # The image itself, not JSON: the document names the types that are stored.
    openapi_extra={
        "responses": {
            200: {
                "description": "The image, in the type it was stored as.",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ("image/jpeg", "image/png", "image/webp", "image/heic")
                },
            }
        }
    },
)
def get_case_photo(request: HttpRequest, tracking_code: str, photo_id: int) -> HttpResponseBase:
    """The image as it was uploaded (its type checked then); 404 outside your scope."""
    from django.http import FileResponse

    from .models import CasePhoto

    user = require_perm(request, "cases.view_case")
    case = _get(user, tracking_code)
    photo = get_object_or_404(CasePhoto, pk=photo_id, case=case)
    if not photo.file:
        raise HttpError(404, "Not found")
    response = FileResponse(photo.file.open("rb"), content_type=photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class CategoryOut(Schema):
    code: str
    name: str
    name_en: str
    kind: str
    first_tier: str
    department: str
    days: dict[str, int]
    urgent_hours: dict[str, int]


@router.get(
    "/case-categories",
    response={200: list[CategoryOut]},
    operation_id="listCaseCategories",
    tags=["cases"],
    summary="List case categories with their time limits",
    auth=None,
)
def list_categories(request: HttpRequest) -> list[dict[str, Any]]:
    """Active categories; public (the portal shows them)."""
    from .models import Category

    return [
        {
            "code": c.code,
            "name": c.name,
            "name_en": c.name_en,
            "kind": c.kind,
            "first_tier": c.first_tier,
            "department": c.department,
            "days": {t: c.limit(t, urgent=False) for t in Tier.values},
            "urgent_hours": {t: c.limit(t, urgent=True) for t in Tier.values},
        }
        for c in Category.objects.filter(active=True)
    ]


# --- The public portal (no account) ------------------------------------------------------------


class PublicCaseIn(Schema):
    category: str
    description: str = Field(
        min_length=4, max_length=4000, description="What is the matter (at least 4 characters)."
    )
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    unit: str | None = Field(None, description="Village, community or town, when no point.")
    reporter_name: str = ""
    reporter_phone: str = Field(description="Needed to follow the case; never shown again.")
    enterprise: bool = Field(False, description="Reported by an enterprise.")


class MergedIntoOut(Schema):
    tracking_code: str
    stage: str
    stage_label: str
    status: Literal["open", "closed"]
    closed_at: datetime.datetime | None


class PublicCaseOut(Schema):
    tracking_code: str
    category_name: str
    description: str = Field(description="Your own words, phone and ID numbers in them masked.")
    stage: str
    stage_label: str
    status: Literal["open", "closed"]
    reported_at: datetime.datetime
    closed_at: datetime.datetime | None
    rating: int | None
    can_rate: bool
    can_reject: bool
    timeline: list[dict[str, Any]]
    merged_into: MergedIntoOut | None = Field(
        None,
        description="A request joined with another about the same matter: that one's status "
        "(nothing else of it); yours is rated once it is closed.",
    )


class LookupIn(Schema):
    tracking_code: str
    phone: str


class RatingIn(LookupIn):
    rating: int = Field(ge=1, le=5)
    comment: str = ""


class RejectIn(LookupIn):
    reason: str = Field(min_length=2, max_length=1000)


def public_out(case: Case) -> dict[str, Any]:
    """A case as its reporter sees it after the look-up by code and phone: their own report
    (numbers in it masked, as in every public answer) and, for a merged one, the status of the
    case it was joined with, nothing else of that case (another reporter's)."""
    now = timezone.now()
    recently = case.closed_at is not None and now - case.closed_at <= datetime.timedelta(
        days=services.REOPEN_DAYS
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
        "can_rate": services.reporter_may_rate(case),
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


@router.post(
    "/public/cases",
    response={201: PublicCaseOut, 422: ErrorOut, 429: ErrorOut},
    operation_id="submitPublicCase",
    throttle=portal_throttle(),
    tags=["portal"],
    summary="Submit a request (no account)",
    auth=None,
)
def submit_public_case(request: HttpRequest, body: PublicCaseIn) -> Status:
    """A resident's or enterprise's request. Keep the tracking code: with your phone number it
    opens the case again."""
    data = body.dict()
    if not data["reporter_phone"].strip():
        invalid("reporter_phone", "a phone number is needed to follow the case")
    case = services.case_report(
        actor=None,
        channel="portal",
        category=data["category"],
        description=data["description"],
        lon=data["lon"],
        lat=data["lat"],
        address=data["address"],
        unit=data["unit"],
        reporter_name=data["reporter_name"],
        reporter_phone=data["reporter_phone"],
        event_data={"reporter": "enterprise" if data["enterprise"] else "resident"},
    )
    return Status(201, public_out(case))


def _reporter_case(data: dict[str, Any]) -> Case:
    case = services.find_for_reporter(data["tracking_code"], data["phone"])
    if case is None:
        raise HttpError(404, "No case with this tracking code and phone number")
    return case


@router.post(
    "/public/cases/lookup",
    response={200: PublicCaseOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    operation_id="lookupPublicCase",
    throttle=portal_throttle(),
    tags=["portal"],
    summary="Look up a request by tracking code and phone",
    auth=None,
)
def lookup_public_case(request: HttpRequest, body: LookupIn) -> dict[str, Any]:
    """Your request's status and timeline; a merged request also shows the status of the request
    it was joined with."""
    return public_out(_reporter_case(body.dict()))


@router.post(
    "/public/cases/rating",
    response={200: PublicCaseOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    operation_id="ratePublicCase",
    throttle=portal_throttle(),
    tags=["portal"],
    summary="Rate the result of a closed request",
    auth=None,
)
def rate_public_case(request: HttpRequest, body: RatingIn) -> dict[str, Any]:
    data = body.dict()
    case = _reporter_case(data)
    try:
        case = services.case_rate(case, rating=data["rating"], comment=data["comment"])
    except services.TransitionRefused as exc:
        raise HttpError(409, exc.message) from None
    return public_out(case)


@router.post(
    "/public/cases/reject",
    response={200: PublicCaseOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    operation_id="rejectPublicCaseResult",
    throttle=portal_throttle(),
    tags=["portal"],
    summary="Reject the result within 7 days: the case goes back to work",
    auth=None,
)
def reject_public_case(request: HttpRequest, body: RejectIn) -> dict[str, Any]:
    data = body.dict()
    case = _reporter_case(data)
    try:
        with transaction.atomic():
            case = services.case_reopen(case, reason=data["reason"])
    except services.TransitionRefused as exc:
        raise HttpError(409, exc.message) from None
    return public_out(case)
