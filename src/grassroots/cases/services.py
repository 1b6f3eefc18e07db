"""Writes on cases: intake and every step of the workflow.

Each service is one transaction: it locks the case row (PostgreSQL) and writes it back only if
nobody else wrote it meanwhile (a version check that also holds on SQLite), appends the timeline
event, writes the audit event, keeps the statistics buckets in step and notifies after commit.
A step the actor may not take raises `TransitionRefused` with a message that says why.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.roles import ROLE_TIERS, Role
from grassroots.audit import services as audit
from grassroots.core.crypto import digest
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_prose, clean_text, compact
from grassroots.core.validators import validate_mobile
from grassroots.territory.models import Grid, Unit

from . import stats
from .models import (
    DONE_STAGES,
    OPEN_STAGES,
    TIER_ORDER,
    Case,
    CaseEvent,
    CasePhoto,
    Category,
    Stage,
    Tier,
    next_tier,
)
from .workdays import WorkingCalendar

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from grassroots.accounts.models import User
    from grassroots.registry.models import Household

# Tracking codes: no 0/O, 1/I/L, so that they survive being read out on the phone.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
MAX_PHOTOS = 9
PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
REOPEN_DAYS = 7
MAX_DEFER_DAYS = 30
UNIT_TIER = {"village": Tier.VILLAGE, "town": Tier.TOWN, "county": Tier.COUNTY}
SYSTEM = "system"
REPORTER = "reporter"


class CaseInputError(ValidationError):
    """Bad intake input; `message_dict` names each field."""


class TransitionRefused(Exception):
    """A step refused; `status` is 403 when the actor may not do it, 409 when the case's state
    does not allow it (stage, tier, someone else's change)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- Intake ----------------------------------------------------------------------------------


def new_tracking_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_tracking_code(value: object) -> str:
    return compact(value).upper().replace("-", "")


def phone_key(phone: str) -> str:
    """The keyed hash a reporter's phone is found by."""
    return digest(phone) if phone else ""


def clean_phone(value: object) -> str:
    """A mobile number (as validate_mobile) or a landline such as 0598-1234567."""
    text = compact(value)
    if not text:
        return ""
    digits = text.replace("-", "")
    if digits.startswith("0") and not digits.startswith("00") and digits.isdigit():
        if 10 <= len(digits) <= 12:
            return digits
        raise ValidationError(_("A landline number has 10 to 12 digits with its area code"))
    return validate_mobile(text)


def _sniff_photo(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for content_type, magics in PHOTO_TYPES.items():
        if any(head.startswith(m) for m in magics):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    return ""


def check_photos(photos: Sequence[UploadedFile], field: str = "photos") -> list[tuple[Any, str]]:
    """Each photo with its content type, sniffed from the bytes; refuses other files."""
    if len(photos) > MAX_PHOTOS:
        raise CaseInputError({field: _("At most %(n)d photos") % {"n": MAX_PHOTOS}})
    limit = settings.CASE_PHOTO_MAX_BYTES
    checked = []
    for upload in photos:
        name = getattr(upload, "name", "") or "photo"
        if upload.size is not None and upload.size > limit:
            raise CaseInputError(
                {
                    field: _("Photo %(name)s is larger than %(mb)d MB")
                    % {"name": name, "mb": limit // (1024 * 1024)}
                }
            )
        content_type = _sniff_photo(upload)
        if not content_type:
            raise CaseInputError(
                {field: _("Photo %(name)s is not a JPEG, PNG, WebP or HEIC image") % {"name": name}}
            )
        checked.append((upload, content_type))
    return checked


def _place(
    lon: float | None, lat: float | None, household: Household | None, unit: Unit | None
) -> tuple[Unit | None, Grid | None]:
    """The grid holding the point; else the household's grid; else the unit's queue."""
    if lon is not None and lat is not None:
        from grassroots.territory.geometry import parse_polygon, points_inside

        candidates = Grid.objects.filter(
            min_lon__lte=lon, max_lon__gte=lon, min_lat__lte=lat, max_lat__gte=lat
        ).select_related("unit")
        for grid in sorted(candidates, key=lambda g: g.code):
            if points_inside(parse_polygon(grid.boundary), [lon], [lat])[0]:
                return grid.unit, grid
    if household is not None and household.grid_id is not None:
        grid = Grid.objects.select_related("unit").get(pk=household.grid_id)
        return grid.unit, grid
    if household is not None:
        return household.unit, None
    return unit, None


def validate_report(
    *,
    category: Category | str,
    description: str,
    lon: float | str | None = None,
    lat: float | str | None = None,
    address: str = "",
    unit: Unit | str | None = None,
    urgent: bool = False,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    reporter_household: Household | None = None,
    photos: Sequence[UploadedFile] = (),
    photo_urls: Sequence[str] = (),
    kind: str | None = None,
    reported_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    """The cleaned intake fields, placed; or CaseInputError naming every bad field."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    now = now or timezone.now()

    if isinstance(category, Category):
        cat: Category | None = category
    else:
        code = compact(category).lower()
        cat = Category.objects.filter(code=code, active=True).first() if code else None
        if cat is None:
            errors["category"] = (
                _("Category is required")
                if not code
                else _("Unknown category %(code)s") % {"code": category}
            )
    cleaned["category"] = cat

    text = clean_prose(description)
    if len(text) < 4:
        errors["description"] = _("Describe the matter in at least 4 characters")
    elif len(text) > 4000:
        errors["description"] = _("The description is longer than 4000 characters")
    cleaned["description"] = text

    point: list[float | None] = [None, None]
    for i, (name, value, low, high) in enumerate(
        (("lon", lon, 73.0, 136.0), ("lat", lat, 3.0, 54.0))
    ):
        if value in (None, ""):
            continue
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors[name] = _("%(name)s must be a number") % {"name": name}
            continue
        if not (low <= number <= high):
            errors[name] = _("%(name)s %(value)s lies outside China") % {
                "name": name,
                "value": value,
            }
            continue
        point[i] = number
    if (point[0] is None) != (point[1] is None) and "lon" not in errors and "lat" not in errors:
        errors["lat" if point[1] is None else "lon"] = _("Give both longitude and latitude")
    cleaned["lon"], cleaned["lat"] = point

    cleaned["address"] = clean_text(address)[:200]
    target: Unit | None = None
    if isinstance(unit, Unit):
        target = unit
    elif unit not in (None, ""):
        target = Unit.objects.filter(code=compact(unit)).first()
        if target is None or target.level not in UNIT_TIER:
            errors["unit"] = _("Unknown unit %(code)s") % {"code": unit}
            target = None

    cleaned["reporter_name"] = clean_text(reporter_name)[:50]
    try:
        cleaned["reporter_phone"] = clean_phone(reporter_phone)
    except ValidationError as exc:
        errors["reporter_phone"] = exc.messages[0]
    email = clean_text(reporter_email)
    if email:
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except ValidationError:
            errors["reporter_email"] = _("Not an email address")
    cleaned["reporter_email"] = email
    cleaned["reporter_household"] = reporter_household
    cleaned["urgent"] = bool(urgent)
    if kind is not None and kind not in Case.Kind.values:
        errors["kind"] = _("Unknown case kind %(kind)s") % {"kind": kind}
    cleaned["kind"] = kind or (cat.kind if cat is not None else Case.Kind.GENERAL)
    if reported_at is not None and reported_at > now + datetime.timedelta(minutes=5):
        errors["reported_at"] = _("The report time lies in the future")
    cleaned["reported_at"] = reported_at or now

    try:
        cleaned["photos"] = check_photos(photos)
    except CaseInputError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    urls = []
    for url in photo_urls:
        url = clean_text(url)
        if not url:
            continue
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["media_url"] = _("Not a web address: %(url)s") % {"url": url[:100]}
        urls.append(url[:500])
    cleaned["photo_urls"] = urls

    if not errors:
        placed_unit, grid = _place(point[0], point[1], reporter_household, target)
        if placed_unit is None:
            errors["location"] = _(
                "Give coordinates inside a grid, the reporter's household or the unit to send "
                "the case to"
            )
        cleaned["unit"], cleaned["grid"] = placed_unit, grid
    if errors:
        raise CaseInputError(errors)
    return cleaned


def _first_tier(category: Category, unit: Unit, grid: Grid | None) -> str:
    """The category's first tier, raised to the unit's level when there is no grid."""
    tier = category.first_tier
    floor = Tier.GRID if grid is not None else UNIT_TIER[unit.level]
    return TIER_ORDER[max(TIER_ORDER.index(Tier(tier)), TIER_ORDER.index(Tier(floor)))]


def deadline_for(
    category: Category, tier: str, urgent: bool, start: datetime.datetime, cal: WorkingCalendar
) -> tuple[datetime.datetime, bool]:
    limit = category.limit(tier, urgent=urgent)
    result = cal.add_hours(start, limit) if urgent else cal.add_working_days(start, limit)
    return result.due, result.fallback


def case_report(
    *,
    actor: User | None,
    channel: str,
    external_id: str = "",
    notify: bool = True,
    calendar: WorkingCalendar | None = None,
    event_data: dict[str, Any] | None = None,
    **fields: Any,
) -> Case:
    """Take in a request from any channel: validate, place, set the deadline, record.

    One transaction: the case, its first timeline event, photos, the audit event and the
    statistics bucket are written together or not at all.
    """
    if channel not in Case.Channel.values:
        raise CaseInputError({"channel": _("Unknown channel %(c)s") % {"c": channel}})
    data = validate_report(**fields)
    external_id = clean_text(external_id)[:64]
    if external_id and Case.objects.filter(channel=channel, external_id=external_id).exists():
        raise CaseInputError(
            {"external_id": _("Order %(no)s was already taken in") % {"no": external_id}}
        )
    category: Category = data["category"]
    unit: Unit = data["unit"]
    grid: Grid | None = data["grid"]
    tier = _first_tier(category, unit, grid)
    start = data["reported_at"]
    due, fallback = deadline_for(
        category, tier, data["urgent"], start, calendar or WorkingCalendar()
    )
    case = Case(
        kind=data["kind"],
        category=category,
        channel=channel,
        external_id=external_id,
        urgent=data["urgent"],
        description=data["description"],
        address=data["address"],
        lon=data["lon"],
        lat=data["lat"],
        reporter_name=data["reporter_name"],
        reporter_phone=data["reporter_phone"],
        reporter_phone_hash=phone_key(data["reporter_phone"]),
        reporter_email=data["reporter_email"],
        reporter_household=data["reporter_household"],
        reporter_user=actor,
        unit=unit,
        grid=grid,
        scope_code=grid.code if grid is not None else unit.code,
        tier=tier,
        tier_started_at=start,
        due_at=due,
        due_fallback=fallback,
        reported_at=start,
        reported_on=timezone.localdate(start),
    )
    duplicates = _possible_duplicates(case)
    with transaction.atomic():
        for attempt in range(5):
            case.tracking_code = new_tracking_code()
            try:
                with transaction.atomic():
                    case.save()
                break
            except IntegrityError:
                # Two tracking codes alike (31^10 of them), or a concurrent import of the
                # same order number: try a new code, and let a repeated order be refused.
                if (
                    external_id
                    and Case.objects.filter(channel=channel, external_id=external_id).exists()
                ):
                    raise CaseInputError(
                        {
                            "external_id": _("Order %(no)s was already taken in")
                            % {"no": external_id}
                        }
                    ) from None
                if attempt == 4:
                    raise
        event = _event(
            case,
            actor,
            CaseEvent.Action.REPORT,
            to_stage=Stage.REPORTED,
            to_tier=tier,
            data={
                "channel": channel,
                **(event_data or {}),
                **({"possible_duplicates": duplicates} if duplicates else {}),
            },
            at=start,
        )
        _store_photos(case, event, data["photos"], data["photo_urls"])
        audit.created(case)
        stats.apply_delta(case, None, stats.contribution(case))
        if notify:
            _tell_tier([case], tier, _("New case %(code)s") % {"code": case.tracking_code})
    return case


def _possible_duplicates(case: Case) -> list[str]:
    """Tracking codes of likely duplicates (same category, near, similar text, recent)."""
    if case.lon is None or case.lat is None:
        return []
    try:
        from .duplicates import likely_duplicates
    except ImportError:  # pragma: no cover - while the duplicates module is being written
        return []
    found = likely_duplicates(
        category=case.category,
        lon=case.lon,
        lat=case.lat,
        description=case.description,
        at=case.reported_at,
    )
    return [c.tracking_code for c, _score in found]


def _store_photos(
    case: Case, event: CaseEvent | None, photos: Sequence[tuple[Any, str]], urls: Sequence[str]
) -> None:
    for upload, content_type in photos:
        upload.seek(0)
        sha = hashlib.sha256()
        for chunk in upload.chunks():
            sha.update(chunk)
        upload.seek(0)
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}.get(
            content_type, "heic"
        )
        photo = CasePhoto(
            case=case,
            event=event,
            content_type=content_type,
            size=upload.size or 0,
            sha256=sha.hexdigest(),
        )
        photo.file.save(f"{sha.hexdigest()[:16]}.{ext}", upload, save=False)
        photo.save()
    for url in urls:
        CasePhoto.objects.create(case=case, event=event, url=url)


# --- The workflow ----------------------------------------------------------------------------


def _actor_name(actor: User | None, default: str) -> str:
    if actor is None:
        return default
    return actor.get_full_name() or actor.get_username()


def _event(
    case: Case,
    actor: User | None,
    action: str,
    *,
    note: str = "",
    from_stage: str = "",
    to_stage: str = "",
    from_tier: str = "",
    to_tier: str = "",
    data: dict[str, Any] | None = None,
    at: datetime.datetime | None = None,
    default_name: str = REPORTER,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        at=at or timezone.now(),
        actor=actor,
        actor_name=_actor_name(actor, default_name),
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
        from_tier=from_tier,
        to_tier=to_tier,
        note=note,
        data=data or {},
        scope_code=case.scope_code,
    )


def _tell_tier(cases: Sequence[Case], tier: str, subject: str) -> None:
    """Tell the people who act at `tier` over these cases; notify lists the tracking codes.

    The body names no reporter and quotes no description: messages may go out by SMS.
    """
    from .notify import tell_tier

    body = _("Open the cases in Grassroots to see them and act.")
    tell_tier(cases, tier=tier, subject=subject, body=body)


def _tell_reporter(case: Case, subject: str, body: str) -> None:
    from .notify import tell_reporter

    tell_reporter(case, subject=subject, body=body)


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


def _check(user: User | None, case: Case, perm: str, what: str) -> None:
    if user is None:
        raise TransitionRefused(_("Only staff may do this: a case %(what)s") % {"what": what}, 403)
    if not Scope.for_user(user).contains(case.scope_code):
        raise TransitionRefused(_("This case lies outside your area"), 403)
    if not user.has_perm(perm):
        raise TransitionRefused(
            _("Your role may not do this: a case %(what)s") % {"what": what}, 403
        )
    if not may_act_at(user, case):
        raise TransitionRefused(
            _("This case is at the %(tier)s tier, where you do not act")
            % {"tier": Tier(case.tier).label},
            403,
        )


def _refuse_stage(case: Case, what: str) -> TransitionRefused:
    return TransitionRefused(
        _("A case that is %(stage)s cannot be %(what)s")
        % {"stage": Stage(case.stage).label.lower(), "what": what}
    )


class _Step:
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


def _accumulate_hours(case: Case, now: datetime.datetime) -> None:
    """Add the time since the case came to its tier (or back to work) to that tier's hours."""
    spent = max((now - case.tier_started_at).total_seconds() / 3600, 0.0)
    field = f"hours_{case.tier}"
    setattr(case, field, round(getattr(case, field) + spent, 3))
    case.tier_started_at = now


def _transition(
    case: Case | int,
    *,
    actor: User | None,
    action: str,
    allowed_from: Sequence[str],
    what: str,
    perm: str | None,
    change: Callable[[Case, datetime.datetime], None],
    note: str = "",
    note_required: bool = False,
    expected_version: int | None = None,
    photos: Sequence[UploadedFile] = (),
    now: datetime.datetime | None = None,
    data: dict[str, Any] | None = None,
    after: Callable[[Case], None] | None = None,
) -> Case:
    note = clean_prose(note)[:4000]
    if note_required and len(note) < 2:
        raise TransitionRefused(_("Add a note saying what was done or why"))
    checked = check_photos(photos) if photos else []
    with transaction.atomic():
        step = _Step(case, expected_version)
        # After the lock: steps that waited for one another are stamped in the order they ran.
        now = now or timezone.now()
        if step.case.stage not in allowed_from:
            raise _refuse_stage(step.case, what)
        if perm is not None:
            _check(actor, step.case, perm, what)
        change(step.case, now)
        saved = step.save(now)
        event = _event(
            saved,
            actor,
            action,
            note=note,
            from_stage=step.stage if step.stage != saved.stage else "",
            to_stage=saved.stage if step.stage != saved.stage else "",
            from_tier=step.tier if step.tier != saved.tier else "",
            to_tier=saved.tier if step.tier != saved.tier else "",
            data=data,
            at=now,
        )
        _store_photos(saved, event, checked, ())
        if after is not None:
            after(saved)
    return saved


_WORKING = [Stage.ACCEPTED, Stage.DISPATCHED, Stage.IN_PROGRESS]


def case_accept(case: Case | int, *, actor: User, note: str = "", **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        c.stage = Stage.ACCEPTED

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.ACCEPT,
        allowed_from=[Stage.REPORTED],
        what=_("accepted"),
        perm="cases.accept_case",
        change=change,
        note=note,
        **kw,
    )


def case_reject(case: Case | int, *, actor: User, reason: str, note: str = "", **kw: Any) -> Case:
    if reason not in Case.RejectReason.values:
        raise TransitionRefused(
            _("Give the reason for rejecting: invalid, duplicate or out of scope")
        )

    def change(c: Case, now: datetime.datetime) -> None:
        c.stage = Stage.REJECTED
        c.reject_reason = reason
        c.closed_at = now

    def after(c: Case) -> None:
        _tell_reporter(
            c,
            _("Your request %(code)s was not taken up") % {"code": c.tracking_code},
            Case.RejectReason(reason).label + (f": {note}" if note else ""),
        )

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.REJECT,
        allowed_from=[Stage.REPORTED],
        what=_("rejected"),
        perm="cases.accept_case",
        change=change,
        note=note,
        data={"reason": reason},
        after=after,
        **kw,
    )


def case_dispatch(
    case: Case | int, *, actor: User, assignee: User, note: str = "", **kw: Any
) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        if not assignee.has_perm("cases.handle_case") or not may_act_at(assignee, c):
            raise TransitionRefused(
                _("%(name)s does not work on cases at this tier in this area")
                % {"name": _actor_name(assignee, "")}
            )
        c.stage = Stage.DISPATCHED
        c.assignee = assignee

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.DISPATCH,
        allowed_from=_WORKING,
        what=_("dispatched"),
        perm="cases.dispatch_case",
        change=change,
        note=note,
        data={"assignee": assignee.get_username()},
        **kw,
    )


def check_handler(c: Case, actor: User | None) -> None:
    if (
        actor is not None
        and c.assignee_id not in (None, actor.pk)
        and not actor.has_perm("cases.dispatch_case")
    ):
        raise TransitionRefused(
            _("This case is assigned to %(name)s") % {"name": _actor_name(c.assignee, "")}
        )


def case_start(case: Case | int, *, actor: User, note: str = "", **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        check_handler(c, actor)
        if c.assignee_id is None:
            c.assignee = actor
        c.stage = Stage.IN_PROGRESS

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.START,
        allowed_from=[Stage.ACCEPTED, Stage.DISPATCHED],
        what=_("started"),
        perm="cases.handle_case",
        change=change,
        note=note,
        **kw,
    )


def case_progress(case: Case | int, *, actor: User, note: str, **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        check_handler(c, actor)

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.PROGRESS,
        allowed_from=[Stage.IN_PROGRESS],
        what=_("given progress"),
        perm="cases.handle_case",
        change=change,
        note=note,
        note_required=True,
        **kw,
    )


def case_handle(case: Case | int, *, actor: User, note: str, **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        check_handler(c, actor)
        _accumulate_hours(c, now)
        c.stage = Stage.HANDLED
        c.handled_at = now
        c.handled_tier = c.tier
        if c.assignee_id is None:
            c.assignee = actor

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.HANDLE,
        allowed_from=[Stage.IN_PROGRESS],
        what=_("marked handled"),
        perm="cases.handle_case",
        change=change,
        note=note,
        note_required=True,
        **kw,
    )


def _four_eyes(c: Case, actor: User) -> None:
    if c.assignee_id == actor.pk:
        raise TransitionRefused(_("You handled this case; someone else must check it"))


def case_verify(case: Case | int, *, actor: User, note: str = "", **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        _four_eyes(c, actor)
        c.stage = Stage.VERIFIED

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.VERIFY,
        allowed_from=[Stage.HANDLED],
        what=_("verified"),
        perm="cases.verify_case",
        change=change,
        note=note,
        **kw,
    )


def case_send_back(case: Case | int, *, actor: User, note: str, **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        _four_eyes(c, actor)
        _rework(c, now)

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.SEND_BACK,
        allowed_from=[Stage.HANDLED],
        what=_("sent back"),
        perm="cases.verify_case",
        change=change,
        note=note,
        note_required=True,
        **kw,
    )


def _rework(c: Case, now: datetime.datetime) -> None:
    c.stage = Stage.IN_PROGRESS
    c.reworks += 1
    c.handled_at = None
    c.handled_tier = ""
    c.closed_at = None
    c.closed_on_time = None
    c.tier_started_at = now


def case_close(case: Case | int, *, actor: User, note: str = "", **kw: Any) -> Case:
    def change(c: Case, now: datetime.datetime) -> None:
        c.stage = Stage.CLOSED
        c.closed_at = now
        handled = c.handled_at or now
        c.closed_on_time = (not c.missed_deadline) and handled <= c.due_at

    def after(c: Case) -> None:
        # The reporters of duplicates merged into this case follow it: they are told too, and
        # their own tracking code opens this case.
        for told in [c, *Case.objects.filter(merged_into=c)]:
            _tell_reporter(
                told,
                _("Your request %(code)s is closed") % {"code": told.tracking_code},
                _("Rate the result with your tracking code %(code)s and your phone number.")
                % {"code": told.tracking_code},
            )

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.CLOSE,
        allowed_from=[Stage.VERIFIED],
        what=_("closed"),
        perm="cases.close_case",
        change=change,
        note=note,
        after=after,
        **kw,
    )


def case_escalate(
    case: Case | int,
    *,
    actor: User,
    reason: str,
    calendar: WorkingCalendar | None = None,
    **kw: Any,
) -> Case:
    """Hand the case up one tier by hand; the new tier gets its own time limit."""
    if len(clean_text(reason)) < 2:
        raise TransitionRefused(_("Give the reason for escalating"))

    def change(c: Case, now: datetime.datetime) -> None:
        up = next_tier(c.tier)
        if up is None:
            raise TransitionRefused(_("The case is already at the county tier"))
        _move_up(c, up, now, calendar or WorkingCalendar())

    def after(c: Case) -> None:
        _tell_tier([c], c.tier, _("Case %(code)s escalated to you") % {"code": c.tracking_code})

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.ESCALATE,
        allowed_from=[Stage.REPORTED, *_WORKING],
        what=_("escalated"),
        perm="cases.escalate_case",
        change=change,
        note=reason,
        after=after,
        **kw,
    )


