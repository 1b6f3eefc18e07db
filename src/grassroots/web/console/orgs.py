"""Console pages of party organizations: the tree of the user's scope with branch life, an
organization's page (members with masked numbers, posts, life, meetings, activities; a joint
branch's villages with their combined figures), the talent pool search."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from grassroots.accounts.models import User
from grassroots.orgs.activities import (
    activity_record,
    may_record_activity,
    member_reveal,
    photos_add,
)
from grassroots.orgs.life import life
from grassroots.orgs.models import (
    Activity,
    Alliance,
    MeetingKind,
    Member,
    MemberPost,
    MemberSkill,
    Organization,
    Post,
)
from grassroots.orgs.overview import org_tree, unit_figures, year_range
from grassroots.orgs.selectors import (
    alliances_for,
    conversions_overdue,
    organizations_for,
    pool_organizations,
    secretary_vacant_since,
    talent,
)
from grassroots.orgs.services import may_record_meeting, meeting_record
from grassroots.web.paging import sorted_page

from .orgs_forms import ActivityForm, MeetingForm, RevealForm, TalentForm

FIRST_YEAR = 2000


def signed_in(request: HttpRequest) -> User:
    """The user of a view behind `login_required`."""
    return cast("User", request.user)


def year_of(request: HttpRequest, today: datetime.date) -> int:
    """`?year=`: a year from FIRST_YEAR to this one; anything else is a 404."""
    raw = request.GET.get("year", "").strip()
    if not raw:
        return today.year
    if not raw.isdigit() or not FIRST_YEAR <= int(raw) <= today.year:
        raise Http404(_("No such year."))
    return int(raw)


@login_required
@permission_required("orgs.view_organization", raise_exception=True)
def tree(request: HttpRequest) -> HttpResponse:
    """The organizations the user sees, each under its parent, with the year's branch life."""
    today = timezone.localdate()
    year = year_of(request, today)
    since, until = year_range(year, today)
    orgs = organizations_for(request.user)
    kind = request.GET.get("kind", "")
    if kind in Organization.Kind.values:
        orgs = orgs.filter(kind=kind)
    else:
        kind = ""
    rows = org_tree(orgs, since, until, today)
    labels = {value: str(label) for value, label in Organization.Kind.choices}
    for row in rows:  # said once here: a county's page has some 300 rows
        row.kind_label = labels[row.org.kind]  # type: ignore[attr-defined]
        row.gaps_label = ngettext("%(n)d gap", "%(n)d gaps", row.missing) % {  # type: ignore[attr-defined]
            "n": row.missing
        }
    gaps_only = request.GET.get("gaps") == "1"
    if gaps_only:
        rows = [r for r in rows if r.missing or not r.has_secretary or r.conversions_overdue]
    context: dict[str, Any] = {
        "rows": rows,
        "year": year,
        "years": list(range(today.year, max(FIRST_YEAR, today.year - 5) - 1, -1)),
        "kind": kind,
        "kinds": Organization.Kind.choices,
        # The organization pages' address, joined with each code in the template (a reverse()
        # per row was a third of a county page's time).
        "orgs_url": reverse("console:orgs"),
        "gaps_only": gaps_only,
        "since": since,
        "until": until,
        "totals": {
            "orgs": len(rows),
            "members": sum(r.members for r in rows),
            "vacant": sum(1 for r in rows if not r.has_secretary),
            "missing": sum(1 for r in rows if r.missing),
        },
    }
    return render(request, "web/console/orgs_tree.html", context)


def _visible_org(request: HttpRequest, code: str) -> Organization:
    return get_object_or_404(organizations_for(request.user), code=code)


def _members(org: Organization) -> list[Member]:
    """The organization's members with their current posts and skills (three queries)."""
    members = list(org.members.select_related("resident", "user").order_by("name", "pk"))
    posts: dict[int, list[str]] = {}
    for member_id, post in MemberPost.objects.filter(
        organization=org, ended_on__isnull=True
    ).values_list("member_id", "post"):
        posts.setdefault(member_id, []).append(str(Post(post).label))
    skills: dict[int, list[str]] = {}
    for member_id, skill in MemberSkill.objects.filter(member__organization=org).values_list(
        "member_id", "skill"
    ):
        skills.setdefault(member_id, []).append(skill)
    for m in members:
        m.current_posts = posts.get(m.pk, [])  # type: ignore[attr-defined]
        m.skill_list = sorted(skills.get(m.pk, []))  # type: ignore[attr-defined]
    return members


