"""Cases (诉求/事件): categories, cases, their timeline, kinds, notifications, statistics.

Calendar days entered by an administrator: holidays and adjusted working days (调休).

The official calendar comes from the chinese-calendar package, which knows the years the State
Council has announced. For later years (and for local exceptions) an administrator enters the
days here; see cases/workdays.py.
"""

from __future__ import annotations

import datetime
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.core.crypto import EncryptedCharField
from grassroots.core.scoping import ScopedQuerySet


class CalendarDay(models.Model):
    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday (no work)")
        WORKDAY = "workday", _("Adjusted working day (调休)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()


# --- Categories, cases and their timeline -------------------------------------------------------


class Tier(models.TextChoices):
    """The level a case is handled at; escalation moves it one step up."""

    GRID = "grid", _("Grid")
    VILLAGE = "village", _("Village/community")
    TOWN = "town", _("Town/street")
    COUNTY = "county", _("County department")


TIER_ORDER = [Tier.GRID, Tier.VILLAGE, Tier.TOWN, Tier.COUNTY]


def next_tier(tier: str) -> str | None:
    i = TIER_ORDER.index(Tier(tier))
    return TIER_ORDER[i + 1] if i + 1 < len(TIER_ORDER) else None


class Category(models.Model):
    """A kind of request, with its first tier and the time each tier has for it."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    first_tier = models.CharField(
        _("first tier"), max_length=8, choices=Tier.choices, default=Tier.GRID
    )
    # Time limits per tier: working days for normal cases, clock hours for urgent ones.
    grid_days = models.PositiveSmallIntegerField(_("grid: working days"), default=3)
    village_days = models.PositiveSmallIntegerField(_("village/community: working days"), default=5)
    town_days = models.PositiveSmallIntegerField(_("town/street: working days"), default=7)
    county_days = models.PositiveSmallIntegerField(_("county department: working days"), default=10)
    grid_hours = models.PositiveSmallIntegerField(_("grid: hours if urgent"), default=4)
    village_hours = models.PositiveSmallIntegerField(
        _("village/community: hours if urgent"), default=8
    )
    town_hours = models.PositiveSmallIntegerField(_("town/street: hours if urgent"), default=24)
    county_hours = models.PositiveSmallIntegerField(
        _("county department: hours if urgent"), default=48
    )
    department = models.CharField(
        _("responsible department at county tier"), max_length=100, blank=True
    )
    # Case kind opened by default for this category (mediation for disputes, ...).
    kind = models.CharField(_("case kind"), max_length=12, default="general")
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    grid_days__gte=1,
                    village_days__gte=1,
                    town_days__gte=1,
                    county_days__gte=1,
                    grid_hours__gte=1,
                    village_hours__gte=1,
                    town_hours__gte=1,
                    county_hours__gte=1,
                ),
                name="category_limits_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def limit(self, tier: str, *, urgent: bool) -> int:
        """Working days (or hours, when urgent) the given tier has for a case of this category."""
        return int(getattr(self, f"{tier}_{'hours' if urgent else 'days'}"))


class Stage(models.TextChoices):
    REPORTED = "reported", _("Reported")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    HANDLED = "handled", _("Handled")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")
    RATED = "rated", _("Rated")
    MERGED = "merged", _("Merged into another case")


# Stages in which a case still waits for someone (the deadline runs, the sweep looks at it).
OPEN_STAGES = frozenset(
    {
        Stage.REPORTED,
        Stage.ACCEPTED,
        Stage.DISPATCHED,
        Stage.IN_PROGRESS,
        Stage.HANDLED,
        Stage.VERIFIED,
    }
)
DONE_STAGES = frozenset({Stage.CLOSED, Stage.RATED})
# Stages in which the case is being worked on: accepted, dispatched, in progress.
WORKING_STAGES = frozenset({Stage.ACCEPTED, Stage.DISPATCHED, Stage.IN_PROGRESS})


def overdue_q(now: datetime.datetime) -> models.Q:
    """ "Overdue", the one definition for queries: the case is still open and its due date (the
    promise made to the reporter at intake) has passed. `Case.is_overdue` is the same rule for
    one case in memory; tests/cases/test_deadlines.py holds them together."""
    return models.Q(is_open=True) & past_due_q(now)


def past_due_q(now: datetime.datetime) -> models.Q:
    """The due-date half of `overdue_q`, for a query already narrowed to the open cases: there
    the partial index case_open_by_scope (scope_code, due_at WHERE is_open) covers the count,
    where naming is_open again would read every row from the table (3–5× slower on SQLite)."""
    return models.Q(due_at__lte=now)


class CaseQuerySet(ScopedQuerySet["Case"]):
    def open(self) -> CaseQuerySet:
        return self.filter(is_open=True)

    def overdue(self, now: datetime.datetime | None = None) -> CaseQuerySet:
        return self.filter(overdue_q(now or timezone.now()))


class Case(models.Model):
    class Kind(models.TextChoices):
        GENERAL = "general", _("General request")
        MEDIATION = "mediation", _("Dispute mediation")
        ASSISTANCE = "assistance", _("Hardship assistance")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Resident/enterprise portal")
        GRID_WORKER = "grid_worker", _("Grid worker report")
        HOTLINE = "hotline", _("Hotline (12345)")
        HOTLINE_IMPORT = "hotline_import", _("Hotline work order import")
        API = "api", _("JSON API")
        OPEN311 = "open311", _("Open311")
        VISIT = "visit", _("Found on a visit")

    class RejectReason(models.TextChoices):
        INVALID = "invalid", _("Invalid")
        DUPLICATE = "duplicate", _("Duplicate")
        OUT_OF_SCOPE = "out_of_scope", _("Out of scope")

    # Shown to the reporter; with their phone it opens the case on the portal.
    # Unique through a constraint, not unique=True: on PostgreSQL that would add a second,
    # pattern-matching index, which exact lookups never use and every insert pays for.
    tracking_code = models.CharField(_("tracking code"), max_length=12)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.GENERAL)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    # A hotline work order number or an Open311 client's id: re-importing the same order is
    # refused rather than duplicated.
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    reporter_name = models.CharField(_("reporter name"), max_length=50, blank=True)
    reporter_phone = EncryptedCharField(_("reporter phone"), max_length=20, blank=True)
    reporter_phone_hash = models.CharField(max_length=32, blank=True, editable=False)
    reporter_email = EncryptedCharField(_("reporter email"), max_length=254, blank=True)
    reporter_household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("reporter household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by (staff)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    # Placement: the grid holding the location, or only a unit (its dispatcher queue).
    unit = models.ForeignKey(
        "territory.Unit",
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    grid = models.ForeignKey(
        "territory.Grid",
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    scope_code = models.CharField(max_length=15, editable=False)

    stage = models.CharField(
        _("stage"), max_length=12, choices=Stage.choices, default=Stage.REPORTED
    )
    is_open = models.BooleanField(default=True, editable=False)
    reject_reason = models.CharField(
        _("reason for rejection"), max_length=12, choices=RejectReason.choices, blank=True
    )
    tier = models.CharField(_("tier"), max_length=8, choices=Tier.choices, default=Tier.GRID)
    tier_started_at = models.DateTimeField(_("at this tier since"))
    # Two deadlines (DOMAIN.md, "Two deadlines"). The case's due date: the promise made to the
    # reporter at intake (the first tier's time limit, counted from the report). Escalation never
    # moves it; a deferral (延期) does, and the case then counts as deferred. "Overdue" and
    # on-time closure are judged against it (overdue_q, Case.is_overdue).
    due_at = models.DateTimeField(_("due"))
    # The due date counted days past the official calendar data (Monday–Friday fallback).
    due_fallback = models.BooleanField(_("deadline uses the fallback calendar"), default=False)
    # The time limit of the tier the case is at, set when the case reaches that tier (intake,
    # escalation) and moved by a deferral; the sweep escalates the case when it passes.
    tier_due_at = models.DateTimeField(_("deadline at this tier"))
    tier_due_fallback = models.BooleanField(
        _("tier deadline uses the fallback calendar"), default=False
    )
    # The due date passed while the case was open (the sweep marks it once): it can no longer
    # close on time, and it counts as due in the statistics (cases/stats.py).
    missed_deadline = models.BooleanField(_("missed a deadline"), default=False)
    deferred = models.BooleanField(_("deadline extended"), default=False)
    # When the county tier's own deadline passed (nothing above to escalate to).
    overdue_at = models.DateTimeField(_("overdue since"), null=True, blank=True)
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
        db_index=False,
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_cases",
        db_index=False,
    )

    reported_at = models.DateTimeField(_("reported at"))
    # Local date of the report: the statistics buckets are keyed by it.
    reported_on = models.DateField(editable=False)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_tier = models.CharField(
        _("handled at tier"), max_length=8, choices=Tier.choices, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_on_time = models.BooleanField(_("closed on time"), null=True, blank=True)
    reworks = models.PositiveSmallIntegerField(_("rework count"), default=0)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    # Clock hours the case spent being worked on at each tier (for the per-tier handling time).
    hours_grid = models.FloatField(default=0, editable=False)
    hours_village = models.FloatField(default=0, editable=False)
    hours_town = models.FloatField(default=0, editable=False)
    hours_county = models.FloatField(default=0, editable=False)
    # Optimistic lock: every write bumps it, and a write that read an older one is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-reported_at", "-id"]
        permissions = [
            ("accept_case", "Can accept or reject a case"),
            ("dispatch_case", "Can dispatch a case to a handler"),
            ("handle_case", "Can work on a case and mark it handled"),
            ("verify_case", "Can verify a handled case or send it back"),
            ("close_case", "Can close a verified case"),
            ("escalate_case", "Can escalate a case by hand"),
            ("defer_case", "Can extend a case's deadline"),
            ("merge_case", "Can merge duplicate cases"),
            ("view_notification", "Can see notifications and failed sends"),
            ("import_hotline", "Can import hotline work orders"),
        ]
        # Few indexes on purpose: PostgreSQL writes every index of a row that an escalation
        # updates (the deadline is indexed, so no HOT update), and the sweep updates thousands.
        # The foreign keys have no single-column index of their own: the composite indexes
        # below start with category and assignee; a grid, unit, household or user is deleted
        # rarely, and the check of its cases may scan.
        indexes = [
            # One grid's (or unit's) open cases, soonest due first: the grid worker's list.
            models.Index(
                fields=["scope_code", "due_at"],
                name="case_open_by_scope",
                condition=models.Q(is_open=True),
            ),
            # The escalation sweep: open cases whose tier's deadline passed.
            models.Index(
                fields=["tier_due_at"],
                name="case_open_tier_due",
                condition=models.Q(is_open=True),
            ),
            # The sweep's other read: open cases whose due date passed and are not marked yet
            # (the index holds only the open cases still keeping their promise).
            models.Index(
                fields=["due_at"],
                name="case_open_promise",
                condition=models.Q(is_open=True, missed_deadline=False),
            ),
            # Lists and the statistics rebuild by territory and day.
            models.Index(fields=["scope_code", "reported_on"], name="case_scope_day"),
            # Duplicate suggestions: same category, recent.
            models.Index(fields=["category", "reported_at"], name="case_category_time"),
            models.Index(fields=["reporter_phone_hash"], name="case_reporter_phone"),
            models.Index(fields=["assignee", "is_open"], name="case_assignee"),
            # The duplicates merged into a case (few): for telling their reporters.
            models.Index(
                fields=["merged_into"],
                name="case_merged_into",
                condition=models.Q(merged_into__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="case_rating_1_to_5",
            ),
            models.UniqueConstraint(fields=["tracking_code"], name="case_tracking_code_unique"),
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="case_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} {self.category.name}"

    @property
    def audit_scope(self) -> str:
        return self.scope_code

    def is_overdue(self, now: datetime.datetime | None = None) -> bool:
        """Open and past its due date: the rule of `overdue_q`, for this case."""
        return self.is_open and self.due_at <= (now or timezone.now())

    @property
    def overdue(self) -> bool:
        """`is_overdue()` now (for templates)."""
        return self.is_overdue()

    def late_by(self, now: datetime.datetime | None = None) -> datetime.timedelta | None:
        """How late the case is against its due date: an open case until now, a closed one
        when it was handled; None while it is (or was) on time, and for a rejected or merged
        case."""
        if self.is_open:
            end: datetime.datetime | None = now or timezone.now()
        elif self.stage in DONE_STAGES:
            end = self.handled_at or self.closed_at
        else:
            end = None
        if end is None or end <= self.due_at:
            return None
        return end - self.due_at


class CaseEventQuerySet(ScopedQuerySet["CaseEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TimelineImmutableError("the case timeline is append-only")

    def delete(self) -> NoReturn:
        raise TimelineImmutableError("the case timeline is append-only")


class TimelineImmutableError(Exception):
    pass


class CaseEvent(models.Model):
    """One step in a case's timeline. Append-only, like the audit trail."""

    class Action(models.TextChoices):
        REPORT = "report", _("reported")
        ACCEPT = "accept", _("accepted")
        REJECT = "reject", _("rejected")
        DISPATCH = "dispatch", _("dispatched")
        START = "start", _("started work")
        PROGRESS = "progress", _("added progress")
        HANDLE = "handle", _("marked handled")
        VERIFY = "verify", _("verified")
        SEND_BACK = "send_back", _("sent back for rework")
        CLOSE = "close", _("closed")
        RATE = "rate", _("rated")
        REOPEN = "reopen", _("reopened by the reporter")
        ESCALATE = "escalate", _("escalated")
        AUTO_ESCALATE = "auto_escalate", _("escalated: deadline passed")
        OVERDUE = "overdue", _("overdue at the last tier")
        DEFER = "defer", _("deadline extended")
        MERGE = "merge", _("merged")
        MERGED_IN = "merged_in", _("duplicate merged in")
        NOTE = "note", _("note")
        MEDIATION = "mediation", _("mediation session")
        ASSISTANCE = "assistance", _("assistance given")

    # No index of its own: caseevent_case_time (case, at) serves lookups by case, and the sweep
    # inserts 50,000 events at once into a table of tens of millions.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who acted, as shown: a user's name, "reporter", "system (deadline sweep)".
    actor_name = models.CharField(_("by"), max_length=150)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    from_stage = models.CharField(max_length=12, blank=True)
    to_stage = models.CharField(max_length=12, blank=True)
    from_tier = models.CharField(max_length=8, blank=True)
    to_tier = models.CharField(max_length=8, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    scope_code = models.CharField(max_length=15, editable=False)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="caseevent_case_time")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TimelineImmutableError("the case timeline is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TimelineImmutableError("the case timeline is append-only")


def photo_path(instance: CasePhoto, filename: str) -> str:
    return f"cases/{instance.case.reported_on:%Y/%m}/{instance.case.tracking_code}/{filename}"


class CasePhoto(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="photos")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="photos"
    )
    file = models.FileField(_("photo"), upload_to=photo_path, max_length=200, blank=True)
    # Photos given as a link (Open311 media_url) are kept as the link.
    url = models.URLField(_("link"), max_length=500, blank=True)
    content_type = models.CharField(max_length=40, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.case_id}: {self.file.name or self.url}"


# --- Kinds: dispute mediation and hardship assistance ---------------------------------------------


class Mediation(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Settled")
        PARTIAL = "partial", _("Partly settled")
        FAILED = "failed", _("Not settled")

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="mediation")
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, blank=True)
    agreement = models.TextField(_("agreement text"), blank=True)
    concluded_at = models.DateTimeField(_("concluded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mediation")
        verbose_name_plural = _("mediations")

    def __str__(self) -> str:
        return f"mediation of case {self.case_id}"


class MediationParty(models.Model):
    mediation = models.ForeignKey(Mediation, on_delete=models.CASCADE, related_name="parties")
    name = models.CharField(_("name"), max_length=50)
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(_("role in the dispute"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


class MediationSession(models.Model):
    mediation = models.ForeignKey(Mediation, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=100, blank=True)
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(_("notes"))

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["held_at", "id"]

    def __str__(self) -> str:
        return f"{self.held_at:%Y-%m-%d} {self.place}".strip()


class Assistance(models.Model):
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="assistance")
    household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        related_name="assistance",
    )
    plan = models.TextField(_("plan"), blank=True)
    follow_up_on = models.DateField(_("follow-up date"), null=True, blank=True)

    class Meta:
        verbose_name = _("assistance")
        verbose_name_plural = _("assistance")

    def __str__(self) -> str:
        return f"assistance of case {self.case_id}"


class AssistanceGiven(models.Model):
    assistance = models.ForeignKey(Assistance, on_delete=models.CASCADE, related_name="given")
    given_on = models.DateField(_("date"))
    what = models.CharField(_("what was given"), max_length=200)
    amount = models.DecimalField(
        _("amount (yuan)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("assistance given")
        verbose_name_plural = _("assistance given")
        ordering = ["given_on", "id"]

    def __str__(self) -> str:
        return f"{self.given_on} {self.what}"


# --- Notifications -------------------------------------------------------------------------------


class Notification(models.Model):
    """A message to a person or a tier's queue; sent by a backend, retried until it goes."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (will retry)")
        GAVE_UP = "gave_up", _("Failed (gave up)")

    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    # The territory whose people are told (also the scope of who may see this row).
    scope_code = models.CharField(max_length=15)
    backend = models.CharField(_("backend"), max_length=16)
    address = models.CharField(_("address"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.subject}"


# --- Statistics buckets --------------------------------------------------------------------------


class CaseStatBucket(models.Model):
    """Counts of the cases reported in one grid (or unit queue) on one day.

    Kept in step by the services (a delta per change, in the same transaction) and rebuilt
    from the cases by `grassroots cases rebuild-stats`; the indicators sum these rows.
    """

    scope_code = models.CharField(max_length=15)
    day = models.DateField()
    total = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    merged = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    closed_on_time = models.IntegerField(default=0)
    # Cases whose closing is due: closed ones plus open ones past their due date (marked by the
    # sweep: missed_deadline).
    due = models.IntegerField(default=0)
    deferred = models.IntegerField(default=0)
    reworked = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    settled_at_grid = models.IntegerField(default=0)
    hours_grid = models.FloatField(default=0)
    hours_village = models.FloatField(default=0)
    hours_town = models.FloatField(default=0)
    hours_county = models.FloatField(default=0)
    spans_grid = models.IntegerField(default=0)
    spans_village = models.IntegerField(default=0)
    spans_town = models.IntegerField(default=0)
    spans_county = models.IntegerField(default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope_code", "day"], name="casestat_scope_day")
        ]

    def __str__(self) -> str:
        return f"{self.scope_code} {self.day}"


class Open311Key(models.Model):
    """An Open311 client's API key; only its SHA-256 is stored."""

    name = models.CharField(_("client name"), max_length=100, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 key")
        verbose_name_plural = _("Open311 keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
