"""Party organizations (联, DOMAIN.md "Organizations"): committees, general branches, branches,
joint branches (联合党支部) and temporary branches, each attached to the territory units it serves.

An ordinary branch serves one unit; a joint branch serves several villages and communities
without merging them ("五个不变": each keeps its land, people, self-government and assets), so
the units are a table of their own (`OrganizationUnit`) rather than a column. Who sees an
organization follows from those units (selectors.py): a user whose scope holds any of them, or
lies inside one of them (a grid worker sees their village's branch).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.core import crypto
from grassroots.core.crypto import EncryptedCharField
from grassroots.core.scoping import Scope, ancestors, common_ancestor
from grassroots.core.text import clean_text
from grassroots.core.validators import (
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
    validate_mobile,
    validate_name,
)
from grassroots.territory.models import Unit

# The county's own codes: letters, digits and hyphens inside (not first or last).
ORG_CODE_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$"
ORG_CODE_MAX_LENGTH = 32
validate_org_code = RegexValidator(
    ORG_CODE_PATTERN,
    _("Use letters, digits and hyphens inside, at most 32 characters."),
)


def units_holding(codes: tuple[str, ...] | list[str]) -> set[str]:
    """The unit codes that hold (or are) one of `codes`."""
    return {node for code in codes for node in ancestors(code, longest=12)}


def visible_q(scope: Scope) -> Q:
    """Organizations seen from `scope`: the scope holds one of the units they serve, or lies
    inside one of them (see selectors.py)."""
    if scope.is_everything:
        return Q()
    codes = scope.codes or ()
    if not codes:
        return Q(pk__in=[])
    served = OrganizationUnit.objects.filter(organization=OuterRef("pk"))
    below = served.filter(scope.q("unit_code"))
    above = served.filter(unit_code__in=sorted(units_holding(codes)))
    return Q(Exists(below)) | Q(Exists(above))


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def in_scope(self, scope: Scope) -> OrganizationQuerySet:
        return self.filter(visible_q(scope))

    def visible_to(self, user: Any) -> OrganizationQuerySet:
        return self.in_scope(Scope.for_user(user))


class ThroughOrganizationQuerySet(models.QuerySet[Any]):
    """Rows seen through the organization they belong to (`org_field`)."""

    org_field = "organization"

    def visible_to(self, user: Any) -> Any:
        scope = Scope.for_user(user)
        if scope.is_everything:
            return self.all()
        visible = Organization.objects.in_scope(scope).values("pk")
        return self.filter(**{f"{self.org_field}__in": visible})


class Organization(models.Model):
    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("Party committee (党委)")
        GENERAL_BRANCH = "general_branch", _("General branch (党总支)")
        BRANCH = "branch", _("Branch (党支部)")
        JOINT_BRANCH = "joint_branch", _("Joint branch (联合党支部)")
        TEMPORARY_BRANCH = "temporary_branch", _("Temporary branch (临时党支部)")

    code = models.CharField(
        _("code"), max_length=ORG_CODE_MAX_LENGTH, unique=True, validators=[validate_org_code]
    )
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent organization"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    units = models.ManyToManyField(
        Unit,
        verbose_name=_("units served"),
        through="OrganizationUnit",
        related_name="organizations",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("party organization")
        verbose_name_plural = _("party organizations")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def audit_scope(self) -> str:
        """The deepest unit holding every unit the organization serves: where its audit events
        belong (services set `unit_codes_written` before they record)."""
        codes = getattr(self, "unit_codes_written", None)
        if codes is None:
            codes = list(self.served.values_list("unit_code", flat=True)) if self.pk else []
        return common_unit(codes)


def common_unit(codes: list[str]) -> str:
    """The deepest unit (not a grid) holding every one of `codes`."""
    return common_ancestor(codes, longest=12)


class OrganizationUnit(models.Model):
    """One unit an organization serves; `unit_code` repeats the unit's code so that the scope
    test (a range on codes, core/scoping.py) needs no join."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="served")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    unit_code = models.CharField(max_length=12, editable=False, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "unit"], name="orgunit_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} → {self.unit_code}"


