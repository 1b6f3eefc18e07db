"""The workflow of a case as data: one table of steps, and the one function that takes them.

`STEPS` holds every step a case can take (GB/T 30428 practice, DOMAIN.md "Requests and cases"):
for each, the stages it is taken from and the stage each leads to, the permission it needs (the
roles holding it act at the tiers of accounts.roles.ROLE_TIERS), the tiers of the case it
applies at, the inputs it requires, the refusals beyond those (guards), what else it changes on
the case and the timeline event it writes. From this table come the step services
(`case_accept` …, re-exported by services.py), `allowed_actions()` for the pages and the API,
the API's list of steps and its per-step permission.

`take()` is one transaction: it locks the case row (PostgreSQL) and writes it back only if
nobody else wrote it meanwhile (a version check that also holds on SQLite), appends the timeline
event, writes the audit event, keeps the statistics buckets in step and tells whoever is told,
in the same transaction (delivery after commit). `run_action()` takes a step by name with the
inputs as the doors receive them (a handler's username, the main case's tracking code). Both
raise domain errors only: TransitionRefused (403: the actor may not; 409: the case does not
allow it) and CaseInputError naming the fields.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grassroots.accounts.models import User
from grassroots.accounts.roles import ROLE_PERMISSIONS, ROLE_TIERS, Role
from grassroots.audit import services as audit
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_prose, clean_text

from . import notify as tell
from . import stats
from .deadlines import extend, start_at_tier
from .errors import CaseInputError, TransitionRefused
from .intake import check_photos, normalize_tracking_code, store_photos
from .models import DONE_STAGES, OPEN_STAGES, TIER_ORDER, Case, CaseEvent, Stage, Tier, next_tier
from .timeline import actor_name, record_event
from .workdays import WorkingCalendar

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

REOPEN_DAYS = 7
MAX_DEFER_DAYS = 30
ALL_TIERS = frozenset(TIER_ORDER)


@dataclass
class Taking:
    """One step being taken: who, when, and its inputs once checked."""

    actor: User | None
    now: datetime.datetime = field(default_factory=timezone.now)
    note: str = ""
    reason: str = ""
    assignee: User | None = None
    days: int = 0
    main: Case | None = None
    rating: int = 0
    calendar: WorkingCalendar | None = None
    # Escalation: the tier the case left and who held it there (told they lost it).
    left_tier: str = ""
    holder: User | None = None


# A refusal beyond stage, role and tier: the message, or None when the step may go on.
Guard = Callable[[Case, "User | None", datetime.datetime], "str | None"]


@dataclass(frozen=True)
class Step:
    name: str
    # The timeline event it writes.
    event: str
    # How the step reads in a refusal: "A case that is reported cannot be <done>".
    done: Promise
    # The actor's permission; the API refuses a caller without it first (403).
    perm: str
    # The stages it is taken from, each with the stage it leads to.
    moves: Mapping[str, str]
    # The inputs it requires: note, why (a reason in words), reject_reason, assignee, days,
    # main, rating. `why_missing` says what a missing reason in words is.
    needs: tuple[str, ...] = ()
    why_missing: Promise | None = None
    # The reporter (no account) may take it too, with the tracking code and phone.
    reporter: bool = False
    # The tiers the case may be at, and what is said at another.
    tiers: frozenset[str] = ALL_TIERS
    tier_refused: Promise | None = None
    guards: tuple[Guard, ...] = ()
    # What else it changes on the case (the stage comes from `moves`).
    change: Callable[[Case, Taking], None] | None = None
    # What its timeline event records beside the note.
    data: Callable[[Taking], dict[str, Any]] | None = None
    # Written after the case, in the same transaction: another case's event, who is told.
    after: Callable[[Case, Taking], None] | None = None
    # Offered by allowed_actions(); a note can be added at any stage, the pages offer it apart.
    listed: bool = True


# --- Who may act where ---------------------------------------------------------------------


def may_act_at(user: User, case: Case) -> bool:
    """Whether `user` works at the case's current tier over its territory."""
    if not user.is_active:
        return False
    if not Scope.for_user(user).contains(case.scope_code):
        return False
    if user.is_superuser:
        return True
    if case.tier not in ROLE_TIERS.get(user.role, frozenset()):
        return False
    if user.role == Role.DEPARTMENT_HANDLER:
        return bool(user.department) and user.department == case.category.department
    return True


