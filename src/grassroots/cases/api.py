"""API of cases for staff: intake, lists, a case with its timeline, every workflow step, the
indicators, the categories. The public portal's operations are in api_portal.py, whose router
this one includes.

Handlers parse, fetch in scope (404 outside it), call one service and render through
`presenters`; reporter phone numbers leave masked. Domain errors become answers here:
TransitionRefused its status (403/409) with its message, CaseInputError a 422 naming the fields
(grassroots/api.py).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Literal

from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from grassroots.accounts.models import User
from grassroots.core.api_support import (
    ERROR_RESPONSES,
    PLACE_CODE_PATTERN,
    DateParam,
    ErrorOut,
    Page,
    PageQuery,
    Ref,
    TextFilter,
    filter_field,
    id_field,
    invalid,
    paginate,
    require_perm,
    responses,
)
from grassroots.core.scoping import Scope
from grassroots.registry.models import Household

from . import stats
from .api_portal import router as portal_router
from .errors import TransitionRefused
from .filters import CaseFilter
from .intake import MAX_PHOTOS, case_report, normalize_tracking_code
from .models import Case, CasePhoto, Category, Stage, Tier
from .presenters import case_detail, case_out
from .selectors import case_list, cases_for
from .workflow import STEPS, run_action

# The portal's pages (web/portal) import these two from here.
__all__ = ["router"]

router = Router()

_SCOPE_LENGTHS = (6, 9, 12, 15)
# The name of a workflow step, as the table in workflow.py lists them.
if TYPE_CHECKING:
    StepName = str
else:
    StepName = Literal[tuple(STEPS)]


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
    due_at: datetime.datetime = Field(
        description="The case's due date: the promise made to the reporter at intake (the first "
        "tier's time limit, counted from the report). Escalation never moves it; a deferral "
        "does. overdue, on-time closure and sort=due are judged against it."
    )
    due_fallback: bool = Field(description="due_at counts days past the official calendar.")
    tier_due_at: datetime.datetime = Field(
        description="The deadline of the tier the case is at: each tier gets its own time limit "
        "when the case reaches it (a deferral moves it too). When it passes, the case goes up "
        "one tier."
    )
    tier_due_fallback: bool = Field(
        description="tier_due_at counts days past the official calendar."
    )
    overdue: bool = Field(description="Open and past due_at.")
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


def _get(user: User, tracking_code: str) -> Case:
    code = normalize_tracking_code(tracking_code)
    return get_object_or_404(cases_for(user), tracking_code=code)


class CaseListQuery(CaseFilter):
    sort: Literal["due", "-due", "reported", "-reported"] = Field(
        "-reported", description="due: by due date (due_at); reported: by report time."
    )


@router.get(
    "/cases",
    response=responses(CasePage),
    operation_id="listCases",
    tags=["cases"],
    summary="List cases",
)
def list_cases(
    request: HttpRequest, filters: Query[CaseListQuery], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Cases in your scope. `grid` + `open=true` + `sort=due` is the grid worker's list."""
    user = require_perm(request, "cases.view_case")
    now = timezone.now()
    page = paginate(case_list(user, filters, sort=filters.sort, now=now), paging)
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
    case = case_report(
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
        "",
        description="reject: invalid/duplicate/out_of_scope; escalate, defer, reopen: why.",
    )
    assignee: str | None = Field(None, description="dispatch: the handler's username.")
    days: int | None = Field(None, description="defer: working days to add.")
    main: str | None = Field(None, description="merge: the main case's tracking code.")
    rating: int | None = Field(None, description="rate: 1 to 5 (recorded from a call-back).")
    expected_version: int | None = Field(
        None, description="The version you saw: refused (409) if someone changed the case since."
    )


def _take(user: User, case: Case, step: str, data: dict[str, Any], photos: list[Any]) -> Case:
    try:
        return run_action(user, case, step, data, photos)
    except TransitionRefused as exc:
        raise HttpError(exc.status, exc.message) from None


_NAMES = list(STEPS)


@router.post(
    "/cases/{tracking_code}/actions/{action}",
    response={**responses(CaseDetailOut), 409: ErrorOut},
    operation_id="actOnCase",
    tags=["cases"],
    summary="Take a workflow step on a case",
    description=f"{', '.join(_NAMES[:-1])} or {_NAMES[-1]}. A step you may not take answers 403 "
    "with the reason; a step the case's state does not allow (or a concurrent change) answers "
    "409.",
)
def act_on_case(
    request: HttpRequest, tracking_code: str, action: StepName, body: ActionIn
) -> dict[str, Any]:
    user = require_perm(request, "cases.view_case", STEPS[action].perm)
    case = _take(user, _get(user, tracking_code), action, body.dict(), [])
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
                    "schema": {"properties": {"photos": {"minItems": 1, "maxItems": MAX_PHOTOS}}}
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
    step = "progress" if case.stage == Stage.IN_PROGRESS else "note"
    case = _take(user, case, step, {"note": note}, list(photos))
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


router.add_router("", portal_router)
