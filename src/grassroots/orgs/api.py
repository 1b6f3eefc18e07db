"""API of party organizations under /orgs/: organizations with their branch life, members
(numbers masked; reveal with a reason), meetings with attendance and photos, joint activities,
the shared talent pool and alliances.

Handlers check the role's permission first (403), then find rows through `visible_to` (an
organization outside the caller's scope answers 404 like one that does not exist), and write
through the services, which check who may write and audit every write.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import field_validator

from grassroots.cases.intake import MAX_PHOTOS
from grassroots.core.api_support import (
    ERROR_RESPONSES,
    UNIT_CODE_PATTERN,
    DateParam,
    ErrorOut,
    PageQuery,
    TextFilter,
    check_unit_code,
    filter_field,
    paginate,
    require_perm,
    responses,
)
from grassroots.core.scoping import Scope
from grassroots.registry.privacy import RevealLimitReached

from .activities import activity_record, member_reveal, photos_add
from .life import life
from .models import (
    Activity,
    Alliance,
    Meeting,
    Member,
    MemberPost,
    Organization,
    Photo,
)
from .schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    AlliancePage,
    LifeOut,
    MeetingDetailOut,
    MeetingIn,
    MeetingPage,
    MemberOut,
    MemberPage,
    OrganizationOut,
    OrganizationPage,
    RevealIn,
    RevealOut,
    TalentPage,
)
from .selectors import (
    alliances_for,
    organizations_for,
    secretaries_vacant_since,
    secretary_vacant_since,
    talent,
)
from .services import meeting_record

router = Router(tags=["orgs"])


# --- Rendering -----------------------------------------------------------------------------------


def org_ref(org: Organization | Alliance | None) -> dict[str, str] | None:
    return None if org is None else {"code": org.code, "name": org.name}


def organization_out(org: Organization, vacant_since: Any = ...) -> dict[str, Any]:
    """`vacant_since`: the secretary's vacancy when the caller read it for a whole page."""
    if vacant_since is ...:
        vacant_since = secretary_vacant_since(org)
    return {
        "code": org.code,
        "name": org.name,
        "kind": org.kind,
        "parent": org_ref(org.parent),
        "units": [{"code": s.unit_code, "name": s.unit.name} for s in org.served.all()],
        "members": org.member_count if hasattr(org, "member_count") else org.members.count(),
        "secretary_vacant_since": vacant_since,
    }


def member_out(member: Member, today: datetime.date) -> dict[str, Any]:
    due = member.conversion_due_on
    return {
        "id": member.pk,
        "name": member.name,
        "id_number": member.id_number_masked,
        "phone": member.phone_masked or None,
        "status": member.status,
        "joined_on": member.joined_on,
        "conversion_due_on": due,
        "conversion_overdue": due is not None and due <= today,
        "organization": org_ref(member.organization),
        "resident_id": member.resident_id,
        "posts": [p.post for p in member.posts.all() if p.ended_on is None],
        "skills": sorted(s.skill for s in member.skills.all()),
        "available": member.available,
    }


def photo_url(photo: Photo) -> str:
    return f"/api/v1/orgs/photos/{photo.pk}"


def meeting_out(meeting: Meeting) -> dict[str, Any]:
    # The counts the meeting keeps (services.meeting_record), not its attendance rows.
    counts = {
        "present": meeting.present_count,
        "absent": meeting.absent_count,
        "leave": meeting.leave_count,
    }
    return {
        "id": meeting.pk,
        "organization": org_ref(meeting.organization),
        "kind": meeting.kind,
        "held_on": meeting.held_on,
        "topic": meeting.topic,
        "place": meeting.place,
        "attendance": counts,
        "photos": [photo_url(p) for p in meeting.photos.all()],
    }


def activity_out(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.pk,
        "organization": org_ref(activity.organization),
        "alliance": org_ref(activity.alliance),
        "theme": activity.theme,
        "held_on": activity.held_on,
        "place": activity.place,
        "organizations": [org_ref(o) for o in activity.organizations.all()],
        "attendees": activity.attendee_count  # type: ignore[attr-defined]
        if hasattr(activity, "attendee_count")
        else activity.attendees.count(),
        "guests": activity.guests,
        "minutes": activity.minutes,
        "photos": [photo_url(p) for p in activity.photos.all()],
    }