@login_required
@permission_required("orgs.view_organization", raise_exception=True)
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """One organization: what it serves, its members, its year of branch life and activities."""
    org = _visible_org(request, code)
    today = timezone.localdate()
    year = year_of(request, today)
    since, until = year_range(year, today)
    visible = organizations_for(request.user)
    the_life = life(org, since, until)
    kinds = [
        {"code": kind, "label": MeetingKind(kind).label, "life": k}
        for kind, k in the_life.kinds.items()
    ]
    meetings = (
        org.meetings.filter(held_on__gte=datetime.date(year, 1, 1), held_on__lte=until)
        .annotate(
            present=Count("attendance", filter=Q(attendance__status="present"), distinct=True),
            expected=Count("attendance", distinct=True),
            photo_count=Count("photos", distinct=True),
        )
        .order_by("-held_on", "-pk")
    )
    activities = (
        Activity.objects.filter(Q(organization=org) | Q(organizations=org))
        .filter(held_on__year=year)
        .annotate(present=Count("attendees", distinct=True))
        .distinct()
        .order_by("-held_on", "-pk")
    )
    members = _members(org) if request.user.has_perm("orgs.view_member") else None
    units, total = unit_figures(org)
    vacant_since = secretary_vacant_since(org)
    context = {
        "org": org,
        "year": year,
        "years": list(range(today.year, max(FIRST_YEAR, today.year - 5) - 1, -1)),
        "since": since,
        "until": until,
        "parent": visible.filter(pk=org.parent_id).first() if org.parent_id else None,
        "children": visible.filter(parent=org).order_by("code"),
        "kinds": kinds,
        "attendance_rate": the_life.attendance_rate,
        "meetings": meetings[:50],
        "activities": activities[:50],
        "members": members,
        "overdue": set(conversions_overdue(org.members.all(), today).values_list("pk", flat=True)),
        "vacant_since": vacant_since,
        "vacant_days": (today - vacant_since).days if vacant_since else 0,
        "alliances": org.alliances.order_by("code"),
        "units": units,
        "total": total,
        "may_record": request.user.has_perm("orgs.add_meeting")
        and may_record_meeting(request.user, org),
        "may_reveal": request.user.has_perm("orgs.reveal_member"),
        "may_record_activity": request.user.has_perm("orgs.add_activity")
        and may_record_activity(request.user, org),
        "is_pool": org.kind == Organization.Kind.JOINT_BRANCH or org.alliances.exists(),
    }
    return render(request, "web/console/orgs_detail.html", context)


@login_required
@permission_required("orgs.add_meeting", raise_exception=True)
def meeting_new(request: HttpRequest, code: str) -> HttpResponse:
    """Record a meeting on a phone: kind, date, topic, attendance ticked from the list, photos."""
    org = _visible_org(request, code)
    if not may_record_meeting(request.user, org):
        raise PermissionDenied(_("You may not record this organization's meetings."))
    members = list(org.members.order_by("name", "pk"))
    form = MeetingForm(request.POST or None, request.FILES or None, members=members)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                meeting = meeting_record(
                    actor=signed_in(request),
                    organization=org,
                    data=form.data_for_service(),
                    attendance=form.attendance(),
                )
                photos_add(
                    actor=signed_in(request), uploads=form.cleaned_data["photos"], meeting=meeting
                )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(
                request,
                _("Meeting of %(date)s recorded: %(present)d present.")
                % {
                    "date": meeting.held_on.isoformat(),
                    "present": sum(1 for s, _r in form.attendance().values() if s == "present"),
                },
            )
            return redirect(reverse("console:org", args=[org.code]) + "#meetings")
    status = 400 if request.method == "POST" else 200
    last_place = (
        org.meetings.exclude(place="").order_by("-held_on").values_list("place", flat=True).first()
    )
    if last_place and not form.is_bound:
        form.fields["place"].initial = last_place
    return render(
        request, "web/console/orgs_meeting.html", {"org": org, "form": form}, status=status
    )