class Member(models.Model):
    """A party member: one organization at a time (transfers keep their history), a person of
    the registry where one is found by ID number; a member living elsewhere (流动党员) has none.

    ID and mobile numbers follow the registry's rules: encrypted at rest, found by keyed hash,
    masked wherever they are listed."""

    class Status(models.TextChoices):
        FORMAL = "formal", _("Formal member (正式党员)")
        PROBATIONARY = "probationary", _("Probationary member (预备党员)")

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="members",
    )
    resident = models.ForeignKey(
        "registry.Resident",
        verbose_name=_("resident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="party_memberships",
    )
    name = models.CharField(_("name"), max_length=50, validators=[validate_name])
    id_number = EncryptedCharField(_("ID number"), max_length=18)
    # One person is one member: the keyed hash of the ID number is unique.
    id_hash = models.CharField(max_length=32, editable=False, unique=True)
    phone = EncryptedCharField(_("mobile number"), max_length=11, blank=True)
    phone_hash = models.CharField(max_length=32, editable=False, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    joined_on = models.DateField(_("joined on"))
    # Whether the member can be asked for shared work now (the talent pool's availability).
    available = models.BooleanField(_("available for shared work"), default=True)
    # A probationary member's conversion to formal (转正), due a year after joining.
    converted_on = models.DateField(_("converted on"), null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid worker account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="party_member",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ThroughOrganizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("party member")
        verbose_name_plural = _("party members")
        permissions = [("reveal_member", "Can reveal a member's full ID or mobile number")]
        ordering = ["organization", "name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} {mask_id_number(self.id_number)}"

    @property
    def audit_label(self) -> str:
        return f"{mask_name(self.name)} {mask_id_number(self.id_number)}"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def audit_scope(self) -> str:
        return self.organization.audit_scope

    @property
    def conversion_due_on(self) -> datetime.date | None:
        """When a probationary member is due for conversion: a year after joining."""
        if self.status != self.Status.PROBATIONARY:
            return None
        return add_years(self.joined_on, 1)

    def fill_derived(self) -> None:
        self.name = clean_text(self.name)
        parsed = parse_id_number(self.id_number)
        self.id_number = parsed.number
        self.id_hash = crypto.digest(parsed.number)
        self.phone = validate_mobile(self.phone) if self.phone else ""
        self.phone_hash = crypto.digest(self.phone) if self.phone else ""

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_derived()
        super().save(*args, **kwargs)


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class Post(models.TextChoices):
    SECRETARY = "secretary", _("Secretary (书记)")
    DEPUTY_SECRETARY = "deputy_secretary", _("Deputy secretary (副书记)")
    ORGANIZATION = "organization", _("Organization member (组织委员)")
    PUBLICITY = "publicity", _("Publicity member (宣传委员)")
    DISCIPLINE = "discipline", _("Discipline member (纪检委员)")
    COMMITTEE = "committee", _("Committee member (委员)")
    GROUP_LEADER = "group_leader", _("Party group leader (党小组长)")


class MemberPost(models.Model):
    """A post a member holds in their organization, from `started_on` until `ended_on` (open
    while held): from these a vacant secretary post, and for how long, is computed."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="posts")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="posts")
    post = models.CharField(_("post"), max_length=20, choices=Post.choices)
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "post", "ended_on"], name="post_held")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.post} {self.started_on}–{self.ended_on or ''}"


class MemberSkill(models.Model):
    """One skill of a member, for the talent pool (种植, 电商, 法律 …): a row each, indexed, so
    that a search by skill reads only the members who have it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="skills")
    skill = models.CharField(_("skill"), max_length=30)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "skill"], name="memberskill_unique")
        ]
        indexes = [models.Index(fields=["skill"], name="memberskill_skill")]

    def __str__(self) -> str:
        return self.skill


