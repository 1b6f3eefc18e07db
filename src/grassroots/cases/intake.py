"""Intake: a request from any channel taken in as a case (validated, placed in its grid or a
unit's queue, given its deadlines, recorded with its photos), and the look-ups a reporter uses.

`case_report` is one transaction: the case, its first timeline event, photos, the audit event and
the statistics bucket are written together or not at all; the tier is told after commit. Bad
input raises CaseInputError naming every field.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.crypto import digest
from grassroots.core.text import clean_prose, clean_text, compact
from grassroots.core.validators import validate_mobile
from grassroots.territory.geometry import parse_polygon, points_inside
from grassroots.territory.models import Grid, Unit

from . import notify as tell
from . import stats
from .deadlines import UNIT_TIER, deadline_for, first_tier
from .duplicates import likely_duplicates
from .errors import CaseInputError
from .models import Case, CaseEvent, CasePhoto, Category, Stage
from .timeline import record_event
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
    tier = first_tier(category, None if grid is not None else unit.level)
    start = data["reported_at"]
    # Both deadlines start alike: the first tier's time limit is the promise to the reporter.
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
        tier_due_at=due,
        tier_due_fallback=fallback,
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
        event = record_event(
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
        store_photos(case, event, data["photos"], data["photo_urls"])
        audit.created(case)
        stats.apply_delta(case, None, stats.contribution(case))
        if notify:
            tell.case_reported(case)
    return case


def _possible_duplicates(case: Case) -> list[str]:
    """Tracking codes of likely duplicates (same category, near, similar text, recent)."""
    if case.lon is None or case.lat is None:
        return []
    found = likely_duplicates(
        category=case.category,
        lon=case.lon,
        lat=case.lat,
        description=case.description,
        at=case.reported_at,
    )
    return [c.tracking_code for c, _score in found]


PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def photo_digest(upload: Any) -> str:
    """The SHA-256 of an uploaded photo, read in chunks; the file is rewound after."""
    upload.seek(0)
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


def photo_name(digest: str, content_type: str) -> str:
    """The name a photo is stored under: its digest's start and the extension of its type."""
    return f"{digest[:16]}.{PHOTO_EXTENSIONS.get(content_type, 'heic')}"


def store_photos(
    case: Case, event: CaseEvent | None, photos: Sequence[tuple[Any, str]], urls: Sequence[str]
) -> None:
    for upload, content_type in photos:
        digest = photo_digest(upload)
        photo = CasePhoto(
            case=case,
            event=event,
            content_type=content_type,
            size=upload.size or 0,
            sha256=digest,
        )
        photo.file.save(photo_name(digest, content_type), upload, save=False)
        photo.save()
    for url in urls:
        CasePhoto.objects.create(case=case, event=event, url=url)


# --- The workflow ----------------------------------------------------------------------------


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
