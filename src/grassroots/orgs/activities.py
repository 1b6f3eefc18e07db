"""Joint activities (联建活动) of a joint branch or an alliance, photos of meetings and
activities, and revealing a member's full number: writes, each audited in its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.cases.intake import check_photos, photo_digest, photo_name
from grassroots.registry.privacy import reveal_field

from .models import Activity, Alliance, Meeting, Member, Organization, Photo
from .selectors import pool_organizations
from .services import may_record_meeting

if TYPE_CHECKING:
    from grassroots.accounts.models import User


def may_record_activity(user: User | Any, organization: Organization) -> bool:
    """Who records an organization's activities: those who record its meetings."""
    if user is None or getattr(user, "is_superuser", False):
        return True
    return bool(user.has_perm("orgs.add_activity")) and may_record_meeting(user, organization)


def _clean_activity(
    activity: Activity,
    data: Mapping[str, Any],
    organizations: Sequence[Organization],
    attendees: Sequence[Member],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("theme", "held_on", "place", "minutes", "guests"):
        if name in data:
            setattr(activity, name, data[name])
    try:
        activity.full_clean(exclude=["organizations", "attendees"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if activity.held_on and activity.held_on > timezone.localdate():
        errors.setdefault("held_on", []).append(_("an activity is recorded once it is held"))
    group: Organization | Alliance = activity.alliance or activity.organization
    pool = set(pool_organizations(group).values_list("pk", flat=True))
    strangers = [o.code for o in organizations if o.pk not in pool]
    if strangers:
        errors.setdefault("organizations", []).append(
            _("not in this joint branch or alliance: %(codes)s") % {"codes": ", ".join(strangers)}
        )
    taking_part = {o.pk for o in organizations} | {activity.organization_id}
    outsiders = [m.pk for m in attendees if m.organization_id not in taking_part]
    if outsiders:
        errors.setdefault("attendees", []).append(
            _("members %(ids)s are not members of an organization taking part")
            % {"ids": ", ".join(str(i) for i in outsiders)}
        )
    return errors


def activity_record(
    *,
    actor: User | None,
    organization: Organization,
    data: Mapping[str, Any],
    organizations: Sequence[Organization] = (),
    attendees: Sequence[Member] = (),
    alliance: Alliance | None = None,
) -> Activity:
    """A joint activity led by `organization` (a joint branch, or an organization of
    `alliance`): theme, held_on, place, minutes, guests; the organizations taking part (of the
    joint branch's pool or the alliance) and the members present (of those organizations)."""
    if actor is not None and not may_record_activity(actor, organization):
        raise PermissionDenied(_("You may not record this organization's activities."))
    if alliance is not None and not alliance.organizations.filter(pk=organization.pk).exists():
        raise ValidationError({"alliance": [_("the organization is not part of this alliance")]})
    orgs = list(dict.fromkeys([organization, *organizations]))
    people = list(dict.fromkeys(attendees))
    activity = Activity(organization=organization, alliance=alliance)
    errors = _clean_activity(activity, data, orgs, people)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activity.save()
        activity.organizations.set(orgs)
        activity.attendees.set(people)
        changes = {k: [None, v] for k, v in audit.snapshot(activity).items() if v not in (None, "")}
        changes["organizations"] = [None, sorted(o.code for o in orgs)]
        changes["attendees"] = [None, len(people)]
        audit.changed(activity, changes, action=Event.Action.CREATE)
    return activity


def photos_add(
    *,
    actor: User | None,
    uploads: Sequence[Any],
    meeting: Meeting | None = None,
    activity: Activity | None = None,
) -> list[Photo]:
    """Photos of a meeting or an activity (JPEG, PNG, WebP or HEIC, sniffed from the bytes,
    at most 9 at once, each under CASE_PHOTO_MAX_BYTES); the actor must be one who records it."""
    owner = meeting or activity
    if owner is None or (meeting is None) == (activity is None):
        raise ValueError("photos belong to one meeting or one activity")
    org = owner.organization
    allowed = may_record_meeting(actor, org) if meeting else may_record_activity(actor, org)
    if actor is not None and not allowed:
        raise PermissionDenied(_("You may not add photos here."))
    checked = check_photos(list(uploads))
    photos: list[Photo] = []
    with transaction.atomic():
        for upload, content_type in checked:
            digest = photo_digest(upload)
            photo = Photo(
                meeting=meeting,
                activity=activity,
                content_type=content_type,
                size=upload.size or 0,
                sha256=digest,
            )
            photo.file.save(photo_name(digest, content_type), upload, save=False)
            photo.save()
            photos.append(photo)
        if photos:
            audit.changed(owner, {"photos": [None, len(photos)]})
    return photos


def member_reveal(*, user: User, member: Member, field: str, reason: str) -> tuple[str, Event]:
    """The full ID or mobile number of a member the user sees (found through visible_to
    first), for a stated reason: recorded before it is returned, within the daily cap shared
    with the registry's reveals (registry.privacy)."""
    if not user.has_perm("orgs.reveal_member"):
        raise PermissionDenied(_("Your role may not reveal personal numbers."))
    return reveal_field(
        user=user, obj=member, field=field, reason=reason, scope_code=member.audit_scope
    )