def _members(qs: QuerySet[Member]) -> QuerySet[Member]:
    return qs.select_related("organization").prefetch_related(
        Prefetch("posts", queryset=MemberPost.objects.filter(ended_on__isnull=True)), "skills"
    )


def _org(user: Any, code: str) -> Organization:
    return get_object_or_404(organizations_for(user), code=code)


# --- Organizations -------------------------------------------------------------------------------


class OrganizationFilters(Schema):
    kind: TextFilter = filter_field(
        "committee, general_branch, branch, joint_branch or temporary_branch."
    )
    unit: TextFilter = filter_field(
        "Organizations serving a unit under this code.", UNIT_CODE_PATTERN
    )
    q: TextFilter = filter_field("Part of the name or the code.")

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        return check_unit_code(value)


@router.get(
    "/orgs/organizations",
    response=responses(OrganizationPage),
    operation_id="listOrganizations",
    summary="List party organizations",
)
def list_organizations(
    request: HttpRequest, filters: Query[OrganizationFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """The organizations you see (their units lie in your scope, or your scope lies in one of
    them), ordered by code."""
    user = require_perm(request, "orgs.view_organization")
    orgs = organizations_for(user)
    if filters.kind:
        orgs = orgs.filter(kind=filters.kind)
    if filters.unit:
        # A unit beyond the caller's scope names nothing, even where a joint branch they see
        # serves it too.
        scope = Scope.for_user(user)
        codes = scope.codes or ()
        near = scope.is_everything or any(
            filters.unit.startswith(c) or c.startswith(filters.unit) for c in codes
        )
        orgs = orgs.filter(served__unit_code__startswith=filters.unit).distinct()
        orgs = orgs if near else orgs.none()
    if filters.q:
        orgs = orgs.filter(Q(name__contains=filters.q) | Q(code__icontains=filters.q))
    orgs = (
        orgs.select_related("parent")
        .prefetch_related("served__unit")
        .annotate(member_count=Count("members", distinct=True))
        .order_by("code")
    )
    page = paginate(orgs, paging)
    vacant = secretaries_vacant_since(page["items"])
    page["items"] = [organization_out(o, vacant[o.pk]) for o in page["items"]]
    return page


@router.get(
    "/orgs/organizations/{code}",
    response=responses(OrganizationOut),
    operation_id="getOrganization",
    summary="Get a party organization",
)
def get_organization(request: HttpRequest, code: str) -> dict[str, Any]:
    """One organization by code; 404 outside your scope."""
    user = require_perm(request, "orgs.view_organization")
    return organization_out(_org(user, code))


class LifeQuery(Schema):
    since: DateParam = Field(None, description="First day (default: 1 January of this year).")
    until: DateParam = Field(None, description="Last day (default: today).")


@router.get(
    "/orgs/organizations/{code}/life",
    response=responses(LifeOut),
    operation_id="getOrganizationLife",
    summary="Branch life of an organization",
)
def get_organization_life(request: HttpRequest, code: str, params: Query[LifeQuery]) -> Any:
    """三会一课 and 主题党日 held against required per kind over [since, until]: a month or a
    quarter counts when it ends inside the range (as `grassroots orgs life`)."""
    user = require_perm(request, "orgs.view_organization", "orgs.view_meeting")
    org = _org(user, code)
    today = timezone.localdate()
    since = params.since or datetime.date(today.year, 1, 1)
    until = params.until or today
    if until < since:
        raise ValidationError({"until": ["until is before since"]})
    return life(org, since, until).as_json()


# --- Members -------------------------------------------------------------------------------------


class MemberFilters(Schema):
    org: TextFilter = filter_field("An organization's code.")
    status: TextFilter = filter_field("formal or probationary.")
    skill: TextFilter = filter_field("A skill, e.g. 种植.")


@router.get(
    "/orgs/members",
    response=responses(MemberPage),
    operation_id="listMembers",
    summary="List party members",
)
def list_members(
    request: HttpRequest, filters: Query[MemberFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Members of the organizations you see, ordered by organization and name; ID and phone
    numbers masked."""
    user = require_perm(request, "orgs.view_member")
    members = Member.objects.visible_to(user)
    if filters.org:
        members = members.filter(organization__code=filters.org)
    if filters.status:
        members = members.filter(status=filters.status)
    if filters.skill:
        members = members.filter(skills__skill=filters.skill)
    page = paginate(_members(members).order_by("organization__code", "name", "pk"), paging)
    today = timezone.localdate()
    page["items"] = [member_out(m, today) for m in page["items"]]
    return page


@router.get(
    "/orgs/members/{member_id}",
    response=responses(MemberOut),
    operation_id="getMember",
    summary="Get a party member",
)
def get_member(request: HttpRequest, member_id: int) -> dict[str, Any]:
    """One member by id; 404 outside your scope."""
    user = require_perm(request, "orgs.view_member")
    member = get_object_or_404(_members(Member.objects.visible_to(user)), pk=member_id)
    return member_out(member, timezone.localdate())


@router.post(
    "/orgs/members/{member_id}/reveal",
    response={**responses(RevealOut), 429: ErrorOut},
    operation_id="revealMember",
    summary="Reveal one masked number of a member",
)
def reveal_member(
    request: HttpRequest, member_id: int, body: RevealIn, response: HttpResponse
) -> dict[str, Any]:
    """The full ID or mobile number of one member in your scope, for a stated reason; recorded
    in the audit trail, within the daily cap of reveals (429 beyond). `Cache-Control: no-store`."""
    user = require_perm(request, "orgs.view_member", "orgs.reveal_member")
    member = get_object_or_404(Member.objects.visible_to(user), pk=member_id)
    try:
        value, event = member_reveal(user=user, member=member, field=body.field, reason=body.reason)
    except RevealLimitReached as exc:
        raise HttpError(429, str(exc)) from None
    response["Cache-Control"] = "no-store"
    return {"member_id": member.pk, "field": body.field, "value": value, "event_id": event.pk}


# --- Meetings ------------------------------------------------------------------------------------


class MeetingFilters(Schema):
    org: TextFilter = filter_field("An organization's code.")
    kind: TextFilter = filter_field(
        "member_meeting, committee_meeting, group_meeting, party_lecture or theme_day."
    )
    since: DateParam = Field(None, description="Held on or after.")
    until: DateParam = Field(None, description="Held on or before.")


def _meetings(qs: QuerySet[Meeting]) -> QuerySet[Meeting]:
    return qs.select_related("organization").prefetch_related("photos")


@router.get(
    "/orgs/meetings",
    response=responses(MeetingPage),
    operation_id="listMeetings",
    summary="List meetings",
)
def list_meetings(
    request: HttpRequest, filters: Query[MeetingFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Meetings of the organizations you see, newest first."""
    user = require_perm(request, "orgs.view_meeting")
    meetings = Meeting.objects.visible_to(user)
    if filters.org:
        meetings = meetings.filter(organization__code=filters.org)
    if filters.kind:
        meetings = meetings.filter(kind=filters.kind)
    if filters.since:
        meetings = meetings.filter(held_on__gte=filters.since)
    if filters.until:
        meetings = meetings.filter(held_on__lte=filters.until)
    page = paginate(_meetings(meetings).order_by("-held_on", "-pk"), paging)
    page["items"] = [meeting_out(m) for m in page["items"]]
    return page


def meeting_detail(meeting: Meeting) -> dict[str, Any]:
    rows = meeting.attendance.select_related("member").order_by("member__name", "member_id")
    return {
        **meeting_out(meeting),
        "minutes": meeting.minutes,
        "attendees": [
            {
                "member_id": a.member_id,
                "name": a.member.name,
                "status": a.status,
                "reason": a.reason,
            }
            for a in rows
        ],
    }


@router.get(
    "/orgs/meetings/{meeting_id}",
    response=responses(MeetingDetailOut),
    operation_id="getMeeting",
    summary="Get a meeting with its attendance",
)
def get_meeting(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    """One meeting by id; 404 outside your scope."""
    user = require_perm(request, "orgs.view_meeting")
    return meeting_detail(
        get_object_or_404(_meetings(Meeting.objects.visible_to(user)), pk=meeting_id)
    )


@router.post(
    "/orgs/organizations/{code}/meetings",
    response=responses(MeetingDetailOut),
    operation_id="recordMeeting",
    summary="Record a meeting of an organization",
)
def record_meeting(request: HttpRequest, code: str, body: MeetingIn) -> dict[str, Any]:
    """A meeting with each member's attendance (an absence needs its reason). Recorded by the
    town above the organization, the county, its secretary, or the secretary of a village it
    serves (403 for others); audited."""
    user = require_perm(request, "orgs.add_meeting")
    org = _org(user, code)
    attendance = {a.member_id: (a.status, a.reason) for a in body.attendance}
    data = body.dict(exclude={"attendance"})
    try:
        meeting = meeting_record(actor=user, organization=org, data=data, attendance=attendance)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return meeting_detail(_meetings(Meeting.objects.all()).get(pk=meeting.pk))


@router.post(
    "/orgs/meetings/{meeting_id}/photos",
    response=responses(MeetingDetailOut),
    operation_id="addMeetingPhotos",
    summary="Add photos to a meeting",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {"properties": {"photos": {"minItems": 1, "maxItems": MAX_PHOTOS}}}
                }
            }
        }
    },
)
def add_meeting_photos(
    request: HttpRequest, meeting_id: int, photos: File[list[UploadedFile]]
) -> dict[str, Any]:
    """Up to 9 photos (JPEG, PNG, WebP, HEIC; size limited), multipart; by those who record
    the organization's meetings."""
    user = require_perm(request, "orgs.view_meeting", "orgs.add_meeting")
    meeting = get_object_or_404(Meeting.objects.visible_to(user), pk=meeting_id)
    try:
        photos_add(actor=user, uploads=list(photos), meeting=meeting)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return meeting_detail(_meetings(Meeting.objects.all()).get(pk=meeting.pk))


def visible_photos(user: Any) -> QuerySet[Photo]:
    """Photos of the meetings and activities `user` sees."""
    return Photo.objects.filter(
        Q(meeting__in=Meeting.objects.visible_to(user).values("pk"))
        | Q(activity__in=Activity.objects.visible_to(user).values("pk"))
    )


@router.get(
    "/orgs/photos/{photo_id}",
    response=ERROR_RESPONSES,
    operation_id="getOrgPhoto",
    summary="A photo of a meeting or an activity",
    openapi_extra={
        "responses": {
            200: {
                "description": "The image, in the type it was stored as.",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ("image/jpeg", "image/png", "image/webp", "image/heic")
                },
            }
        }
    },
)
def get_org_photo(request: HttpRequest, photo_id: int) -> FileResponse:
    """The image as uploaded (its type checked then); 404 outside your scope."""
    user = require_perm(request, "orgs.view_meeting")
    photo = get_object_or_404(visible_photos(user), pk=photo_id)
    response = FileResponse(photo.file.open("rb"), content_type=photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Joint activities ----------------------------------------------------------------------------


class ActivityFilters(Schema):
    org: TextFilter = filter_field("An organization's code: the activities it led or took part in.")
    since: DateParam = Field(None, description="Held on or after.")
    until: DateParam = Field(None, description="Held on or before.")


def _activities(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    return (
        qs.select_related("organization", "alliance")
        .prefetch_related("organizations", "photos")
        .annotate(attendee_count=Count("attendees", distinct=True))
    )


@router.get(
    "/orgs/activities",
    response=responses(ActivityPage),
    operation_id="listActivities",
    summary="List joint activities",
)
def list_activities(
    request: HttpRequest, filters: Query[ActivityFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """The calendar of joint activities of the joint branches and alliances you see, newest
    first."""
    user = require_perm(request, "orgs.view_activity")
    activities = Activity.objects.visible_to(user)
    if filters.org:
        activities = activities.filter(
            Q(organization__code=filters.org) | Q(organizations__code=filters.org)
        ).distinct()
    if filters.since:
        activities = activities.filter(held_on__gte=filters.since)
    if filters.until:
        activities = activities.filter(held_on__lte=filters.until)
    page = paginate(_activities(activities).order_by("-held_on", "-pk"), paging)
    page["items"] = [activity_out(a) for a in page["items"]]
    return page


@router.get(
    "/orgs/activities/{activity_id}",
    response=responses(ActivityOut),
    operation_id="getActivity",
    summary="Get a joint activity",
)
def get_activity(request: HttpRequest, activity_id: int) -> dict[str, Any]:
    """One activity by id; 404 outside your scope."""
    user = require_perm(request, "orgs.view_activity")
    return activity_out(
        get_object_or_404(_activities(Activity.objects.visible_to(user)), pk=activity_id)
    )


@router.post(
    "/orgs/activities",
    response=responses(ActivityOut),
    operation_id="recordActivity",
    summary="Record a joint activity",
)
def record_activity(request: HttpRequest, body: ActivityIn) -> dict[str, Any]:
    """A joint activity led by a joint branch or an alliance's organization: the organizations
    taking part (of its pool) and the members present (of those organizations); audited.
    Organizations and members are named by code and id among those you see; others are
    refused as unknown (422)."""
    user = require_perm(request, "orgs.view_activity", "orgs.add_activity")
    visible = organizations_for(user)
    org = visible.filter(code=body.organization).first()
    if org is None:
        raise ValidationError(
            {"organization": [f"no organization {body.organization} in your scope"]}
        )
    alliance = None
    if body.alliance:
        alliance = alliances_for(user).filter(code=body.alliance).first()
        if alliance is None:
            raise ValidationError({"alliance": [f"no alliance {body.alliance} in your scope"]})
    orgs = list(visible.filter(code__in=body.organizations))
    unknown = sorted(set(body.organizations) - {o.code for o in orgs})
    if unknown:
        raise ValidationError(
            {"organizations": [f"no organization {', '.join(unknown)} in your scope"]}
        )
    people = list(Member.objects.visible_to(user).filter(pk__in=body.attendees))
    missing = sorted(set(body.attendees) - {m.pk for m in people})
    if missing:
        raise ValidationError(
            {"attendees": [f"no member {', '.join(str(i) for i in missing)} in your scope"]}
        )
    data = body.dict(include={"theme", "held_on", "place", "minutes", "guests"})
    try:
        with transaction.atomic():
            activity = activity_record(
                actor=user,
                organization=org,
                data=data,
                organizations=orgs,
                attendees=people,
                alliance=alliance,
            )
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return activity_out(_activities(Activity.objects.all()).get(pk=activity.pk))


# --- The talent pool and alliances ---------------------------------------------------------------


class TalentQuery(Schema):
    group: str = Field(
        max_length=32,
        description="The code of a joint branch (its members and those of its villages' "
        "organizations) or of an alliance (the members of its organizations). One outside your "
        "scope finds nobody.",
        pattern=r"^[A-Za-z0-9-]+$",
    )
    skill: TextFilter = filter_field("A skill: 种植, 电商, 法律, 医疗, 建筑, 养殖, …")
    available: bool = Field(False, description="Only members available for shared work.")


@router.get(
    "/orgs/talent",
    response=responses(TalentPage),
    operation_id="searchTalent",
    summary="Search a shared talent pool by skill",
)
def search_talent(
    request: HttpRequest, params: Query[TalentQuery], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Members of a joint branch's or an alliance's pool with a skill, available ones first."""
    user = require_perm(request, "orgs.view_member")
    group: Organization | Alliance | None = (
        organizations_for(user).filter(code=params.group).first()
    )
    if group is None:
        group = alliances_for(user).filter(code=params.group).first()
    if group is None:
        return {"count": 0, "page": paging.page, "page_size": paging.page_size, "items": []}
    found = talent(group, (params.skill or "").strip(), available_only=params.available)
    page = paginate(found.prefetch_related("skills"), paging)
    seen = set(
        Member.objects.visible_to(user)
        .filter(pk__in=[m.pk for m in page["items"]])
        .values_list("pk", flat=True)
    )
    page["items"] = [
        {
            "id": m.pk,
            "name": m.name,
            "organization": org_ref(m.organization),
            "skills": sorted(s.skill for s in m.skills.all()),
            "available": m.available,
            "phone": (m.phone_masked or None) if m.pk in seen else None,
            "in_scope": m.pk in seen,
        }
        for m in page["items"]
    ]
    return page


@router.get(
    "/orgs/alliances",
    response=responses(AlliancePage),
    operation_id="listAlliances",
    summary="List alliances (联建)",
)
def list_alliances(request: HttpRequest, paging: Query[PageQuery]) -> dict[str, Any]:
    """Alliances one of whose organizations you see, ordered by code."""
    user = require_perm(request, "orgs.view_alliance")
    page = paginate(alliances_for(user).prefetch_related("organizations").order_by("code"), paging)
    page["items"] = [
        {
            "code": a.code,
            "name": a.name,
            "organizations": [org_ref(o) for o in a.organizations.order_by("code")],
        }
        for a in page["items"]
    ]
    return page
