"""Case kinds: dispute mediation (调解) and hardship assistance (帮扶).

A dispute case carries its mediation: the parties, the sessions held with their notes, and the
outcome with the agreement reached. A hardship case carries its assistance: the household
helped, the plan, what was given and when to follow up.

Each service is one transaction: it locks the case row, checks the actor and the case as every
workflow step does (cases.handle_case; the case in their area; its tier one where their role
acts, and for a department handler their department's category; the case assigned to them
unless they dispatch; a case of the right kind, being worked on: accepted, dispatched or in
progress, never reported-only, closed, rejected or merged), writes the rows, appends a timeline
event ("mediation" or "assistance") and the audit events. Assistance given is also recorded on a
closed case when its plan's follow-up date has come. A refusal raises TransitionRefused saying
why (status 403 when the actor may not, 409 when the case does not allow it); bad input raises
CaseInputError naming the field. A party or household named by id must be one the actor may
see (registry.view_resident / view_household, in their area): no one learns a name from an id.
"""

from __future__ import annotations

import datetime
import decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_text
from grassroots.core.validators import mask_name, mask_phone
from grassroots.registry.models import Household, Resident

from .errors import CaseInputError, TransitionRefused
from .intake import clean_phone
from .models import (
    DONE_STAGES,
    WORKING_STAGES,
    Assistance,
    AssistanceGiven,
    Case,
    CaseEvent,
    Mediation,
    MediationParty,
    MediationSession,
    Stage,
    Tier,
)
from .workflow import check_handler, may_act_at

if TYPE_CHECKING:
    from grassroots.accounts.models import User

MAX_TEXT = 4000


# --- Checks and records shared by both kinds --------------------------------------------------


def check_kind(case: Case, kind: str) -> None:
    """TransitionRefused (409) unless `case` is of `kind`."""
    if case.kind != kind:
        raise TransitionRefused(
            _("Case %(code)s is a %(kind)s case, not a %(wanted)s case")
            % {
                "code": case.tracking_code,
                "kind": Case.Kind(case.kind).label.lower(),
                "wanted": Case.Kind(kind).label.lower(),
            }
        )


def _case_to_work_on(
    case: Case | int,
    actor: User | None,
    kind: str,
    also: frozenset[str] = frozenset(),
) -> Case:
    """The case, locked, if `actor` may add records of `kind` to it now; else TransitionRefused.

    The checks of every workflow step: role, area, tier (and department), assignee, stage.
    `also`: stages besides the working ones where such a record is allowed.
    """
    if actor is None or not actor.is_active:
        raise TransitionRefused(_("Only staff may work on a case"), 403)
    if not actor.has_perm("cases.handle_case"):
        raise TransitionRefused(_("Your role may not work on cases"), 403)
    pk = case.pk if isinstance(case, Case) else case
    locked = (
        Case.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .select_related("category", "assignee")
        .filter(pk=pk)
        .first()
    )
    if locked is None:
        raise TransitionRefused(_("This case lies outside your area"), 403)
    check_kind(locked, kind)
    if locked.stage in (Stage.REJECTED, Stage.MERGED):
        raise TransitionRefused(
            _("Case %(code)s was %(stage)s: nothing more can be recorded on it")
            % {"code": locked.tracking_code, "stage": Stage(locked.stage).label.lower()}
        )
    if not may_act_at(actor, locked):
        raise TransitionRefused(
            _("This case is at the %(tier)s tier, where you do not act")
            % {"tier": Tier(locked.tier).label},
            403,
        )
    if locked.stage not in WORKING_STAGES | also:
        raise TransitionRefused(
            _(
                "Case %(code)s is %(stage)s: this is recorded while the case is being worked"
                " on (accepted, dispatched or in progress)"
            )
            % {"code": locked.tracking_code, "stage": Stage(locked.stage).label.lower()}
        )
    check_handler(locked, actor)
    return locked


def _timeline(
    case: Case, actor: User, action: str, note: str, data: dict[str, Any], now: datetime.datetime
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        at=now,
        actor=actor,
        actor_name=actor.get_full_name() or actor.get_username(),
        action=action,
        note=note,
        data=data,
        scope_code=case.scope_code,
    )