class Transfer(models.Model):
    """A member's move from one organization to another (组织关系转接): the history stays."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="transfers")
    from_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="transfers_in"
    )
    on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_organization_id} → {self.to_organization_id}"


class MeetingKind(models.TextChoices):
    """三会一课 and 主题党日."""

    MEMBER_MEETING = "member_meeting", _("Branch member meeting (支部党员大会)")
    COMMITTEE_MEETING = "committee_meeting", _("Branch committee meeting (支委会)")
    GROUP_MEETING = "group_meeting", _("Party group meeting (党小组会)")
    PARTY_LECTURE = "party_lecture", _("Party lecture (党课)")
    THEME_DAY = "theme_day", _("Theme party day (主题党日)")


class LifeRequirement(models.Model):
    """How often an organization must hold a kind of meeting: `times` per month or quarter. A
    row, which an administrator edits, overrides the kind's default (life.DEFAULT_REQUIREMENTS:
    the member meeting and the party lecture quarterly, the others monthly)."""

    class Period(models.TextChoices):
        MONTH = "month", _("month")
        QUARTER = "quarter", _("quarter")

    kind = models.CharField(_("kind"), max_length=20, choices=MeetingKind.choices, unique=True)
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    times = models.PositiveSmallIntegerField(_("times per period"), default=1)

    class Meta:
        verbose_name = _("branch life requirement")
        verbose_name_plural = _("branch life requirements")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.times}/{self.get_period_display()}"


class Meeting(models.Model):
    """A meeting of an organization: what, when, where, the minutes; attendance per member."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="meetings"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=MeetingKind.choices)
    held_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=200)
    place = models.CharField(_("place"), max_length=200, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    # The attendance counted when it is recorded (services.meeting_record): a county's year of
    # branch life sums these instead of counting hundreds of thousands of attendance rows.
    present_count = models.PositiveIntegerField(default=0, editable=False)
    absent_count = models.PositiveIntegerField(default=0, editable=False)
    leave_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ThroughOrganizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        indexes = [
            models.Index(fields=["organization", "kind", "held_on"], name="meeting_life"),
            # A tree's year of branch life: every kind of meeting of its organizations by date.
            models.Index(fields=["organization", "held_on"], name="meeting_org_day"),
        ]

    def __str__(self) -> str:
        return f"{self.held_on} {self.get_kind_display()} {self.topic}"

    @property
    def audit_scope(self) -> str:
        return self.organization.audit_scope


class Attendance(models.Model):
    class Status(models.TextChoices):
        PRESENT = "present", _("present")
        ABSENT = "absent", _("absent")
        LEAVE = "leave", _("on leave")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="attendance")
    status = models.CharField(_("attendance"), max_length=8, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="attendance_unique")
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.status}"


class AllianceQuerySet(models.QuerySet["Alliance"]):
    """An alliance is seen by whoever sees one of its organizations."""

    def in_scope(self, scope: Scope) -> AllianceQuerySet:
        if scope.is_everything:
            return self.all()
        links = Alliance.organizations.through.objects.filter(
            alliance=OuterRef("pk"),
            organization__in=Organization.objects.in_scope(scope).values("pk"),
        )
        return self.filter(Exists(links))

    def visible_to(self, user: Any) -> AllianceQuerySet:
        return self.in_scope(Scope.for_user(user))


class Alliance(models.Model):
    """联建: organizations of any kind linked for shared work (activities, talent, resources,
    projects) without any change to their membership or to the units they serve."""

    code = models.CharField(
        _("code"), max_length=ORG_CODE_MAX_LENGTH, unique=True, validators=[validate_org_code]
    )
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    organizations = models.ManyToManyField(
        Organization, verbose_name=_("organizations"), related_name="alliances"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AllianceQuerySet.as_manager()

    class Meta:
        verbose_name = _("alliance (联建)")
        verbose_name_plural = _("alliances (联建)")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def audit_scope(self) -> str:
        """The deepest unit holding every unit its organizations serve."""
        if not self.pk:
            return ""
        codes = OrganizationUnit.objects.filter(organization__alliances=self).values_list(
            "unit_code", flat=True
        )
        return common_unit(list(codes))


# --- Shared work of a joint branch or an alliance: activities, resources, projects -------------


class SharedQuerySet(models.QuerySet[Any]):
    """Rows of shared work, seen by whoever sees their organization or their alliance."""

    def in_scope(self, scope: Scope) -> Any:
        if scope.is_everything:
            return self.all()
        orgs = Organization.objects.in_scope(scope).values("pk")
        alliances = Alliance.objects.in_scope(scope).values("pk")
        return self.filter(Q(organization__in=orgs) | Q(alliance__in=alliances))

    def visible_to(self, user: Any) -> Any:
        return self.in_scope(Scope.for_user(user))


class SharedWork(models.Model):
    """What a joint branch (its `organization`) or an alliance shares: the organization leads
    or owns it; with an alliance, the alliance's organizations share it."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("alliance (联建)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = SharedQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def audit_scope(self) -> str:
        if self.alliance_id:
            return self.alliance.audit_scope  # type: ignore[union-attr]
        return self.organization.audit_scope


class Activity(SharedWork):
    """A joint activity (联建活动) on the calendar: theme, date, place, the organizations
    taking part, the members who came (and others), photos and minutes."""

    theme = models.CharField(_("theme"), max_length=200)
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    organizations = models.ManyToManyField(
        Organization, verbose_name=_("organizations taking part"), related_name="activities"
    )
    attendees = models.ManyToManyField(
        Member, verbose_name=_("members present"), related_name="activities", blank=True
    )
    guests = models.PositiveIntegerField(_("others present"), default=0)
    minutes = models.TextField(_("minutes"), blank=True)

    class Meta:
        verbose_name = _("joint activity")
        verbose_name_plural = _("joint activities")
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["organization", "held_on"], name="activity_calendar")]

    def __str__(self) -> str:
        return f"{self.held_on} {self.theme}"


def photo_path(instance: Photo, filename: str) -> str:
    what = (
        f"meeting-{instance.meeting_id}"
        if instance.meeting_id
        else (f"activity-{instance.activity_id}")
    )
    return f"orgs/{timezone.localdate():%Y/%m}/{what}/{filename}"


class Photo(models.Model):
    """A photo of a meeting or of a joint activity (its type sniffed from the bytes)."""

    meeting = models.ForeignKey(
        Meeting, null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    file = models.FileField(_("photo"), upload_to=photo_path, max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            models.CheckConstraint(
                condition=Q(meeting__isnull=False, activity__isnull=True)
                | Q(meeting__isnull=True, activity__isnull=False),
                name="orgs_photo_of_one",
            )
        ]

    def __str__(self) -> str:
        return str(self.file.name)


class LifeReminder(models.Model):
    """A reminder sent to an organization's secretary that a kind of meeting is still missing
    in a period about to end: one per organization, kind and period."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="life_reminders"
    )
    kind = models.CharField(max_length=20, choices=MeetingKind.choices)
    period = models.CharField(max_length=8)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "period"], name="lifereminder_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.kind} {self.period}"