def check_handler(c: Case, actor: User | None) -> None:
    """TransitionRefused unless the case is unassigned, the actor's, or the actor dispatches."""
    message = _handler_guard(c, actor, timezone.now())
    if message:
        raise TransitionRefused(message)


def roles_allowed(name: str) -> dict[str, frozenset[str]]:
    """The roles whose permissions include step `name`, with the tiers each acts at."""
    perm = STEPS[name].perm
    return {
        role: ROLE_TIERS.get(role, frozenset())
        for role, perms in ROLE_PERMISSIONS.items()
        if perm in perms
    }


def reporter_may_rate(case: Case) -> bool:
    """Whether the reporter may rate `case` now: a closed case, or a merged one (their own
    report, rated on its own row) once the case it was joined with is closed, once."""
    if case.stage == Stage.CLOSED:
        return True
    if case.stage != Stage.MERGED or case.rating is not None or case.merged_into_id is None:
        return False
    main_stage = Case.objects.filter(pk=case.merged_into_id).values_list("stage", flat=True)
    return main_stage.first() in DONE_STAGES


# --- Guards ----------------------------------------------------------------------------------


def _handler_guard(c: Case, actor: User | None, now: datetime.datetime) -> str | None:
    if (
        actor is not None
        and c.assignee_id not in (None, actor.pk)
        and not actor.has_perm("cases.dispatch_case")
    ):
        return _("This case is assigned to %(name)s") % {"name": actor_name(c.assignee, "")}
    return None


def _four_eyes(c: Case, actor: User | None, now: datetime.datetime) -> str | None:
    if actor is not None and c.assignee_id == actor.pk:
        return _("You handled this case; someone else must check it")
    return None


def _merged_rating(c: Case, actor: User | None, now: datetime.datetime) -> str | None:
    if c.stage == Stage.MERGED and not reporter_may_rate(c):
        return _("A merged request can be rated once, after the request it joined is closed")
    return None


def _reopen_window(c: Case, actor: User | None, now: datetime.datetime) -> str | None:
    if c.closed_at is None or now - c.closed_at > datetime.timedelta(days=REOPEN_DAYS):
        return _("A result can be rejected only within %(n)d days of closing") % {"n": REOPEN_DAYS}
    return None


# --- Changes ---------------------------------------------------------------------------------


def _accumulate_hours(case: Case, now: datetime.datetime) -> None:
    """Add the time since the case came to its tier (or back to work) to that tier's hours."""
    spent = max((now - case.tier_started_at).total_seconds() / 3600, 0.0)
    hours = f"hours_{case.tier}"
    setattr(case, hours, round(getattr(case, hours) + spent, 3))
    case.tier_started_at = now


def _reject(c: Case, t: Taking) -> None:
    c.reject_reason = t.reason
    c.closed_at = t.now


def _dispatch(c: Case, t: Taking) -> None:
    assignee = t.assignee
    assert assignee is not None
    if not assignee.has_perm("cases.handle_case") or not may_act_at(assignee, c):
        raise TransitionRefused(
            _("%(name)s does not work on cases at this tier in this area")
            % {"name": actor_name(assignee, "")}
        )
    c.assignee = assignee


def _start(c: Case, t: Taking) -> None:
    if c.assignee_id is None:
        c.assignee = t.actor


def _handle(c: Case, t: Taking) -> None:
    _accumulate_hours(c, t.now)
    c.handled_at = t.now
    c.handled_tier = c.tier
    if c.assignee_id is None:
        c.assignee = t.actor


def _rework(c: Case, t: Taking) -> None:
    c.reworks += 1
    c.handled_at = None
    c.handled_tier = ""
    c.closed_at = None
    c.closed_on_time = None
    c.tier_started_at = t.now


def _close(c: Case, t: Taking) -> None:
    c.closed_at = t.now
    # On time: handled by the case's due date, which never passed while it was open.
    c.closed_on_time = (not c.missed_deadline) and (c.handled_at or t.now) <= c.due_at