def _snapshot(obj: models.Model) -> dict[str, Any]:
    values = audit.snapshot(obj)
    # Parties are people: recorded like residents, surname and masked phone only.
    if isinstance(obj, MediationParty):
        values["name"] = mask_name(obj.name)
        values["phone"] = mask_phone(obj.phone) or ""
    return values


def _label(obj: models.Model) -> str:
    if isinstance(obj, MediationParty):
        return mask_name(obj.name)
    return str(obj)


def _audit_created(obj: models.Model, case: Case, actor: User) -> None:
    after = _snapshot(obj)
    # The actor is named even when a script calls the service outside a request.
    with acting(user=actor):
        audit.record(
            audit.Event.Action.CREATE,
            object_type=audit.object_type(obj),
            object_id=obj.pk,
            object_repr=f"{case.tracking_code}: {_label(obj)}",
            scope_code=case.scope_code,
            changes={k: [None, v] for k, v in after.items() if v not in (None, "")},
        )


def _audit_updated(obj: models.Model, case: Case, actor: User, before: dict[str, Any]) -> None:
    changes = audit.diff(before, _snapshot(obj))
    if changes:
        with acting(user=actor):
            audit.record(
                audit.Event.Action.UPDATE,
                object_type=audit.object_type(obj),
                object_id=obj.pk,
                object_repr=f"{case.tracking_code}: {_label(obj)}",
                scope_code=case.scope_code,
                changes=changes,
            )


# C0 controls but tab and newline, and DEL: notes keep their lines, nothing else odd.
_CONTROLS = dict.fromkeys([*(c for c in range(32) if c not in (9, 10)), 127])


def _text(
    value: str,
    field: str,
    errors: dict[str, str],
    *,
    required: str,
    limit: int,
    lines: bool = False,
) -> str:
    """Cleaned text of a field (`lines`: notes that keep their line breaks), or an error."""
    if lines:
        text = str(value or "").replace("\r\n", "\n").translate(_CONTROLS).strip()
    else:
        text = clean_text(value)
    if not text:
        if required:
            errors[field] = required
    elif len(text) > limit:
        errors[field] = _("Longer than %(n)d characters") % {"n": limit}
    return text


# --- Dispute mediation -----------------------------------------------------------------------


def _mediation(case: Case, actor: User) -> Mediation:
    """The case's mediation, made on first use."""
    mediation = Mediation.objects.filter(case=case).first()
    if mediation is None:
        mediation = Mediation.objects.create(case=case)
        _audit_created(mediation, case, actor)
    return mediation


def _open_mediation(case: Case, actor: User) -> Mediation:
    mediation = _mediation(case, actor)
    if mediation.concluded_at is not None:
        raise TransitionRefused(
            _("The mediation of case %(code)s was concluded on %(day)s")
            % {
                "code": case.tracking_code,
                "day": timezone.localdate(mediation.concluded_at).isoformat(),
            }
        )
    return mediation


@transaction.atomic
def mediation_add_party(
    case: Case | int,
    *,
    actor: User,
    name: str,
    phone: str = "",
    resident: Resident | int | None = None,
    role: str = "",
    now: datetime.datetime | None = None,
) -> MediationParty:
    """Add a party to the dispute (optionally a resident of the registry in the actor's area)."""
    locked = _case_to_work_on(case, actor, Case.Kind.MEDIATION)
    now = now or timezone.now()
    errors: dict[str, str] = {}
    person: Resident | None = None
    if resident is not None:
        pk = resident.pk if isinstance(resident, Resident) else resident
        # Only someone who may see the resident may name one: the party's name comes from it.
        if actor.has_perm("registry.view_resident"):
            person = Resident.objects.visible_to(actor).filter(pk=pk).first()
        if person is None:
            errors["resident"] = _("No such resident in your area")
    if not clean_text(name) and person is not None:
        name = person.name
    name = _text(name, "name", errors, required=_("Give the party's name"), limit=50)
    role = clean_text(role)
    if len(role) > 50:
        errors["role"] = _("Longer than %(n)d characters") % {"n": 50}
    try:
        phone = clean_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages[0]
    if errors:
        raise CaseInputError(errors)
    mediation = _open_mediation(locked, actor)
    party = MediationParty.objects.create(
        mediation=mediation, name=name, phone=phone, resident=person, role=role
    )
    _audit_created(party, locked, actor)
    _timeline(
        locked,
        actor,
        CaseEvent.Action.MEDIATION,
        f"{name}（{role}）" if role else name,
        {"step": "party", "party": party.pk, "role": role},
        now,
    )
    return party


