"""Every endpoint, every persona, every object outside the persona's scope: 404, nothing shown.

The operations come from the OpenAPI document. An operation with a path parameter must have an
entry in TARGETS (which rows the parameter names, how to put one in the path, which permissions
the operation checks first) or in NOT_OBJECTS: a new endpoint without one fails
`test_it_knows_what_every_path_parameter_names` until it is added here (one line).

List filters that name a grid, unit, household or object outside the scope give an empty list
with a count of 0; every query parameter of a list is either such a filter (LIST_FILTERS) or
known to name nothing scoped (PLAIN_PARAMETERS).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.audit.selectors import visible_events
from grassroots.cases.models import Case, Notification
from grassroots.cases.services import case_report
from grassroots.core.scoping import Scope
from grassroots.orgs.api import visible_photos
from grassroots.orgs.models import (
    Activity,
    Alliance,
    Booking,
    Meeting,
    Member,
    Organization,
    Photo,
    Project,
    Resource,
)
from grassroots.registry.models import Enterprise, Household, Resident
from grassroots.territory.models import Grid, Unit
from tests import factories as f
from tests.orgs.party_world import party_world
from tests.orgs.shared_world import shared_world

from .conftest import API, _enterprise, body

PERSONAS = [
    "admin",
    "official",
    "secretary",
    "worker",
    "worker2",
    "outsider",
    "auditor",
    "dispatcher",
]


@dataclass(frozen=True)
class Target:
    """The rows a path parameter names, and how a request for one of them is made."""

    model: Any
    param: str
    perms: tuple[str, ...]  # checked before the lookup: without them, 403 whatever the object
    attribute: str = "pk"  # what of the row goes into the path
    body: dict[str, Any] | None = None  # a valid body, so that only the scope decides
    path: dict[str, str] | None = None  # values of the operation's other path parameters
    visible: Callable[[Any], Any] | None = field(default=None, compare=False)

    def visible_rows(self, user: Any) -> Any:
        return self.visible(user) if self.visible else self.model.objects.visible_to(user)


class MediationCases:
    """The cases the mediation endpoints name (dispute cases); others answer 409 there."""

    kind = Case.Kind.MEDIATION
    objects = Case.objects.filter(kind=kind)


class AssistanceCases:
    """The cases the assistance endpoints name (hardship cases)."""

    kind = Case.Kind.ASSISTANCE
    objects = Case.objects.filter(kind=kind)


TARGETS = {
    "getUnit": Target(Unit, "code", ("territory.view_unit",), attribute="code"),
    "getGrid": Target(Grid, "code", ("territory.view_grid",), attribute="code"),
    "getHousehold": Target(Household, "household_id", ("registry.view_household",)),
    "getResident": Target(Resident, "resident_id", ("registry.view_resident",)),
    "revealResident": Target(
        Resident,
        "resident_id",
        ("registry.view_resident", "registry.reveal_resident"),
        body={"field": "id_number", "reason": "checking the scope rules"},
    ),
    "getEnterprise": Target(Enterprise, "enterprise_id", ("registry.view_enterprise",)),
    "getAuditEvent": Target(Event, "event_id", ("audit.view_event",), visible=visible_events),
    # Notifications: `elsewhere` writes a failed one there and one in town A.
    "retryNotification": Target(Notification, "notification_id", ("cases.view_notification",)),
    "getCase": Target(Case, "tracking_code", ("cases.view_case",), attribute="tracking_code"),
    "actOnCase": Target(
        Case,
        "tracking_code",
        ("cases.view_case", "cases.handle_case"),
        attribute="tracking_code",
        body={"note": "checking the scope rules"},
        path={"action": "note"},
    ),
    **{
        operation: Target(
            kind_cases,
            "tracking_code",
            (perm,),
            attribute="tracking_code",
            body=payload,
            visible=lambda user, kind=kind_cases.kind: Case.objects.visible_to(user).filter(
                kind=kind
            ),
        )
        for kind_cases, operation, perm, payload in [
            (MediationCases, "getMediation", "cases.view_case", None),
            (MediationCases, "addMediationParty", "cases.handle_case", {"name": "甲方"}),
            (
                MediationCases,
                "addMediationSession",
                "cases.handle_case",
                {"held_at": "2024-01-01T09:00:00+08:00", "notes": "调解"},
            ),
            (MediationCases, "concludeMediation", "cases.handle_case", {"outcome": "failed"}),
            (AssistanceCases, "getAssistance", "cases.view_case", None),
            (AssistanceCases, "planAssistance", "cases.handle_case", {"plan": "每月走访"}),
            (AssistanceCases, "recordAssistanceGiven", "cases.handle_case", {"what": "大米"}),
        ]
    },
}
# Party organizations (orgs/api.py): rows of tests/orgs/party_world.py.
TARGETS.update(
    {
        "getOrganization": Target(
            Organization, "code", ("orgs.view_organization",), attribute="code"
        ),
        "getOrganizationLife": Target(
            Organization,
            "code",
            ("orgs.view_organization", "orgs.view_meeting"),
            attribute="code",
        ),
        "recordMeeting": Target(
            Organization,
            "code",
            ("orgs.add_meeting",),
            attribute="code",
            body={"kind": "theme_day", "held_on": "2025-01-05", "topic": "主题党日"},
        ),
        "getMember": Target(Member, "member_id", ("orgs.view_member",)),
        "revealMember": Target(
            Member,
            "member_id",
            ("orgs.view_member", "orgs.reveal_member"),
            body={"field": "id_number", "reason": "checking the scope rules"},
        ),
        "getMeeting": Target(Meeting, "meeting_id", ("orgs.view_meeting",)),
        "getOrgPhoto": Target(Photo, "photo_id", ("orgs.view_meeting",), visible=visible_photos),
        "getActivity": Target(Activity, "activity_id", ("orgs.view_activity",)),
    }
)
# Shared resources and joint projects (orgs/api_shared.py): rows of tests/orgs/shared_world.py.
TARGETS.update(
    {
        "getSharedResource": Target(Resource, "resource_id", ("orgs.view_resource",)),
        "listResourceBookings": Target(
            Resource, "resource_id", ("orgs.view_resource", "orgs.view_booking")
        ),
        "bookSharedResource": Target(
            Resource,
            "resource_id",
            ("orgs.view_resource", "orgs.add_booking"),
            body={
                "organization": "SX-LH",
                "starts_at": "2099-01-05T09:00:00+08:00",
                "ends_at": "2099-01-05T11:00:00+08:00",
                "purpose": "联建活动",
            },
        ),
        "cancelBooking": Target(Booking, "booking_id", ("orgs.view_booking", "orgs.add_booking")),
        "getJointProject": Target(Project, "project_id", ("orgs.view_project",)),
        "addProjectMilestone": Target(
            Project,
            "project_id",
            ("orgs.view_project", "orgs.change_project"),
            body={"title": "茶园扩种", "due_on": "2030-01-01"},
        ),
        "recordProjectIncome": Target(
            Project,
            "project_id",
            ("orgs.view_project", "orgs.change_project"),
            body={"year": 2025, "collective_yuan": "1000", "households_yuan": "2000"},
        ),
    }
)
# Path parameters that name no scoped row, and where their scope rule is tested instead.
NOT_OBJECTS = {
    "importRegistry": "kind is households or residents; its unit: test_it_imports_nothing_into_*",
    "addCasePhotos": "multipart: tests/cases/test_api.py::test_it_adds_photos_only_in_scope",
    "getCasePhoto": "a photo of a case: tests/cases/test_api.py::test_it_adds_photos_only_in_scope",
    "addMeetingPhotos": "multipart: tests/orgs/test_api.py::test_it_adds_photos_only_in_scope",
}

# List filters naming scoped things: the values outside a user's scope.


def _disjoint_units(user: Any) -> list[str]:
    """Units that neither hold nor lie in the user's scope (a unit above a grid worker's grid
    is not outside their scope: filtering by it keeps their own rows)."""
    codes = Scope.for_user(user).codes or ()
    return [
        code
        for code in Unit.objects.values_list("code", flat=True)
        if not any(code.startswith(c) or c.startswith(code) for c in codes)
    ]


def _outside(model: Any, user: Any, attribute: str = "pk") -> list[Any]:
    visible = model.objects.visible_to(user).values("pk")
    return list(model.objects.exclude(pk__in=visible).values_list(attribute, flat=True))


def _outside_orgs(user: Any) -> list[str]:
    return _outside(Organization, user, "code")


LIST_FILTERS: dict[str, Callable[[Any], list[Any]]] = {
    "org": _outside_orgs,
    "group": lambda user: _outside_orgs(user) + _outside(Alliance, user, "code"),
    "grid": lambda user: _outside(Grid, user, "code"),
    "unit": _disjoint_units,
    "parent": _disjoint_units,
    "household": lambda user: _outside(Household, user),
    "scope": lambda user: _disjoint_units(user) + _outside(Grid, user, "code"),
    "queue": _disjoint_units,
    "object": lambda user: (
        [f"resident:{pk}" for pk in _outside(Resident, user)]
        + [f"household:{pk}" for pk in _outside(Household, user)]
    ),
}
PLAIN_PARAMETERS = {
    "page",
    "page_size",
    "q",
    "tag",
    "level",
    "industry",
    "current",
    "actor",
    "since",
    "until",
    "action",
    "channel",
    "status",
    "stage",
    "open",
    "category",
    "tier",
    "overdue",
    "urgent",
    "mine",
    "sort",
    "kind",
    "skill",
    "available",
}


@pytest.fixture
def elsewhere(world: Any, enterprises: Any) -> dict[str, Any]:
    """Another county (350425) with a town, a village, a grid, a household, a resident, an
    enterprise and audit events: outside every persona's scope, the county admin's too."""
    county = f.unit("350425", "大田县")
    f.unit("350425100", "均溪镇")
    village = f.unit("350425100001", "城关社区", "community")
    grid = f.grid("350425100001001", 117.85, 25.69, name="城关一网格")
    household = f.household("HX-1", grid)
    resident = f.resident("王五", household, relation="head")
    enterprise = _enterprise("均溪茶厂", grid, "91350425MA2Y0C0D3", "茶叶", "13700137000")
    for obj in (household, resident, enterprise):
        audit.record(
            Event.Action.UPDATE,
            object_type=audit.object_type(obj),
            object_id=obj.pk,
            object_repr=str(obj.pk),
            scope_code=obj.scope_code,
        )
    # A case there, and one inside town A for the requests that must succeed.
    for where in (grid, world.grid_a11):
        case_report(
            actor=None,
            channel="portal",
            category="environment",
            description="路边垃圾堆积",
            lon=(where.min_lon + where.max_lon) / 2,
            lat=(where.min_lat + where.max_lat) / 2,
            reporter_phone="13800138000",
        )
    # Dispute and hardship cases there and in a grid of every persona, reported by a household
    # of the grid (the household an assistance plan names by default); reported earlier, so
    # that the newest case a persona sees is one at the grid tier.
    earlier = timezone.now() - datetime.timedelta(days=1)
    for g, h in (
        (grid, household),
        (world.grid_a11, world.households["HA11-1"]),
        (world.grid_a12, world.households["HA12-1"]),
        (world.grid_b11, world.households["HB11-1"]),
    ):
        for category, days in (("dispute", 0), ("assistance", 1)):
            case = case_report(
                actor=None,
                channel="portal",
                category=category,
                description="需要调解或帮扶的事项",
                lon=g.min_lon + 0.005,
                lat=g.min_lat + 0.005,
                reporter_household=h,
                reported_at=earlier - datetime.timedelta(days=days),
                notify=False,
            )
            # Accepted, at the grid tier where every persona here acts: the records are then
            # allowed by the workflow, and what answers 404 is the scope alone.
            Case.objects.filter(pk=case.pk).update(stage="accepted", tier="grid")
    # A failed notification there and one in town A (which the retry must accept).
    for code in (grid.code, world.grid_a11.code):
        Notification.objects.create(
            recipient=world.users["worker"],
            scope_code=code,
            backend="console",
            address="worker",
            subject="s",
            body="b",
            status=Notification.Status.FAILED,
        )
    # One event inside town A, for the requests that must succeed.
    inside = world.households["HA11-1"]
    audit.record(
        Event.Action.UPDATE,
        object_type=audit.object_type(inside),
        object_id=inside.pk,
        object_repr=str(inside.pk),
        scope_code=inside.scope_code,
    )
    party_world(world, village)
    shared_world(world, village)
    return {"county": county, "village": village, "grid": grid, "resident": resident}


def _operations(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    doc = body(client.get(API + "/openapi.json"))
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]


def _path_parameters(op: dict[str, Any]) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]


def _call(client: Any, token: str, method: str, path: str, payload: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    if method == "GET":
        return client.get(path, payload or {}, headers=headers)
    return client.generic(
        method,
        path,
        json.dumps(payload or {}),
        content_type="application/json",
        headers=headers,
    )


def test_it_knows_what_every_path_parameter_names(db, client):
    seen = set()
    for _method, path, op in _operations(client):
        params = _path_parameters(op)
        if not params:
            continue
        name = op["operationId"]
        seen.add(name)
        assert name in TARGETS or name in NOT_OBJECTS, (
            f"{name} ({path}) has a path parameter: add a Target for it to TARGETS in "
            f"{__name__}, naming the rows it reads, so its out-of-scope answer is tested"
        )
        if name in TARGETS:
            assert TARGETS[name].param in params, (name, params)
            assert set(params) == {TARGETS[name].param, *(TARGETS[name].path or {})}, name
    assert set(TARGETS) | set(NOT_OBJECTS) <= seen, "entries for operations that no longer exist"


def test_the_personas_are_the_worlds(world):
    assert sorted(world.users) == sorted(PERSONAS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_answers_404_for_every_object_outside_the_personas_scope(
    world, elsewhere, tokens, client, persona
):
    user = world.users[persona]
    token = tokens[persona]
    for method, path, op in _operations(client):
        target = TARGETS.get(op["operationId"])
        if target is None:
            continue
        url = path.replace("{" + target.param + "}", "{}")
        for name, value in (target.path or {}).items():
            url = url.replace("{" + name + "}", value)
        visible = target.visible_rows(user)
        outside = list(target.model.objects.exclude(pk__in=visible.values("pk")))
        assert outside, f"no {target.model.__name__} outside {persona}'s scope to try"
        allowed = all(user.has_perm(perm) for perm in target.perms)
        reveals = Event.objects.filter(action=Event.Action.REVEAL).count()
        for obj in outside:
            key = getattr(obj, target.attribute)
            response = _call(client, token, method, url.format(key), target.body)
            where = (persona, op["operationId"], key)
            if allowed:
                assert response.status_code == 404, where
                assert body(response) == {"detail": "Not found"}, where
            else:
                # The permission is checked first: the same 403 inside the scope and outside.
                assert response.status_code == 403, where
                assert set(body(response)) == {"detail"}, where
                assert "permission" in body(response)["detail"], where
        assert Event.objects.filter(action=Event.Action.REVEAL).count() == reveals
        # The same request for an object inside the scope succeeds: the 404s are the scope's.
        inside = visible.first()
        if allowed and inside is not None:
            key = getattr(inside, target.attribute)
            response = _call(client, token, method, url.format(key), target.body)
            assert response.status_code == 200, (persona, op["operationId"], response.content)


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lists_nothing_for_a_filter_naming_something_outside_the_scope(
    world, elsewhere, tokens, client, persona
):
    user = world.users[persona]
    token = tokens[persona]
    lists = [
        (path, op)
        for method, path, op in _operations(client)
        if method == "GET"
        and not _path_parameters(op)
        and any(p["name"] == "page" for p in op.get("parameters", []))
    ]
    assert len(lists) >= 6
    for path, op in lists:
        unfiltered = _call(client, token, "GET", path)
        for parameter in (p["name"] for p in op["parameters"]):
            assert parameter in LIST_FILTERS or parameter in PLAIN_PARAMETERS, (
                f"{op['operationId']} takes {parameter}: add it to LIST_FILTERS if it names "
                "something scoped, else to PLAIN_PARAMETERS"
            )
            if parameter not in LIST_FILTERS:
                continue
            values = LIST_FILTERS[parameter](user)
            assert values, (persona, parameter)
            for value in values:
                response = _call(client, token, "GET", path, {parameter: value})
                where = (persona, op["operationId"], parameter, value)
                if unfiltered.status_code == 403:
                    assert response.status_code == 403, where
                    continue
                assert response.status_code == 200, (where, response.content)
                data = body(response)
                assert data["count"] == 0, where
                assert data.get("items", data.get("features")) == [], where


@pytest.mark.parametrize("persona", ["admin", "official", "secretary", "outsider"])
def test_it_imports_nothing_into_a_unit_outside_the_scope(
    world, elsewhere, tokens, client, persona
):
    """`unit` of POST /imports/{kind} outside the scope answers exactly like a unit that does
    not exist: the same 422, naming only the code that was sent."""
    user = world.users[persona]
    content = f"姓名,身份证号,居住类型\n流动丙,{f.id_number()},流动\n".encode()

    def post(unit: str) -> Any:
        return client.post(
            f"{API}/imports/residents?dry_run=false&unit={unit}",
            {"file": SimpleUploadedFile("r.csv", content)},
            headers={"Authorization": f"Bearer {tokens[persona]}", "Accept-Language": "en"},
        )

    missing = body(post("350499999999"))
    for unit in _disjoint_units(user):
        response = post(unit)
        assert response.status_code == 422
        assert body(response) == json.loads(json.dumps(missing).replace("350499999999", unit)), (
            persona,
            unit,
        )
    assert not Resident.objects.filter(name="流动丙").exists()
