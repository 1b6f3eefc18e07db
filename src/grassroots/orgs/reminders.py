"""Branch life reminders: before a month or a quarter ends, the secretary of an organization
that has not yet held a required kind of meeting (三会一课, 主题党日) in it is told, once.
Branch life is that of the branches (党支部, 党总支, joint and temporary branches): a party
committee (党委) holds none of these meetings and is not reminded.

A kind is due when its current period (life.requirements(): a month or a quarter) ends in
ORGS_REMINDER_DAYS days or fewer and the organization held fewer than the required times in
it. Who is told: the account of the organization's secretary (the member holding the post,
when they have an active account); when none, the village secretaries whose scope holds a unit
the organization serves; when none, the town officials whose scope holds all of its units.
Each person gets one digest for all their organizations and kinds (cases.notify.tell_people).
Nobody to tell: nothing is recorded, and the next run tries again.

A LifeReminder row per organization, kind and period makes it once only. The rows are
inserted before anyone is told, ignoring those that exist, each run's stamped with its own
`sent_at`; only the rows a run reads back with its stamp are told, in the same transaction.
Two runs at once (two workers, a worker and the command) therefore tell nobody twice: the
second one's insert waits for the first to commit and skips its rows.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.cases.notify import tell_people
from grassroots.core.scoping import ancestors

from .life import Period, periods, requirements
from .models import (
    LifeReminder,
    Meeting,
    MeetingKind,
    MemberPost,
    Organization,
    OrganizationUnit,
    Post,
    common_unit,
    units_holding,
)

logger = logging.getLogger("grassroots.orgs")

# Why a person is told about an organization: they are its secretary, or they stand in for a
# secretary without an account.
SECRETARY = "secretary"
STANDING_IN = "standing_in"


@dataclass(frozen=True)
class Due:
    """A kind of meeting an organization still lacks in a period about to end."""

    organization: Organization
    scope_code: str
    kind: str
    period: Period
    held: int
    times: int
    days_left: int

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.organization.pk, self.kind, self.period.label)

    def as_json(self) -> dict[str, Any]:
        return {
            "org": self.organization.code,
            "kind": self.kind,
            "period": self.period.label,
            "held": self.held,
            "required": self.times,
            "days_left": self.days_left,
        }


@dataclass
class Reminded:
    """What a run did: `told` the reminders sent, by username; `unserved` those nobody could
    be told (tried again next run); `notifications` the rows written (one per backend)."""

    today: datetime.date
    told: dict[str, list[Due]] = field(default_factory=dict)
    unserved: list[Due] = field(default_factory=list)
    reminders: int = 0
    notifications: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "reminders": self.reminders,
            "notifications": self.notifications,
            "told": {name: [d.as_json() for d in dues] for name, dues in self.told.items()},
            "unserved": [d.as_json() for d in self.unserved],
        }


def remind(today: datetime.date | None = None) -> Reminded:
    """Remind the secretaries of the meetings still missing in periods about to end (see the
    module's docstring); audited when anything was sent."""
    today = today or timezone.localdate()
    result = Reminded(today)
    dues = missing(today)
    if not dues:
        return result
    told = recipients(dues)
    result.unserved = [d for d in dues if d.key not in told]
    with transaction.atomic():
        claimed = claim([d for d in dues if d.key in told], timezone.now())
        people: dict[int, tuple[User, list[tuple[Due, str]]]] = {}
        for due in claimed:
            for user, why in told[due.key]:
                people.setdefault(user.pk, (user, []))[1].append((due, why))
        result.reminders = len(claimed)
        result.notifications = tell_people(
            {pk: message(items) for pk, (_user, items) in people.items()}
        )
        result.told = {
            user.get_username(): [d for d, _ in items] for user, items in people.values()
        }
        if claimed:
            _audit(result, claimed)
    if result.unserved:
        codes = sorted({d.organization.code for d in result.unserved})
        logger.warning("branch life reminders: nobody to tell for %s", ", ".join(codes))
    return result


def due_periods(today: datetime.date) -> dict[str, tuple[Period, int]]:
    """(current period, times) of the kinds whose current period ends in ORGS_REMINDER_DAYS
    days or fewer."""
    found = {}
    for kind, (period, times) in requirements().items():
        # The first period ending on or after today is the one holding today.
        current = periods(period, today, today + datetime.timedelta(days=92))[0]
        if (current.end - today).days <= settings.ORGS_REMINDER_DAYS:
            found[str(kind)] = (current, times)
    return found


def missing(today: datetime.date) -> list[Due]:
    """The kinds each organization still lacks in its due periods, not yet reminded."""
    due = due_periods(today)
    if not due:
        return []
    held: dict[tuple[int, str], int] = {}
    counted = Q(pk__in=[])
    for kind, (p, _times) in due.items():
        counted |= Q(kind=kind, held_on__gte=p.start, held_on__lte=p.end)
    for org_id, kind, n in (
        Meeting.objects.filter(counted)
        .order_by()
        .values_list("organization_id", "kind")
        .annotate(n=Count("id"))
    ):
        held[(org_id, kind)] = n
    reminded = set(
        LifeReminder.objects.filter(period__in={p.label for p, _ in due.values()}).values_list(
            "organization_id", "kind", "period"
        )
    )
    codes = served_codes()
    found = []
    orgs = Organization.objects.exclude(kind=Organization.Kind.COMMITTEE)
    for org in orgs.only("pk", "code", "name"):
        for kind, (p, times) in due.items():
            n = held.get((org.pk, kind), 0)
            if n < times and (org.pk, kind, p.label) not in reminded:
                scope = common_unit(codes.get(org.pk, []))
                found.append(Due(org, scope, kind, p, n, times, (p.end - today).days))
    return found


def served_codes(org_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    rows = OrganizationUnit.objects.order_by()
    if org_ids is not None:
        rows = rows.filter(organization_id__in=list(org_ids))
    codes: dict[int, list[str]] = defaultdict(list)
    for org_id, code in rows.values_list("organization_id", "unit_code"):
        codes[org_id].append(code)
    return codes


def recipients(dues: list[Due]) -> dict[tuple[int, str, str], list[tuple[User, str]]]:
    """Who is told of each due kind (by Due.key), and why (SECRETARY or STANDING_IN)."""
    org_ids = {d.organization.pk for d in dues}
    by_org: dict[int, list[tuple[User, str]]] = defaultdict(list)
    for post in (
        MemberPost.objects.filter(
            organization_id__in=org_ids,
            post=Post.SECRETARY,
            ended_on__isnull=True,
            member__user__is_active=True,
        )
        .select_related("member__user")
        .order_by("pk")
    ):
        user = post.member.user
        if user is not None and all(u.pk != user.pk for u, _ in by_org[post.organization_id]):
            by_org[post.organization_id].append((user, SECRETARY))
    orphans = served_codes(org_ids - set(by_org))
    for org_id, users in standing_in(orphans).items():
        by_org[org_id] = [(user, STANDING_IN) for user in users]
    return {d.key: by_org[d.organization.pk] for d in dues if by_org.get(d.organization.pk)}


def standing_in(codes: dict[int, list[str]]) -> dict[int, list[User]]:
    """For organizations without a secretary's account (their units' codes): the village
    secretaries whose scope holds one of their units, else the town officials whose scope
    holds all of them."""
    every = sorted({c for unit_codes in codes.values() for c in unit_codes})
    users = list(
        User.objects.filter(
            is_active=True,
            role__in=[Role.VILLAGE_SECRETARY, Role.TOWN_OFFICIAL],
            scope_code__in=sorted(units_holding(every)),
        ).order_by("username")
    )
    found: dict[int, list[User]] = {}
    for org_id, unit_codes in codes.items():
        holding = [set(ancestors(code)) for code in unit_codes]
        village = [
            u
            for u in users
            if u.role == Role.VILLAGE_SECRETARY and any(u.scope_code in h for h in holding)
        ]
        town = [
            u
            for u in users
            if u.role == Role.TOWN_OFFICIAL and all(u.scope_code in h for h in holding)
        ]
        if village or town:
            found[org_id] = village or town
    return found


def claim(dues: list[Due], stamp: datetime.datetime) -> list[Due]:
    """Record a reminder of each of `dues`; the ones this call recorded (not those another run
    did before or meanwhile), which it alone may tell. Inside the caller's transaction."""
    if not dues:
        return []
    LifeReminder.objects.bulk_create(
        [
            LifeReminder(
                organization=d.organization, kind=d.kind, period=d.period.label, sent_at=stamp
            )
            for d in dues
        ],
        ignore_conflicts=True,
    )
    mine = set(
        LifeReminder.objects.filter(
            sent_at=stamp, organization_id__in={d.organization.pk for d in dues}
        ).values_list("organization_id", "kind", "period")
    )
    return [d for d in dues if d.key in mine]


def message(items: list[tuple[Due, str]]) -> tuple[str, str, str]:
    """(subject, body, scope code) of one person's digest of `items`."""
    short = sum(d.times - d.held for d, _ in items)
    subject = ngettext(
        "Branch life: %(count)d required meeting not held yet",
        "Branch life: %(count)d required meetings not held yet",
        short,
    ) % {"count": short}
    lines = [gettext("These meetings are still missing in periods about to end:"), ""]
    rank = {kind: i for i, kind in enumerate(MeetingKind.values)}
    ordered = sorted(items, key=lambda item: (item[0].organization.code, rank[item[0].kind]))
    for due, why in ordered:
        lines.append(describe(due) + (" *" if why == STANDING_IN else ""))
    lines.append("")
    if any(why == STANDING_IN for _, why in items):
        lines.append(
            gettext(
                "* No secretary of this organization has an account: you are told in their place."
            )
        )
    lines.append(gettext("Record each meeting in Grassroots once it is held."))
    scope = common_unit([d.scope_code for d, _ in items if d.scope_code])
    return subject, "\n".join(lines), scope


def describe(due: Due) -> str:
    """One line of a digest: the organization, the kind, the period, held of required and the
    days left."""
    left = (
        gettext("ends today")
        if due.days_left == 0
        else ngettext("%(count)d day left", "%(count)d days left", due.days_left)
        % {"count": due.days_left}
    )
    return gettext(
        "%(org)s: %(kind)s, %(period)s: %(held)d held of %(times)d required, %(left)s"
    ) % {
        "org": due.organization.name,
        "kind": MeetingKind(due.kind).label,
        "period": due.period.label,
        "held": due.held,
        "times": due.times,
        "left": left,
    }


def _audit(result: Reminded, claimed: list[Due]) -> None:
    audit.record(
        Event.Action.CREATE,
        object_type="orgs.lifereminder",
        object_repr=gettext("Branch life reminders: %(r)d sent, %(p)d people told")
        % {"r": result.reminders, "p": len(result.told)},
        scope_code=common_unit([d.scope_code for d in claimed if d.scope_code]),
        changes={
            "reminders": result.reminders,
            "people": len(result.told),
            "notifications": result.notifications,
            "unserved": len(result.unserved),
            "today": result.today.isoformat(),
        },
        reason="branch life reminders",
    )