@transaction.atomic
def mediation_add_session(
    case: Case | int,
    *,
    actor: User,
    held_at: datetime.datetime,
    place: str,
    notes: str,
    now: datetime.datetime | None = None,
) -> MediationSession:
    """Record a mediation session that was held, with the mediator's notes."""
    locked = _case_to_work_on(case, actor, Case.Kind.MEDIATION)
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if held_at is None:
        errors["held_at"] = _("Give the time the session was held")
    elif held_at > now + datetime.timedelta(minutes=5):
        errors["held_at"] = _("A session is recorded after it was held: the time is in the future")
    place = clean_text(place)
    if len(place) > 100:
        errors["place"] = _("Longer than %(n)d characters") % {"n": 100}
    notes = _text(
        notes, "notes", errors, required=_("Write down what was said"), limit=MAX_TEXT, lines=True
    )
    if errors:
        raise CaseInputError(errors)
    mediation = _open_mediation(locked, actor)
    session = MediationSession.objects.create(
        mediation=mediation, held_at=held_at, place=place, mediator=actor, notes=notes
    )
    _audit_created(session, locked, actor)
    _timeline(
        locked,
        actor,
        CaseEvent.Action.MEDIATION,
        notes,
        {"step": "session", "session": session.pk, "held_at": held_at.isoformat(), "place": place},
        now,
    )
    return session


@transaction.atomic
def mediation_conclude(
    case: Case | int,
    *,
    actor: User,
    outcome: str,
    agreement: str = "",
    now: datetime.datetime | None = None,
) -> Mediation:
    """Conclude the mediation: settled, partly settled (both with the agreement's text) or not."""
    locked = _case_to_work_on(case, actor, Case.Kind.MEDIATION)
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if outcome not in Mediation.Outcome.values:
        errors["outcome"] = _("The outcome is one of %(values)s") % {
            "values": ", ".join(Mediation.Outcome.values)
        }
    if outcome in (Mediation.Outcome.SUCCESS, Mediation.Outcome.PARTIAL):
        agreement = _text(
            agreement,
            "agreement",
            errors,
            required=_("An agreement was reached: give its text"),
            limit=MAX_TEXT,
            lines=True,
        )
    else:
        # Not settled: a note on why may still be kept in the agreement field.
        agreement = _text(agreement, "agreement", errors, required="", limit=MAX_TEXT, lines=True)
    if errors:
        raise CaseInputError(errors)
    mediation = _open_mediation(locked, actor)
    if not mediation.sessions.exists():
        raise TransitionRefused(_("Record at least one mediation session before concluding"))
    before = _snapshot(mediation)
    mediation.outcome, mediation.agreement, mediation.concluded_at = outcome, agreement, now
    mediation.save(update_fields=["outcome", "agreement", "concluded_at"])
    _audit_updated(mediation, locked, actor, before)
    _timeline(
        locked,
        actor,
        CaseEvent.Action.MEDIATION,
        agreement,
        {"step": "conclude", "outcome": outcome},
        now,
    )
    return mediation


# --- Hardship assistance ---------------------------------------------------------------------