def _escalate(c: Case, t: Taking) -> None:
    """One tier up with that tier's own time limit; the case's due date stays."""
    up = next_tier(c.tier)
    assert up is not None  # the table's tiers leave the county tier out
    _accumulate_hours(c, t.now)
    t.left_tier, t.holder = c.tier, c.assignee
    start_at_tier(c, up, t.now, t.calendar or WorkingCalendar())
    c.escalations += 1
    c.assignee = None


def _defer(c: Case, t: Taking) -> None:
    extend(c, t.days, t.now, t.calendar or WorkingCalendar())
    c.deferred = True
    c.overdue_at = None


def _merge(c: Case, t: Taking) -> None:
    c.merged_into = t.main
    c.reject_reason = Case.RejectReason.DUPLICATE
    c.closed_at = t.now


def _rate(c: Case, t: Taking) -> None:
    c.rating = t.rating
    c.rating_comment = t.note
    c.rated_at = t.now


def _reopen(c: Case, t: Taking) -> None:
    _rework(c, t)
    c.rating = None
    c.rating_comment = ""
    c.rated_at = None


def _merged_in(c: Case, t: Taking) -> None:
    assert t.main is not None
    record_event(
        t.main,
        t.actor,
        CaseEvent.Action.MERGED_IN,
        note=t.note,
        data={"duplicate": c.tracking_code},
    )


# --- The table -------------------------------------------------------------------------------

_A = CaseEvent.Action
_WORKING = (Stage.ACCEPTED, Stage.DISPATCHED, Stage.IN_PROGRESS)
_STAYS_WORKING: dict[str, str] = {s: s for s in (Stage.REPORTED, *_WORKING)}
# Escalated work goes back to the new tier's queue: accepted, to be dispatched there.
_BACK_TO_QUEUE: dict[str, str] = {
    Stage.REPORTED: Stage.REPORTED,
    **dict.fromkeys(_WORKING, Stage.ACCEPTED),
}