def _move_up(c: Case, up: str, now: datetime.datetime, cal: WorkingCalendar) -> None:
    _accumulate_hours(c, now)
    c.tier = up
    c.escalations += 1
    c.due_at, c.due_fallback = deadline_for(c.category, up, c.urgent, now, cal)
    c.assignee = None
    if c.stage in (Stage.DISPATCHED, Stage.IN_PROGRESS):
        c.stage = Stage.ACCEPTED


def case_defer(
    case: Case | int,
    *,
    actor: User,
    days: int,
    reason: str,
    calendar: WorkingCalendar | None = None,
    **kw: Any,
) -> Case:
    """Extend the deadline by working days (延期); the case then counts as deferred."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DEFER_DAYS:
        raise TransitionRefused(
            _("days must be a whole number from 1 to %(n)d") % {"n": MAX_DEFER_DAYS}
        )
    if len(clean_text(reason)) < 2:
        raise TransitionRefused(_("Give the reason for the extension"))

    def change(c: Case, now: datetime.datetime) -> None:
        base = max(c.due_at, now)
        result = (calendar or WorkingCalendar()).add_working_days(base, days)
        c.due_at, c.due_fallback = result.due, result.fallback
        c.deferred = True
        c.overdue_at = None

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.DEFER,
        allowed_from=[Stage.REPORTED, *_WORKING],
        what=_("extended"),
        perm="cases.defer_case",
        change=change,
        note=reason,
        data={"days": days},
        **kw,
    )


def case_merge(
    case: Case | int, *, actor: User, main: Case | int, note: str = "", **kw: Any
) -> Case:
    """Merge a duplicate into the main case; the duplicate's reporter then follows the main."""
    main_pk = main.pk if isinstance(main, Case) else main
    case_pk = case.pk if isinstance(case, Case) else case
    if main_pk == case_pk:
        raise TransitionRefused(_("A case cannot be merged into itself"))
    main_case = Case.objects.visible_to(actor).filter(pk=main_pk).first()
    if main_case is None:
        raise TransitionRefused(_("The main case lies outside your area"))
    if main_case.stage == Stage.MERGED:
        raise TransitionRefused(_("The main case was itself merged into another"))

    def change(c: Case, now: datetime.datetime) -> None:
        c.stage = Stage.MERGED
        c.merged_into = main_case
        c.reject_reason = Case.RejectReason.DUPLICATE
        c.closed_at = now

    def after(c: Case) -> None:
        _event(
            main_case,
            actor,
            CaseEvent.Action.MERGED_IN,
            note=note,
            data={"duplicate": c.tracking_code},
        )

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.MERGE,
        allowed_from=[Stage.REPORTED, Stage.ACCEPTED],
        what=_("merged"),
        perm="cases.merge_case",
        change=change,
        note=note,
        data={"main": main_case.tracking_code},
        after=after,
        **kw,
    )