@login_required
@permission_required("orgs.add_activity", raise_exception=True)
def activity_new(request: HttpRequest, code: str) -> HttpResponse:
    """Record a joint activity of a joint branch (or any organization) with its pool."""
    org = _visible_org(request, code)
    user = signed_in(request)
    if not may_record_activity(user, org):
        raise PermissionDenied(_("You may not record this organization's activities."))
    pool = list(pool_organizations(org).order_by("code"))
    members = list(
        Member.objects.filter(organization__in=pool)
        .select_related("organization")
        .order_by("organization__code", "name", "pk")
    )
    form = ActivityForm(request.POST or None, request.FILES or None, pool=pool, members=members)
    if request.method == "POST" and form.is_valid():
        orgs, people = form.chosen()
        try:
            with transaction.atomic():
                activity = activity_record(
                    actor=user,
                    organization=org,
                    data=form.data_for_service(),
                    organizations=orgs,
                    attendees=people,
                )
                photos_add(actor=user, uploads=form.cleaned_data["photos"], activity=activity)
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(
                request,
                _("Activity “%(theme)s” recorded.") % {"theme": activity.theme},
            )
            return redirect(reverse("console:org", args=[org.code]) + "#activities")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "web/console/orgs_activity.html", {"org": org, "form": form}, status=status
    )


@login_required
@permission_required("orgs.view_member", raise_exception=True)
def member_reveal_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A member's full ID or mobile number, for a stated reason (recorded)."""
    member = get_object_or_404(Member.objects.visible_to(request.user), pk=pk)
    if not request.user.has_perm("orgs.reveal_member"):
        raise PermissionDenied(_("Your role may not reveal personal numbers."))
    form = RevealForm(request.POST or None)
    value = None
    if request.method == "POST" and form.is_valid():
        try:
            value, _event = member_reveal(
                user=signed_in(request),
                member=member,
                field=form.cleaned_data["field"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
    response = render(
        request,
        "web/console/orgs_reveal.html",
        {"member": member, "form": form, "value": value},
        status=400 if request.method == "POST" and value is None else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


def talent_groups(user: Any) -> list[tuple[str, str]]:
    """The joint branches and alliances the user sees: the pools one searches."""
    joint = organizations_for(user).filter(kind=Organization.Kind.JOINT_BRANCH)
    return [(o.code, o.name) for o in joint.order_by("code")] + [
        (a.code, a.name) for a in alliances_for(user).order_by("code")
    ]


def group_named(user: Any, code: str) -> Organization | Alliance:
    """The organization or alliance `code` the user sees; else a 404."""
    org = organizations_for(user).filter(code=code).first()
    if org is not None:
        return org
    alliance = alliances_for(user).filter(code=code).first()
    if alliance is None:
        raise Http404(_("No such joint branch or alliance in your scope."))
    return alliance


@login_required
@permission_required("orgs.view_member", raise_exception=True)
def talent_search(request: HttpRequest) -> HttpResponse:
    """The shared talent pool of a joint branch or an alliance, searched by skill."""
    form = TalentForm(request.GET or None)
    groups = talent_groups(request.user)
    context: dict[str, Any] = {"form": form, "groups": groups, "skills": SKILLS}
    if form.is_valid() and form.cleaned_data["group"]:
        group = group_named(request.user, form.cleaned_data["group"])
        found = talent(
            group,
            form.cleaned_data["skill"].strip(),
            available_only=form.cleaned_data["available"],
        ).prefetch_related("skills")
        context.update(sorted_page(request, found, TALENT_SORTS, "available"))
        context["group"] = group
        # Numbers (masked) only of members in the user's own scope: the pool shares who can
        # help across villages, not their numbers.
        shown = [m.pk for m in context["page_obj"]]
        context["seen"] = set(
            Member.objects.visible_to(request.user)
            .filter(pk__in=shown)
            .values_list("pk", flat=True)
        )
    return render(request, "web/console/orgs_talent.html", context)


TALENT_SORTS: dict[str, Sequence[str]] = {
    "available": ["-available", "name"],
    "name": ["name"],
    "org": ["organization"],
}
# The skills offered as suggestions (any text may be searched).
SKILLS = ["种植", "养殖", "电商", "法律", "医疗", "建筑", "教育", "农机", "财会", "文艺"]