_STEPS = [
    Step(
        "accept",
        _A.ACCEPT,
        gettext_lazy("accepted"),
        "cases.accept_case",
        {Stage.REPORTED: Stage.ACCEPTED},
    ),
    Step(
        "reject",
        _A.REJECT,
        gettext_lazy("rejected"),
        "cases.accept_case",
        {Stage.REPORTED: Stage.REJECTED},
        needs=("reject_reason",),
        change=_reject,
        data=lambda t: {"reason": t.reason},
        after=lambda c, t: tell.case_rejected(c, t.reason, t.note),
    ),
    Step(
        "dispatch",
        _A.DISPATCH,
        gettext_lazy("dispatched"),
        "cases.dispatch_case",
        dict.fromkeys(_WORKING, Stage.DISPATCHED),
        needs=("assignee",),
        change=_dispatch,
        data=lambda t: {"assignee": t.assignee.get_username() if t.assignee else ""},
    ),
    Step(
        "start",
        _A.START,
        gettext_lazy("started"),
        "cases.handle_case",
        dict.fromkeys((Stage.ACCEPTED, Stage.DISPATCHED), Stage.IN_PROGRESS),
        guards=(_handler_guard,),
        change=_start,
    ),
    Step(
        "progress",
        _A.PROGRESS,
        gettext_lazy("given progress"),
        "cases.handle_case",
        {Stage.IN_PROGRESS: Stage.IN_PROGRESS},
        needs=("note",),
        guards=(_handler_guard,),
    ),
    Step(
        "handle",
        _A.HANDLE,
        gettext_lazy("marked handled"),
        "cases.handle_case",
        {Stage.IN_PROGRESS: Stage.HANDLED},
        needs=("note",),
        guards=(_handler_guard,),
        change=_handle,
    ),
    Step(
        "verify",
        _A.VERIFY,
        gettext_lazy("verified"),
        "cases.verify_case",
        {Stage.HANDLED: Stage.VERIFIED},
        guards=(_four_eyes,),
    ),
    Step(
        "send_back",
        _A.SEND_BACK,
        gettext_lazy("sent back"),
        "cases.verify_case",
        {Stage.HANDLED: Stage.IN_PROGRESS},
        needs=("note",),
        guards=(_four_eyes,),
        change=_rework,
    ),
    Step(
        "close",
        _A.CLOSE,
        gettext_lazy("closed"),
        "cases.close_case",
        {Stage.VERIFIED: Stage.CLOSED},
        change=_close,
        after=lambda c, t: tell.case_closed(c),
    ),
    Step(
        "escalate",
        _A.ESCALATE,
        gettext_lazy("escalated"),
        "cases.escalate_case",
        _BACK_TO_QUEUE,
        needs=("why",),
        why_missing=gettext_lazy("Give the reason for escalating"),
        tiers=ALL_TIERS - {Tier.COUNTY},
        tier_refused=gettext_lazy("The case is already at the county tier"),
        change=_escalate,
        after=lambda c, t: tell.case_escalated(
            c, from_tier=t.left_tier, holder=t.holder, actor=t.actor
        ),
    ),
    Step(
        "defer",
        _A.DEFER,
        gettext_lazy("extended"),
        "cases.defer_case",
        _STAYS_WORKING,
        needs=("days", "why"),
        why_missing=gettext_lazy("Give the reason for the extension"),
        change=_defer,
        data=lambda t: {"days": t.days},
    ),
    Step(
        "merge",
        _A.MERGE,
        gettext_lazy("merged"),
        "cases.merge_case",
        dict.fromkeys((Stage.REPORTED, Stage.ACCEPTED), Stage.MERGED),
        needs=("main",),
        change=_merge,
        data=lambda t: {"main": t.main.tracking_code if t.main else ""},
        after=_merged_in,
    ),
    Step(
        "rate",
        _A.RATE,
        gettext_lazy("rated"),
        "cases.close_case",
        # A merged request is rated on its own row, once the case it joined is closed.
        {Stage.CLOSED: Stage.RATED, Stage.MERGED: Stage.MERGED},
        needs=("rating",),
        reporter=True,
        guards=(_merged_rating,),
        change=_rate,
        data=lambda t: {"rating": t.rating},
    ),
    Step(
        "reopen",
        _A.REOPEN,
        gettext_lazy("reopened"),
        "cases.close_case",
        dict.fromkeys(DONE_STAGES, Stage.IN_PROGRESS),
        needs=("why",),
        why_missing=gettext_lazy("Say what is still wrong"),
        reporter=True,
        guards=(_reopen_window,),
        change=_reopen,
        after=lambda c, t: tell.case_reopened(c),
    ),
    Step(
        "note",
        _A.NOTE,
        gettext_lazy("annotated"),
        "cases.handle_case",
        {s: s for s in Stage.values},
        needs=("note",),
        listed=False,
    ),
]
STEPS: dict[str, Step] = {step.name: step for step in _STEPS}


# --- Taking a step ---------------------------------------------------------------------------


def _refuse_stage(case: Case, step: Step) -> TransitionRefused:
    return TransitionRefused(
        _("A case that is %(stage)s cannot be %(what)s")
        % {"stage": Stage(case.stage).label.lower(), "what": step.done}
    )


def refusal(
    step: Step, case: Case, actor: User | None, now: datetime.datetime
) -> TransitionRefused | None:
    """Why `actor` may not take `step` on `case` now, whatever the inputs; None if they may."""
    if case.stage not in step.moves:
        return _refuse_stage(case, step)
    if actor is None:
        if not step.reporter:
            return TransitionRefused(
                _("Only staff may do this: a case %(what)s") % {"what": step.done}, 403
            )
    elif not Scope.for_user(actor).contains(case.scope_code):
        return TransitionRefused(_("This case lies outside your area"), 403)
    elif not actor.has_perm(step.perm):
        return TransitionRefused(
            _("Your role may not do this: a case %(what)s") % {"what": step.done}, 403
        )
    elif not may_act_at(actor, case):
        return TransitionRefused(
            _("This case is at the %(tier)s tier, where you do not act")
            % {"tier": Tier(case.tier).label},
            403,
        )
    if case.tier not in step.tiers:
        return TransitionRefused(str(step.tier_refused))
    for guard in step.guards:
        message = guard(case, actor, now)
        if message:
            return TransitionRefused(message)
    return None