def reporter_may_rate(case: Case) -> bool:
    """Whether the reporter may rate `case` now: a closed case, or a merged one (their own
    report, rated on its own row) once the case it was joined with is closed, once."""
    if case.stage == Stage.CLOSED:
        return True
    if case.stage != Stage.MERGED or case.rating is not None or case.merged_into_id is None:
        return False
    main_stage = Case.objects.filter(pk=case.merged_into_id).values_list("stage", flat=True)
    return main_stage.first() in DONE_STAGES


def case_rate(
    case: Case | int, *, actor: User | None = None, rating: int, comment: str = "", **kw: Any
) -> Case:
    """The reporter's rating (actor None), or staff recording it from a call-back.

    A merged case is rated on its own row (its stage stays merged) once its main case is closed:
    the reporter rates how their own report was settled, never another reporter's case."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise TransitionRefused(_("rating must be a whole number from 1 to 5"))
    comment = clean_prose(comment)[:1000]

    def change(c: Case, now: datetime.datetime) -> None:
        if c.stage == Stage.MERGED:
            if not reporter_may_rate(c):
                raise TransitionRefused(
                    _("A merged request can be rated once, after the request it joined is closed")
                )
        else:
            c.stage = Stage.RATED
        c.rating = rating
        c.rating_comment = comment
        c.rated_at = now

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.RATE,
        allowed_from=[Stage.CLOSED, Stage.MERGED],
        what=_("rated"),
        perm="cases.close_case" if actor is not None else None,
        change=change,
        note=comment,
        data={"rating": rating},
        **kw,
    )


def case_reopen(case: Case | int, *, actor: User | None = None, reason: str, **kw: Any) -> Case:
    """The reporter rejects the result within 7 days of closure: the case goes back to work."""
    if len(clean_text(reason)) < 2:
        raise TransitionRefused(_("Say what is still wrong"))

    def change(c: Case, now: datetime.datetime) -> None:
        if c.closed_at is None or now - c.closed_at > datetime.timedelta(days=REOPEN_DAYS):
            raise TransitionRefused(
                _("A result can be rejected only within %(n)d days of closing") % {"n": REOPEN_DAYS}
            )
        _rework(c, now)
        c.rating = None
        c.rating_comment = ""
        c.rated_at = None

    def after(c: Case) -> None:
        _tell_tier(
            [c], c.tier, _("Case %(code)s reopened by the reporter") % {"code": c.tracking_code}
        )

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.REOPEN,
        allowed_from=list(DONE_STAGES),
        what=_("reopened"),
        perm="cases.close_case" if actor is not None else None,
        change=change,
        note=reason,
        after=after,
        **kw,
    )


def case_note(case: Case | int, *, actor: User, note: str, **kw: Any) -> Case:
    """A note on the timeline by anyone who may see and work on the case."""

    def change(c: Case, now: datetime.datetime) -> None:
        pass

    return _transition(
        case,
        actor=actor,
        action=CaseEvent.Action.NOTE,
        allowed_from=list(Stage.values),
        what=_("annotated"),
        perm="cases.handle_case",
        change=change,
        note=note,
        note_required=True,
        **kw,
    )


# --- Looking a case up for its reporter ------------------------------------------------------


def find_for_reporter(tracking_code: str, phone: str) -> Case | None:
    """The reporter's own case by its tracking code and their phone. A merged case is theirs
    too, never the main case it was joined with: that one holds another reporter's words and
    phone, and its rating and reopening are that reporter's."""
    code = normalize_tracking_code(tracking_code)
    try:
        number = clean_phone(phone)
    except ValidationError:
        return None
    if not code or not number:
        return None
    return (
        Case.objects.select_related("category", "merged_into")
        .filter(tracking_code=code, reporter_phone_hash=phone_key(number))
        .first()
    )