@transaction.atomic
def assistance_plan(
    case: Case | int,
    *,
    actor: User,
    household: Household | int | None = None,
    plan: str,
    follow_up_on: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> Assistance:
    """Set (or change) the household helped, the plan and the follow-up date.

    Without a household, the reporter's household is the one helped. The household must lie
    in the actor's area.
    """
    locked = _case_to_work_on(case, actor, Case.Kind.ASSISTANCE)
    now = now or timezone.now()
    errors: dict[str, str] = {}
    target: Household | None = None
    if household is None:
        household = locked.reporter_household_id
    if household is None:
        errors["household"] = _("Say which household is helped")
    else:
        pk = household.pk if isinstance(household, Household) else household
        if actor.has_perm("registry.view_household"):
            target = Household.objects.visible_to(actor).filter(pk=pk).first()
        if target is None:
            errors["household"] = _("No such household in your area")
    plan = _text(plan, "plan", errors, required=_("Describe the plan"), limit=MAX_TEXT, lines=True)
    if follow_up_on is not None and follow_up_on < timezone.localdate(now):
        errors["follow_up_on"] = _("The follow-up date has passed")
    if errors:
        raise CaseInputError(errors)
    assert target is not None
    assistance = Assistance.objects.filter(case=locked).first()
    if assistance is None:
        assistance = Assistance.objects.create(
            case=locked, household=target, plan=plan, follow_up_on=follow_up_on
        )
        _audit_created(assistance, locked, actor)
    else:
        before = _snapshot(assistance)
        assistance.household, assistance.plan = target, plan
        assistance.follow_up_on = follow_up_on
        assistance.save(update_fields=["household", "plan", "follow_up_on"])
        _audit_updated(assistance, locked, actor, before)
    _timeline(
        locked,
        actor,
        CaseEvent.Action.ASSISTANCE,
        plan,
        {
            "step": "plan",
            "household": target.code,
            "follow_up_on": follow_up_on.isoformat() if follow_up_on else None,
        },
        now,
    )
    return assistance


@transaction.atomic
def assistance_give(
    case: Case | int,
    *,
    actor: User,
    what: str,
    amount: decimal.Decimal | int | str | None = None,
    given_on: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> AssistanceGiven:
    """Record what was given to the household (and the amount in yuan, if money or goods).

    While the case is worked on; on a closed case too once its plan's follow-up date has come
    (the follow-up visits of assistance_follow_ups_due). At most settings.ASSISTANCE_MAX_YUAN.
    """
    locked = _case_to_work_on(case, actor, Case.Kind.ASSISTANCE, also=DONE_STAGES)
    now = now or timezone.now()
    today = timezone.localdate(now)
    errors: dict[str, str] = {}
    what = _text(what, "what", errors, required=_("Say what was given"), limit=200)
    value: decimal.Decimal | None = None
    if amount not in (None, ""):
        try:
            value = decimal.Decimal(str(amount)).quantize(decimal.Decimal("0.01"))
        except (decimal.InvalidOperation, ValueError):
            errors["amount"] = _("The amount is a number of yuan")
        else:
            limit = decimal.Decimal(settings.ASSISTANCE_MAX_YUAN)
            if not value.is_finite() or value < 0 or value > limit:
                errors["amount"] = _(
                    "The amount lies between 0 and %(max)s yuan (ASSISTANCE_MAX_YUAN)"
                ) % {"max": f"{limit:,}"}
    given_on = given_on or today
    if given_on > today:
        errors["given_on"] = _("The date lies in the future")
    if errors:
        raise CaseInputError(errors)
    assistance = Assistance.objects.filter(case=locked).first()
    if assistance is None:
        raise TransitionRefused(_("Record the assistance plan first: it names the household"))
    if locked.stage in DONE_STAGES and (
        assistance.follow_up_on is None or assistance.follow_up_on > today
    ):
        raise TransitionRefused(
            _(
                "Case %(code)s is closed: what is given is recorded on it only at the plan's"
                " follow-up date"
            )
            % {"code": locked.tracking_code}
        )
    given = AssistanceGiven.objects.create(
        assistance=assistance, given_on=given_on, what=what, amount=value, by=actor
    )
    _audit_created(given, locked, actor)
    _timeline(
        locked,
        actor,
        CaseEvent.Action.ASSISTANCE,
        what,
        {
            "step": "given",
            "given": given.pk,
            "given_on": given_on.isoformat(),
            "amount": str(value) if value is not None else None,
        },
        now,
    )
    return given


def assistance_follow_ups_due(
    user: User, on: datetime.date | None = None
) -> models.QuerySet[Assistance]:
    """Assistance plans in the user's area whose follow-up date has come (on or before `on`,
    default today) and that nothing was given for since; soonest first. Rejected and merged
    cases are left out."""
    on = on or timezone.localdate()
    given_since = AssistanceGiven.objects.filter(
        assistance=OuterRef("pk"), given_on__gte=OuterRef("follow_up_on")
    )
    return (
        Assistance.objects.filter(Scope.for_user(user).q("case__scope_code"))
        .filter(follow_up_on__lte=on)
        .exclude(case__stage__in=(Stage.REJECTED, Stage.MERGED))
        .exclude(Exists(given_since))
        .select_related("case", "case__category", "household")
        .order_by("follow_up_on", "pk")
    )
