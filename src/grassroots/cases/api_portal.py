"""API of the public portal (no account): a resident's or enterprise's request, its look-up by
tracking code and phone, the rating of the result and its rejection within 7 days.

The portal's pages (web/portal) answer the same through the same services and the same
throttle. Its router is included in the cases API's router (api.py).
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.throttling import BaseThrottle

from grassroots.core.api_support import ErrorOut, invalid

from .errors import TransitionRefused
from .intake import case_report, find_for_reporter
from .models import Case
from .presenters import public_out
from .public import portal_allows, portal_wait
from .workflow import case_rate, case_reopen

router = Router()


class PortalThrottle(BaseThrottle):
    """Per client address, for the endpoints open to anyone (settings.PORTAL_RATE, read at each
    request): the budget of cases.public, which the portal's pages share."""

    def allow_request(self, request: HttpRequest) -> bool:
        return portal_allows(self.get_ident(request))

    def wait(self) -> float:
        # Nothing per request is kept on this object, which all threads share.
        return portal_wait()


def portal_throttle() -> list[Any]:
    return [PortalThrottle()]


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
    case = case_report(
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
    case = find_for_reporter(data["tracking_code"], data["phone"])
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
        case = case_rate(case, rating=data["rating"], comment=data["comment"])
    except TransitionRefused as exc:
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
            case = case_reopen(case, reason=data["reason"])
    except TransitionRefused as exc:
        raise HttpError(409, exc.message) from None
    return public_out(case)
