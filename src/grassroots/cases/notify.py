"""Telling people about cases: who is told, one digest per person, delivery with retries.

`tell_tier` tells the people who act at a tier over each case's territory, `tell_reporter`
tells the person who reported a case, `tell_people` tells users something that is not about a
case (the branch life reminders of orgs), and the functions under "What is said about a case"
word what intake, the workflow steps and the sweep tell; `deliver_due` sends what is due (the
worker runs it, see tasks.py), `notification_retry` puts a failed message back in the queue.

Who is told at a tier: among the active users whose role acts at that tier (ROLE_TIERS) and
whose scope holds the case, the nearest ones: the grid's workers for a grid-tier case, the
village's secretary at village tier, the town's officials and dispatchers at town tier. The
people above them see the case in their lists but are not messaged for every case; they are
messaged when nobody nearer serves (a grid without a worker tells its village). When a case is
escalated, whoever loses it is told as well (`tell_users`): its assignee, or the people of the
tier it left when nobody there held it. At county tier
the handlers of the category's department are told, with the dispatchers and administrators of
the county (never those of a town, although their role may act at county tier). When nobody at
all serves, one row without a recipient records it, with the tier's unit as its scope, so that a
dispatcher sees the queue nobody was told about.

Each person gets one message per backend whatever the number of cases: a digest listing up to
DIGEST_LINES tracking codes. The escalation sweep may hand over 50,000 cases at once: the
recipients are found with one query for the candidate users (and one for grid workers' grids),
grouped in Python, and written with one bulk INSERT.

Delivery is claimed row by row with a conditional UPDATE (as healthchecks does), so any number
of workers may run `deliver_due` at once: a claim pushes `next_attempt_at` past a lease, and a
worker that dies mid-send leaves the row to be tried again once the lease runs out. Failed sends
wait NOTIFICATION_RETRY_SECONDS, doubled after each failure; after NOTIFICATION_MAX_ATTEMPTS
the row is given up (status gave_up) and stays visible to dispatchers, who may retry it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from grassroots.accounts.models import GridAssignment, User
from grassroots.accounts.roles import ROLE_TIERS, Role
from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.core.bulk import insert_raw
from grassroots.core.scoping import Scope, ancestors, common_ancestor
from grassroots.territory.models import Grid, Unit

from . import notify_backends
from .models import Case, Category, Notification, Tier
from .notify_backends import DeliveryError
from .queue import DELIVER_NOTIFICATIONS, enqueue_on_commit

if TYPE_CHECKING:
    from .notify_backends import Backend

logger = logging.getLogger("grassroots.notify")

Status = Notification.Status

# Code length of the territory node that serves each tier.
TIER_LEVEL = {Tier.GRID: 15, Tier.VILLAGE: 12, Tier.TOWN: 9, Tier.COUNTY: 6}
# Tracking codes listed in one message; more are summed up as "and N more".
DIGEST_LINES = 50
# How long a claimed row stays out of other workers' reach while it is being sent.
CLAIM_LEASE = timedelta(minutes=10)
# Longest wait between two tries.
MAX_BACKOFF = timedelta(hours=6)
# Consecutive outages (refused, timed out) of one backend after which the rest of a batch for
# that backend waits for the next run.
OUTAGE_LIMIT = 3


class RetryRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0

    def __add__(self, other: DeliveryResult) -> DeliveryResult:
        return DeliveryResult(
            self.sent + other.sent, self.failed + other.failed, self.gave_up + other.gave_up
        )

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.gave_up


# --- Who is told ---------------------------------------------------------------------------


def roles_at(tier: str) -> list[str]:
    return sorted(role for role, tiers in ROLE_TIERS.items() if tier in tiers)


def _node(code: str, tier: str) -> str:
    """The node that serves `tier` over a case placed at `code`."""
    return code[: min(len(code), TIER_LEVEL[Tier(tier)])]


def _candidates(codes: set[str], tier: str) -> dict[str, list[User]]:
    """Users acting at `tier`, by each territory code of their scope that holds one of `codes`.

    Two queries whatever the number of cases: the users, and the grids of the grid workers.
    """
    prefixes = {p for code in codes for p in ancestors(code)}
    grid_codes = [p for p in prefixes if len(p) == 15]
    assigned = GridAssignment.objects.filter(grid__code__in=grid_codes).values("user_id")
    users = list(
        User.objects.filter(is_active=True, role__in=roles_at(tier)).filter(
            Q(scope_code__in=prefixes) | Q(role=Role.GRID_WORKER, pk__in=assigned)
        )
    )
    grids: dict[int, list[str]] = defaultdict(list)
    workers = [u.pk for u in users if u.role == Role.GRID_WORKER]
    if workers:
        for user_id, code in GridAssignment.objects.filter(user_id__in=workers).values_list(
            "user_id", "grid__code"
        ):
            grids[user_id].append(code)
    by_code: dict[str, list[User]] = defaultdict(list)
    for user in users:
        if user.role == Role.GRID_WORKER:
            user._grid_codes = sorted(grids[user.pk])  # what scope_codes() would query
        for code in user.scope_codes():
            if code in prefixes:
                by_code[code].append(user)
    return by_code


def _told_about(
    case: Case, tier: str, by_code: dict[str, list[User]], department: str
) -> list[User]:
    """The users told about `case` at `tier` (see the module's docstring)."""
    if tier != Tier.COUNTY:
        for prefix in ancestors(case.scope_code, TIER_LEVEL[Tier(tier)]):
            if by_code.get(prefix):
                return by_code[prefix]
        return []
    handlers = [
        user
        for prefix in ancestors(case.scope_code)
        for user in by_code.get(prefix, ())
        if user.role == Role.DEPARTMENT_HANDLER and department and user.department == department
    ]
    for prefix in ancestors(case.scope_code, TIER_LEVEL[Tier.COUNTY]):
        others = [u for u in by_code.get(prefix, ()) if u.role != Role.DEPARTMENT_HANDLER]
        if others:
            return handlers + others
    return handlers


# --- What they are told ---------------------------------------------------------------------


def _digest(body: str, cases: Sequence[Case]) -> str:
    if len(cases) == 1:
        return f"{body}\n\n" + gettext("Case: %(code)s") % {"code": cases[0].tracking_code}
    codes = sorted(case.tracking_code for case in cases)
    lines = [
        body,
        "",
        ngettext("%(count)d case:", "%(count)d cases:", len(codes)) % {"count": len(codes)},
        *codes[:DIGEST_LINES],
    ]
    rest = len(codes) - DIGEST_LINES
    if rest > 0:
        lines.append(ngettext("and %(count)d more", "and %(count)d more", rest) % {"count": rest})
    return "\n".join(lines)


def _node_names(codes: Iterable[str]) -> dict[str, str]:
    codes = set(codes)
    names = dict(Unit.objects.filter(code__in=codes).values_list("code", "name"))
    grids = [code for code in codes if len(code) == 15]
    if grids:
        names.update(Grid.objects.filter(code__in=grids).values_list("code", "name"))
    return names


def tell_tier(
    cases: Sequence[Case], *, tier: str, subject: str, body: str, skip: User | None = None
) -> int:
    """Tell the people acting at `tier` about `cases`: one message per person and backend
    (`skip` left out: the person whose own step the message is about).

    Returns the number of rows written. Delivery is enqueued when the transaction commits.
    """
    cases = list(cases)
    if not cases:
        return 0
    tier = Tier(tier)
    backends = notify_backends.configured()
    subject = _one_line(subject)
    departments: dict[int, str] = {}
    if tier == Tier.COUNTY:
        departments = dict(
            Category.objects.filter(pk__in={c.category_id for c in cases}).values_list(
                "pk", "department"
            )
        )
    by_code = _candidates({case.scope_code for case in cases}, tier)

    told: dict[int, tuple[User, list[Case]]] = {}
    unserved: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        users = _told_about(case, tier, by_code, departments.get(case.category_id, ""))
        if skip is not None and any(user.pk == skip.pk for user in users):
            users = [user for user in users if user.pk != skip.pk]
            if not users:
                continue  # the person who took the step is the only one who serves
        if not users:
            unserved[_node(case.scope_code, tier)].append(case)
        for user in users:
            told.setdefault(user.pk, (user, []))[1].append(case)

    rows: list[Notification] = []
    for user, theirs in told.values():
        rows += _rows_for_user(user, theirs, backends, subject, body)
    if unserved:
        names = _node_names(unserved)
        for node, theirs in unserved.items():
            rows.append(
                Notification(
                    recipient=None,
                    case=theirs[0] if len(theirs) == 1 else None,
                    scope_code=node,
                    backend="",
                    subject=subject,
                    body=_digest(body, theirs),
                    status=Status.GAVE_UP,
                    last_error=gettext(
                        "Nobody serves the %(tier)s tier of %(place)s: no one was told."
                    )
                    % {"tier": tier.label, "place": f"{names.get(node, '')} {node}".strip()},
                )
            )
    return _write_rows(rows)


def tell_users(cases_by_user: Mapping[int, Sequence[Case]], *, subject: str, body: str) -> int:
    """Tell each user (by id) about their own cases: one digest per person and backend.
    Inactive users are not told. Returns the number of rows written."""
    backends = notify_backends.configured()
    subject = _one_line(subject)
    users = User.objects.filter(is_active=True).in_bulk(list(cases_by_user))
    rows: list[Notification] = []
    for user_id, cases in cases_by_user.items():
        if user_id in users and cases:
            rows += _rows_for_user(users[user_id], list(cases), backends, subject, body)
    return _write_rows(rows)


# The columns _write_rows fills; the primary key is the database's.
_COLUMNS = (
    "case_id",
    "recipient_id",
    "scope_code",
    "backend",
    "address",
    "subject",
    "body",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
    "sent_at",
)


def _write_rows(rows: list[Notification]) -> int:
    """Insert the rows with one executemany: a sweep writes thousands, and bulk_create compiles
    every value of every row (0.3 ms a row, most of the sweep's time for its notifications)."""
    if not rows:
        return 0
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    insert_raw(
        Notification._meta.db_table,
        _COLUMNS,
        [
            (
                row.case_id,
                row.recipient_id,
                row.scope_code,
                row.backend,
                row.address,
                row.subject,
                row.body,
                row.status,
                row.attempts,
                row.last_error,
                at,
                at,
                None,
            )
            for row in rows
        ],
    )
    if any(row.status == Status.PENDING for row in rows):
        _deliver_on_commit()
    return len(rows)


def tell_people(messages: Mapping[int, tuple[str, str, str]]) -> int:
    """Tell each user (by id) something that is not about a case: (subject, body, scope code)
    per user, one row per backend and none about a case. The scope code is the territory the
    message is about, and decides who sees the row. Inactive users are not told.

    Returns the number of rows written. Delivery is enqueued when the transaction commits.
    """
    backends = notify_backends.configured()
    users = User.objects.filter(is_active=True).in_bulk(list(messages))
    rows: list[Notification] = []
    for user_id, (subject, body, scope_code) in messages.items():
        if user_id in users:
            rows += _rows_to(
                users[user_id],
                backends,
                {
                    "case": None,
                    "scope_code": scope_code,
                    "subject": _one_line(subject),
                    "body": body,
                },
            )
    return _write_rows(rows)


def _rows_for_user(
    user: User, cases: list[Case], backends: list[Backend], subject: str, body: str
) -> list[Notification]:
    common = {
        "case": cases[0] if len(cases) == 1 else None,
        "scope_code": common_ancestor(case.scope_code for case in cases),
        "subject": subject,
        "body": _digest(body, cases),
    }
    return _rows_to(user, backends, common)


def _rows_to(user: User, backends: list[Backend], message: dict[str, Any]) -> list[Notification]:
    """One row per backend that reaches `user`; one given-up row when none does."""
    common = {"recipient": user, **message}
    rows = []
    missing = []
    for backend in backends:
        address = backend.user_address(user)
        if address:
            rows.append(
                Notification(backend=backend.name, address=backend.shown(address), **common)
            )
        else:
            missing.append(backend.missing())
    if not rows:
        # Nobody can be reached this way: kept as a failure a dispatcher sees.
        rows.append(
            Notification(
                backend=backends[0].name,
                status=Status.GAVE_UP,
                last_error=gettext("%(user)s cannot be reached: %(why)s.")
                % {"user": user.get_username(), "why": "; ".join(missing)},
                **common,
            )
        )
    return rows


# Preferred channel to a reporter, when several backends wrote a row.
_REPORTER_PREFERENCE = ("webhook", "email", "console")


def tell_reporter(case: Case, *, subject: str, body: str) -> Notification | None:
    """Tell the reporter of `case`: by SMS (webhook) to their phone, by email, and on the console.

    Returns the row of the most direct channel; None if the reporter left no phone or email
    (or no configured backend reaches what they left).
    """
    if not case.reporter_phone and not case.reporter_email:
        return None
    rows = []
    for backend in notify_backends.configured():
        address = backend.reporter_address(case)
        if address:
            rows.append(
                Notification(
                    case=case,
                    recipient=None,
                    scope_code=case.scope_code,
                    backend=backend.name,
                    address=backend.shown(address),
                    subject=_one_line(subject),
                    body=f"{body}\n\n" + gettext("Case: %(code)s") % {"code": case.tracking_code},
                )
            )
    if not rows:
        return None
    Notification.objects.bulk_create(rows)
    _deliver_on_commit()
    rank = {name: i for i, name in enumerate(_REPORTER_PREFERENCE)}
    return min(rows, key=lambda row: rank.get(row.backend, len(rank)))


def _one_line(subject: str) -> str:
    # A line break in a subject is refused by email (header injection) and breaks SMS.
    return " ".join(subject.split())[:200]


def _deliver_on_commit() -> None:
    # By name (queue.py): tasks.py imports this module to run the delivery.
    enqueue_on_commit(DELIVER_NOTIFICATIONS)


# --- What is said about a case -------------------------------------------------------------
# The services call these after their writes, in the same transaction; the words live here.
# A message to a tier names no reporter and quotes no description: it may go out by SMS.


def _to_tier(cases: Sequence[Case], tier: str, subject: str) -> None:
    body = gettext("Open the cases in Grassroots to see them and act.")
    tell_tier(cases, tier=tier, subject=subject, body=body)


def case_reported(case: Case) -> None:
    _to_tier([case], case.tier, gettext("New case %(code)s") % {"code": case.tracking_code})


def case_escalated(case: Case, *, from_tier: str, holder: User | None, actor: User | None) -> None:
    """The tier above is told the case is theirs; the handler who loses it is told too: its
    assignee, or the people of the tier it left when nobody held it (never the person who
    escalated it)."""
    _to_tier(
        [case], case.tier, gettext("Case %(code)s escalated to you") % {"code": case.tracking_code}
    )
    subject = gettext("Case %(code)s escalated to the %(tier)s tier: no longer yours") % {
        "code": case.tracking_code,
        "tier": Tier(case.tier).label,
    }
    if holder is not None:
        if actor is None or holder.pk != actor.pk:
            tell_users({holder.pk: [case]}, subject=subject, body=_left_body())
    else:
        tell_tier([case], tier=from_tier, subject=subject, body=_left_body(), skip=actor)


def _left_body() -> str:
    return gettext("The tier above handles it now; its timeline says why.")


def cases_left(
    by_tier: Mapping[str, Sequence[Case]], by_holder: Mapping[int, Sequence[Case]]
) -> None:
    """The sweep's word to the handlers who lost cases to the tier above: each assignee about
    the cases they held, the people of a tier about the cases nobody there held."""
    subject = gettext("Escalated away from you: the tier's deadline passed")
    for tier, cases in by_tier.items():
        tell_tier(cases, tier=tier, subject=subject, body=_left_body())
    if by_holder:
        tell_users(by_holder, subject=subject, body=_left_body())


def case_reopened(case: Case) -> None:
    _to_tier(
        [case],
        case.tier,
        gettext("Case %(code)s reopened by the reporter") % {"code": case.tracking_code},
    )


def cases_swept(told: Mapping[str, Sequence[Case]], escalated_to: Mapping[str, int]) -> None:
    """The sweep's digest per tier: the cases escalated to it, or overdue at the county tier."""
    for tier, cases in told.items():
        subject = (
            gettext("%(n)d cases overdue at the county tier") % {"n": len(cases)}
            if tier == Tier.COUNTY and not escalated_to.get(tier)
            else gettext("%(n)d cases escalated to you: deadline passed") % {"n": len(cases)}
        )
        _to_tier(cases, tier, subject)


def case_rejected(case: Case, reason: str, note: str) -> None:
    tell_reporter(
        case,
        subject=gettext("Your request %(code)s was not taken up") % {"code": case.tracking_code},
        body=Case.RejectReason(reason).label + (f": {note}" if note else ""),
    )


def case_closed(case: Case) -> None:
    """The reporter is told, and so are those of the duplicates merged into the case: they
    follow it, and their own tracking code opens their report."""
    for told in [case, *Case.objects.filter(merged_into=case)]:
        tell_reporter(
            told,
            subject=gettext("Your request %(code)s is closed") % {"code": told.tracking_code},
            body=gettext("Rate the result with your tracking code %(code)s and your phone number.")
            % {"code": told.tracking_code},
        )


# --- Delivery --------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try."""
    base = settings.NOTIFICATION_RETRY_SECONDS
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def due_rows(now: datetime, limit: int) -> list[Notification]:
    """Up to `limit` notifications due at `now`, longest waiting first (not yet claimed)."""
    # Served by the partial index notification_due.
    rows = Notification.objects.filter(
        status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now
    )
    return list(rows.select_related("recipient", "case").order_by("next_attempt_at", "id")[:limit])


def deliver_due(now: datetime | None = None, limit: int = 500) -> DeliveryResult:
    """Send up to `limit` due notifications; safe with any number of workers at once."""
    now = now or timezone.now()
    rows = due_rows(now, limit)
    max_attempts = settings.NOTIFICATION_MAX_ATTEMPTS
    sent = failed = gave_up = 0
    outages: dict[str, int] = defaultdict(int)
    for row in rows:
        if outages[row.backend] >= OUTAGE_LIMIT:
            continue  # left unclaimed for the next run
        attempt = row.attempts + 1
        claimed = Notification.objects.filter(
            pk=row.pk, status=row.status, attempts=row.attempts, next_attempt_at__lte=now
        ).update(attempts=attempt, next_attempt_at=now + CLAIM_LEASE)
        if not claimed:
            continue  # another worker has it, or a dispatcher changed it
        try:
            backend = notify_backends.backend(row.backend)
            backend.send(row, backend.address_of(row))
        except DeliveryError as exc:
            error, permanent = exc.message, exc.permanent
            outages[row.backend] = outages[row.backend] + 1 if exc.outage else 0
        except Exception as exc:  # a bug in a backend must not stop the other sends
            logger.exception("notification %s: unexpected error", row.pk)
            error, permanent = f"{type(exc).__name__}: {exc}", False
        else:
            outages[row.backend] = 0
            Notification.objects.filter(pk=row.pk, attempts=attempt).update(
                status=Status.SENT, sent_at=now, last_error=""
            )
            sent += 1
            continue
        if permanent or attempt >= max_attempts:
            Notification.objects.filter(pk=row.pk, attempts=attempt).update(
                status=Status.GAVE_UP, last_error=error[:2000]
            )
            gave_up += 1
            logger.warning("notification %s given up after %d tries: %s", row.pk, attempt, error)
        else:
            Notification.objects.filter(pk=row.pk, attempts=attempt).update(
                status=Status.FAILED,
                last_error=error[:2000],
                next_attempt_at=now + backoff(attempt),
            )
            failed += 1
    return DeliveryResult(sent, failed, gave_up)


def deliver_all(now: datetime | None = None, limit: int = 500) -> DeliveryResult:
    """`deliver_due` batch after batch until nothing due is left for this worker."""
    total = DeliveryResult()
    while True:
        result = deliver_due(now, limit)
        total += result
        if result.total < limit:
            return total


def notification_retry(notification: Notification, *, actor: User | None) -> Notification:
    """Put a failed (or given up) notification back in the queue with a fresh count of tries.

    Refused for a message already sent, and for a row that has nobody to send to. Audited.
    """
    if actor is not None and not (
        actor.has_perm("cases.view_notification")
        and Scope.for_user(actor).contains(notification.scope_code)
    ):
        raise PermissionDenied
    if notification.recipient_id is None and not notification.address:
        raise RetryRefused(
            gettext("Nobody to send this to: no user served the tier when it was written.")
        )
    with transaction.atomic():
        current = Notification.objects.select_for_update().filter(pk=notification.pk).first()
        if current is None or current.status == Status.SENT:
            raise RetryRefused(gettext("This notification was sent; there is nothing to retry."))
        Notification.objects.filter(pk=current.pk).update(
            status=Status.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        audit.record(
            Event.Action.UPDATE,
            object_type="cases.notification",
            object_id=current.pk,
            object_repr=str(current)[:200],
            scope_code=current.scope_code,
            changes={
                "status": [current.status, Status.PENDING],
                "attempts": [current.attempts, 0],
            },
            reason="retry",
        )
        _deliver_on_commit()
    notification.refresh_from_db()
    return notification
