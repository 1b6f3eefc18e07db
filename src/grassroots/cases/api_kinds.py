"""API of case kinds: the mediation of a dispute case and the assistance of a hardship case.

    GET  /cases/{tracking_code}/mediation            parties, sessions, outcome
    POST /cases/{tracking_code}/mediation/parties    add a party
    POST /cases/{tracking_code}/mediation/sessions   record a session held
    POST /cases/{tracking_code}/mediation/conclude   the outcome and agreement
    GET  /cases/{tracking_code}/assistance           household, plan, what was given
    POST /cases/{tracking_code}/assistance/plan      set or change the plan
    POST /cases/{tracking_code}/assistance/given     record what was given

A case outside the caller's scope answers 404; a case of another kind, a rejected or merged one
or a concluded mediation answers 409 with the reason.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from grassroots.core.api_support import ErrorOut, id_field, require_perm, responses
from grassroots.core.validators import mask_phone

from . import kinds
from .errors import TransitionRefused
from .intake import normalize_tracking_code
from .models import Assistance, Case, Mediation

router = Router(tags=["cases"])


class PartyIn(Schema):
    name: str = Field("", description="Required unless resident_id names a resident.")
    phone: str = Field("", description="Mobile or landline (0598-1234567).")
    resident_id: int | None = id_field("A resident of the registry in your area.")
    role: str = Field("", description="E.g. 申请人 (applicant), 被申请人 (respondent).")


class SessionIn(Schema):
    held_at: datetime.datetime = Field(description="When the session was held (not later).")
    place: str = ""
    notes: str = Field(description="What was said and agreed.")


class ConcludeIn(Schema):
    outcome: Literal["success", "partial", "failed"]
    agreement: str = Field("", description="The agreement's text; required unless failed.")


class PlanIn(Schema):
    household_id: int | None = id_field(
        "The household helped, in your area; default the reporter's household."
    )
    plan: str
    follow_up_on: datetime.date | None = Field(None, description="When to follow up (not past).")


class GivenIn(Schema):
    what: str = Field(
        min_length=1, max_length=200, description="What was given (goods, money, a service)."
    )
    amount: decimal.Decimal | None = Field(
        None,
        description="In yuan, from 0 up to the deployment's ASSISTANCE_MAX_YUAN (default 50,000).",
    )
    given_on: datetime.date | None = Field(None, description="Default today; not in the future.")


class PartyOut(Schema):
    id: int
    name: str
    phone: str = Field(description="Masked (138****5678).")
    role: str
    resident_id: int | None


class SessionOut(Schema):
    id: int
    held_at: datetime.datetime
    place: str
    mediator: str | None = Field(description="Username of who recorded it.")
    notes: str


class MediationOut(Schema):
    tracking_code: str
    outcome: str = Field(description="success, partial or failed; empty while it goes on.")
    agreement: str
    concluded_at: datetime.datetime | None
    parties: list[PartyOut]
    sessions: list[SessionOut]


class HouseholdRef(Schema):
    id: int
    code: str


class GivenOut(Schema):
    id: int
    given_on: datetime.date
    what: str
    amount: decimal.Decimal | None
    by: str | None = Field(description="Username of who recorded it.")


class AssistanceOut(Schema):
    tracking_code: str
    household: HouseholdRef | None = Field(description="Null until a plan names it.")
    plan: str
    follow_up_on: datetime.date | None
    given: list[GivenOut]


def _case(request: HttpRequest, tracking_code: str, perm: str) -> tuple[Any, Case]:
    user = require_perm(request, perm)
    code = normalize_tracking_code(tracking_code)
    return user, get_object_or_404(Case.objects.visible_to(user), tracking_code=code)


def _refused(exc: TransitionRefused) -> HttpError:
    return HttpError(exc.status, exc.message)


def _check_kind(case: Case, kind: str) -> None:
    try:
        kinds.check_kind(case, kind)
    except TransitionRefused as exc:
        raise _refused(exc) from None


def _mediation_out(case: Case) -> dict[str, Any]:
    mediation = Mediation.objects.filter(case=case).first()
    parties = list(mediation.parties.order_by("pk")) if mediation else []
    sessions = list(mediation.sessions.select_related("mediator")) if mediation else []
    return {
        "tracking_code": case.tracking_code,
        "outcome": mediation.outcome if mediation else "",
        "agreement": mediation.agreement if mediation else "",
        "concluded_at": mediation.concluded_at if mediation else None,
        "parties": [
            {
                "id": p.pk,
                "name": p.name,
                "phone": mask_phone(p.phone),
                "role": p.role,
                "resident_id": p.resident_id,
            }
            for p in parties
        ],
        "sessions": [
            {
                "id": s.pk,
                "held_at": s.held_at,
                "place": s.place,
                "mediator": s.mediator.get_username() if s.mediator else None,
                "notes": s.notes,
            }
            for s in sessions
        ],
    }


def _assistance_out(case: Case) -> dict[str, Any]:
    assistance = Assistance.objects.filter(case=case).select_related("household").first()
    given = list(assistance.given.select_related("by")) if assistance else []
    return {
        "tracking_code": case.tracking_code,
        "household": (
            {"id": assistance.household.pk, "code": assistance.household.code}
            if assistance
            else None
        ),
        "plan": assistance.plan if assistance else "",
        "follow_up_on": assistance.follow_up_on if assistance else None,
        "given": [
            {
                "id": g.pk,
                "given_on": g.given_on,
                "what": g.what,
                "amount": g.amount,
                "by": g.by.get_username() if g.by else None,
            }
            for g in given
        ],
    }


KIND_RESPONSES = {409: ErrorOut}


@router.post(
    "/cases/{tracking_code}/mediation/parties",
    response={**responses(MediationOut), **KIND_RESPONSES},
    operation_id="addMediationParty",
    summary="Add a party to a dispute mediation",
)
def add_mediation_party(request: HttpRequest, tracking_code: str, body: PartyIn) -> dict[str, Any]:
    """A party to the dispute, by name (and phone), or a resident of the registry in your area.
    Answers the whole mediation."""
    user, case = _case(request, tracking_code, "cases.handle_case")
    try:
        kinds.mediation_add_party(
            case,
            actor=user,
            name=body.name,
            phone=body.phone,
            resident=body.resident_id,
            role=body.role,
        )
    except TransitionRefused as exc:
        raise _refused(exc) from None
    return _mediation_out(case)


@router.post(
    "/cases/{tracking_code}/mediation/sessions",
    response={**responses(MediationOut), **KIND_RESPONSES},
    operation_id="addMediationSession",
    summary="Record a mediation session",
)
def add_mediation_session(
    request: HttpRequest, tracking_code: str, body: SessionIn
) -> dict[str, Any]:
    """A session that was held, with where and the notes. Answers the whole mediation."""
    user, case = _case(request, tracking_code, "cases.handle_case")
    try:
        kinds.mediation_add_session(
            case, actor=user, held_at=body.held_at, place=body.place, notes=body.notes
        )
    except TransitionRefused as exc:
        raise _refused(exc) from None
    return _mediation_out(case)


@router.post(
    "/cases/{tracking_code}/mediation/conclude",
    response={**responses(MediationOut), **KIND_RESPONSES},
    operation_id="concludeMediation",
    summary="Conclude a dispute mediation",
)
def conclude_mediation(
    request: HttpRequest, tracking_code: str, body: ConcludeIn
) -> dict[str, Any]:
    """The outcome (success, partial, failed) and the agreement text (required unless failed);
    needs at least one session. A concluded mediation takes no more parties or sessions."""
    user, case = _case(request, tracking_code, "cases.handle_case")
    try:
        kinds.mediation_conclude(case, actor=user, outcome=body.outcome, agreement=body.agreement)
    except TransitionRefused as exc:
        raise _refused(exc) from None
    return _mediation_out(case)


@router.get(
    "/cases/{tracking_code}/mediation",
    response={**responses(MediationOut), **KIND_RESPONSES},
    operation_id="getMediation",
    summary="Get the mediation of a dispute case",
)
def get_mediation(request: HttpRequest, tracking_code: str) -> dict[str, Any]:
    """Parties (phones masked), sessions and outcome; empty lists before anything is recorded."""
    _user, case = _case(request, tracking_code, "cases.view_case")
    _check_kind(case, Case.Kind.MEDIATION)
    return _mediation_out(case)


@router.post(
    "/cases/{tracking_code}/assistance/plan",
    response={**responses(AssistanceOut), **KIND_RESPONSES},
    operation_id="planAssistance",
    summary="Set the assistance plan of a hardship case",
)
def plan_assistance(request: HttpRequest, tracking_code: str, body: PlanIn) -> dict[str, Any]:
    """The household helped (default: the reporter's household), the plan and the follow-up
    date; again to change them. Answers the whole assistance record."""
    user, case = _case(request, tracking_code, "cases.handle_case")
    try:
        kinds.assistance_plan(
            case,
            actor=user,
            household=body.household_id,
            plan=body.plan,
            follow_up_on=body.follow_up_on,
        )
    except TransitionRefused as exc:
        raise _refused(exc) from None
    return _assistance_out(case)


@router.post(
    "/cases/{tracking_code}/assistance/given",
    response={**responses(AssistanceOut), **KIND_RESPONSES},
    operation_id="recordAssistanceGiven",
    summary="Record assistance given to the household",
)
def record_assistance_given(
    request: HttpRequest, tracking_code: str, body: GivenIn
) -> dict[str, Any]:
    """What was given, the amount in yuan and the date; needs the plan first."""
    user, case = _case(request, tracking_code, "cases.handle_case")
    try:
        kinds.assistance_give(
            case, actor=user, what=body.what, amount=body.amount, given_on=body.given_on
        )
    except TransitionRefused as exc:
        raise _refused(exc) from None
    return _assistance_out(case)


@router.get(
    "/cases/{tracking_code}/assistance",
    response={**responses(AssistanceOut), **KIND_RESPONSES},
    operation_id="getAssistance",
    summary="Get the assistance of a hardship case",
)
def get_assistance(request: HttpRequest, tracking_code: str) -> dict[str, Any]:
    """The household, the plan, the follow-up date and everything given so far."""
    _user, case = _case(request, tracking_code, "cases.view_case")
    _check_kind(case, Case.Kind.ASSISTANCE)
    return _assistance_out(case)