def allowed_actions(case: Case, user: User, now: datetime.datetime | None = None) -> list[str]:
    """The steps `user` may take on `case` now, in the table's order (for pages and the API)."""
    now = now or timezone.now()
    return [step.name for step in _STEPS if step.listed and refusal(step, case, user, now) is None]


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _inputs(step: Step, case: Case | int, t: Taking, **given: Any) -> None:
    """Check the step's inputs before the case is locked, in the table's order."""
    for need in step.needs:
        if need == "reject_reason":
            if given["reason"] not in Case.RejectReason.values:
                raise TransitionRefused(
                    _("Give the reason for rejecting: invalid, duplicate or out of scope")
                )
            t.reason = given["reason"]
        elif need == "why":
            if len(clean_text(given["reason"])) < 2:
                raise TransitionRefused(str(step.why_missing))
            t.note = clean_prose(given["reason"])[:4000]
        elif need == "days":
            if not _whole(given["days"], 1, MAX_DEFER_DAYS):
                raise TransitionRefused(
                    _("days must be a whole number from 1 to %(n)d") % {"n": MAX_DEFER_DAYS}
                )
            t.days = given["days"]
        elif need == "rating":
            if not _whole(given["rating"], 1, 5):
                raise TransitionRefused(_("rating must be a whole number from 1 to 5"))
            t.rating = given["rating"]
        elif need == "assignee":
            if given["assignee"] is None:
                raise CaseInputError({"assignee": _("no such active user")})
            t.assignee = given["assignee"]
        elif need == "main":
            t.main = _main_case(case, given["main"], t.actor)
    if step.name == "rate":
        t.note = clean_prose(given["comment"] if given["comment"] is not None else t.note)[:1000]
    elif "why" not in step.needs:
        t.note = clean_prose(t.note)[:4000]
    if "note" in step.needs and len(t.note) < 2:
        raise TransitionRefused(_("Add a note saying what was done or why"))


def _main_case(case: Case | int, main: Case | int, actor: User | None) -> Case:
    main_pk = main.pk if isinstance(main, Case) else main
    case_pk = case.pk if isinstance(case, Case) else case
    if main_pk == case_pk:
        raise TransitionRefused(_("A case cannot be merged into itself"))
    found = Case.objects.visible_to(actor).filter(pk=main_pk).first()
    if found is None:
        raise TransitionRefused(_("The main case lies outside your area"))
    if found.stage == Stage.MERGED:
        raise TransitionRefused(_("The main case was itself merged into another"))
    return found


class _Locked:
    """Loads and locks a case, then writes it back with the version check and the records."""

    def __init__(self, case: Case | int, expected_version: int | None) -> None:
        pk = case.pk if isinstance(case, Case) else case
        self.case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("category", "assignee")
            .get(pk=pk)
        )
        if expected_version is not None and self.case.version != expected_version:
            raise TransitionRefused(
                _("Someone else changed this case meanwhile; reload it and try again")
            )
        self.version = self.case.version
        self.before = audit.snapshot(self.case)
        self.stats_before = stats.contribution(self.case)
        self.stage = self.case.stage
        self.tier = self.case.tier

    def save(self, now: datetime.datetime) -> Case:
        case = self.case
        case.is_open = case.stage in OPEN_STAGES
        case.updated_at = now
        values = {
            f.attname: getattr(case, f.attname)
            for f in Case._meta.concrete_fields
            if not f.primary_key and f.attname != "version"
        }
        # get_db_prep_save runs through update(): encrypted fields stay encrypted.
        written = Case.objects.filter(pk=case.pk, version=self.version).update(
            **values, version=self.version + 1
        )
        if written != 1:
            raise TransitionRefused(
                _("Someone else changed this case meanwhile; reload it and try again")
            )
        case.version = self.version + 1
        audit.updated(case, self.before)
        stats.apply_delta(case, self.stats_before, stats.contribution(case))
        return case