ACTIONS: dict[str, tuple[Sequence[str], str | None]] = {
    "accept": ([Stage.REPORTED], "cases.accept_case"),
    "reject": ([Stage.REPORTED], "cases.accept_case"),
    "dispatch": (_WORKING, "cases.dispatch_case"),
    "start": ([Stage.ACCEPTED, Stage.DISPATCHED], "cases.handle_case"),
    "progress": ([Stage.IN_PROGRESS], "cases.handle_case"),
    "handle": ([Stage.IN_PROGRESS], "cases.handle_case"),
    "verify": ([Stage.HANDLED], "cases.verify_case"),
    "send_back": ([Stage.HANDLED], "cases.verify_case"),
    "close": ([Stage.VERIFIED], "cases.close_case"),
    "escalate": ([Stage.REPORTED, *_WORKING], "cases.escalate_case"),
    "defer": ([Stage.REPORTED, *_WORKING], "cases.defer_case"),
    "merge": ([Stage.REPORTED, Stage.ACCEPTED], "cases.merge_case"),
    "rate": ([Stage.CLOSED], "cases.close_case"),
    "reopen": (list(DONE_STAGES), "cases.close_case"),
}


def allowed_actions(case: Case, user: User) -> list[str]:
    """The steps `user` may take on `case` now (for pages and the API)."""
    result = []
    for name, (stages, perm) in ACTIONS.items():
        if case.stage not in stages or perm is None or not user.has_perm(perm):
            continue
        if not may_act_at(user, case):
            continue
        if name == "escalate" and next_tier(case.tier) is None:
            continue
        if name in ("verify", "send_back") and case.assignee_id == user.pk:
            continue
        if (
            name in ("start", "progress", "handle")
            and case.assignee_id not in (None, user.pk)
            and not user.has_perm("cases.dispatch_case")
        ):
            continue
        result.append(name)
    return result