class Resource(SharedWork):
    """A shared resource (venue, machinery, fund) owned by `organization`."""

    class Kind(models.TextChoices):
        VENUE = "venue", _("Venue")
        MACHINERY = "machinery", _("Machinery")
        FUND = "fund", _("Fund")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    description = models.CharField(_("description"), max_length=500, blank=True)
    amount_yuan = models.DecimalField(
        _("amount (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("shared resource")
        verbose_name_plural = _("shared resources")
        ordering = ["kind", "name", "pk"]

    def __str__(self) -> str:
        return self.name


class BookingQuerySet(models.QuerySet["Booking"]):
    """Bookings are seen by whoever sees their resource."""

    def visible_to(self, user: Any) -> BookingQuerySet:
        return self.filter(resource__in=Resource.objects.visible_to(user).values("pk"))


class Booking(models.Model):
    """A resource booked by an organization from `starts_at` to `ends_at`; two bookings of one
    resource never overlap (services lock the resource while they check)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="bookings")
    organization = models.ForeignKey(
        Organization, verbose_name=_("booked by"), on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    purpose = models.CharField(_("purpose"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = BookingQuerySet.as_manager()

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["resource", "starts_at"], name="booking_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="booking_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def audit_scope(self) -> str:
        return self.resource.audit_scope


class Project(SharedWork):
    """A joint industry project (tea, aquaculture, edible fungi, fruit, rural tourism …):
    investment, milestones with due dates, households taking part, income by year."""

    class Industry(models.TextChoices):
        TEA = "tea", _("Tea")
        AQUACULTURE = "aquaculture", _("Aquaculture")
        FUNGI = "fungi", _("Edible fungi")
        FRUIT = "fruit", _("Fruit")
        TOURISM = "tourism", _("Rural tourism")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices)
    investment_yuan = models.DecimalField(
        _("investment (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    started_on = models.DateField(_("started on"))
    description = models.TextField(_("description"), blank=True)
    organizations = models.ManyToManyField(
        Organization, verbose_name=_("organizations taking part"), related_name="projects"
    )
    households = models.ManyToManyField(
        "registry.Household",
        verbose_name=_("households taking part"),
        related_name="projects",
        blank=True,
    )

    class Meta:
        verbose_name = _("joint project")
        verbose_name_plural = _("joint projects")
        ordering = ["-started_on", "pk"]

    def __str__(self) -> str:
        return self.name


class Milestone(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("milestone"), max_length=200)
    due_on = models.DateField(_("due on"))
    done_on = models.DateField(_("done on"), null=True, blank=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.title


class ProjectIncome(models.Model):
    """A project's income in one year: the collective's and the households' taking part."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="incomes")
    year = models.PositiveSmallIntegerField(_("year"))
    collective_yuan = models.DecimalField(
        _("collective income (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    households_yuan = models.DecimalField(
        _("households' income (yuan)"), max_digits=14, decimal_places=2, default=0
    )

    class Meta:
        verbose_name = _("income")
        verbose_name_plural = _("incomes")
        ordering = ["year"]
        constraints = [
            models.UniqueConstraint(fields=["project", "year"], name="projectincome_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.year}"