def take(
    name: str,
    case: Case | int,
    *,
    actor: User | None = None,
    note: str = "",
    reason: str = "",
    assignee: User | None = None,
    days: object = None,
    main: Case | int | None = None,
    rating: object = None,
    comment: str | None = None,
    expected_version: int | None = None,
    photos: Sequence[UploadedFile] = (),
    now: datetime.datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> Case:
    """Take step `name` on `case` (see the module's docstring); returns the case as written."""
    step = STEPS[name]
    t = Taking(actor=actor, note=note, calendar=calendar)
    _inputs(
        step,
        case,
        t,
        reason=reason,
        assignee=assignee,
        days=days,
        main=main,
        rating=rating,
        comment=comment,
    )
    checked = check_photos(photos) if photos else []
    with transaction.atomic():
        locked = _Locked(case, expected_version)
        c = locked.case
        # After the lock: steps that waited for one another are stamped in the order they ran.
        t.now = now or timezone.now()
        refused = refusal(step, c, actor, t.now)
        if refused is not None:
            raise refused
        if step.change is not None:
            step.change(c, t)
        c.stage = step.moves[locked.stage]
        saved = locked.save(t.now)
        moved, climbed = locked.stage != saved.stage, locked.tier != saved.tier
        event = record_event(
            saved,
            actor,
            step.event,
            note=t.note,
            from_stage=locked.stage if moved else "",
            to_stage=saved.stage if moved else "",
            from_tier=locked.tier if climbed else "",
            to_tier=saved.tier if climbed else "",
            data=step.data(t) if step.data is not None else None,
            at=t.now,
        )
        store_photos(saved, event, checked, ())
        if step.after is not None:
            step.after(saved, t)
    return saved


def _service(name: str) -> Callable[..., Case]:
    def service(case: Case | int, **kwargs: Any) -> Case:
        return take(name, case, **kwargs)

    service.__name__ = service.__qualname__ = f"case_{name}"
    service.__doc__ = f"Take the step {name!r} (workflow.STEPS) on a case; see take()."
    return service


# The step services, one per row of the table.
case_accept = _service("accept")
case_reject = _service("reject")
case_dispatch = _service("dispatch")
case_start = _service("start")
case_progress = _service("progress")
case_handle = _service("handle")
case_verify = _service("verify")
case_send_back = _service("send_back")
case_close = _service("close")
case_escalate = _service("escalate")
case_defer = _service("defer")
case_merge = _service("merge")
case_rate = _service("rate")
case_reopen = _service("reopen")
case_note = _service("note")


# --- A step by name, as the doors take it --------------------------------------------------


def run_action(
    user: User,
    case: Case,
    step: str,
    data: Mapping[str, Any],
    photos: Sequence[UploadedFile] = (),
) -> Case:
    """Step `step` on `case` by `user`, with the inputs as a door receives them: `note`,
    `reason`, `assignee` (a username), `days`, `main` (a tracking code), `rating`,
    `expected_version`. TransitionRefused when refused, CaseInputError naming a missing or
    unknown input."""
    if step not in STEPS:
        raise CaseInputError({"action": _("Unknown step %(step)s") % {"step": step}})
    needs = STEPS[step].needs
    note = data.get("note") or ""
    kwargs: dict[str, Any] = {
        "actor": user,
        "note": note,
        "reason": data.get("reason") or ("" if "reject_reason" in needs else note),
        "expected_version": data.get("expected_version"),
        "photos": photos,
    }
    if "assignee" in needs:
        username = data.get("assignee") or ""
        kwargs["assignee"] = User.objects.filter(username=username, is_active=True).first()
        if kwargs["assignee"] is None:
            raise CaseInputError({"assignee": _("no such active user")})
    if "days" in needs:
        if data.get("days") is None:
            raise CaseInputError({"days": _("give the working days to add")})
        kwargs["days"] = data["days"]
    if "main" in needs:
        code = normalize_tracking_code(data.get("main") or "")
        kwargs["main"] = Case.objects.visible_to(user).filter(tracking_code=code).first()
        if kwargs["main"] is None:
            raise CaseInputError({"main": _("no such case in your scope")})
    if "rating" in needs:
        if data.get("rating") is None:
            raise CaseInputError({"rating": _("give a rating from 1 to 5")})
        kwargs["rating"] = data["rating"]
        kwargs["comment"] = note
    return take(step, case, **kwargs)
