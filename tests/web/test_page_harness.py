"""Every URL pattern of the project, every persona: who may use it, and which objects it finds.

The API's own harness (tests/api/test_out_of_scope.py) goes through its operations; this one goes
through every other URL pattern Django knows (pages, HTMX fragments, the admin, Open311, the
portal, the account pages), found by walking the URL resolver. Each pattern has a Rule in RULES
(the admin's patterns get theirs from their ModelAdmin, see `admin_rules`): who may use it
(otherwise 403, and the sign-in page for anonymous visitors), its answer when they may, and the
object its URL names (Target), if any. Then, for each persona of tests/conftest.py's world and
an anonymous visitor:

- an object in the persona's scope: the page's normal answer (200, or 302 for a form that
  redirects, ...);
- an object outside the persona's scope (the nearest one: a neighbouring grid before another
  county): 404, like one that does not exist;
- a role without the permission: 403;
- a list page (Rule.lists, the admin's changelists): no row outside the persona's scope.

The world is the personas' own with a row of every model the admin shows and a county next door
(`harness_world`); it is built per test, which costs little next to the requests (about 250
per persona).

A URL pattern without a rule fails `test_it_has_a_rule_for_every_url_pattern`, naming it: a new
page cannot be added without saying who may use it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.accounts.models import ApiToken, User
from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.audit.selectors import visible_events
from grassroots.cases.models import CalendarDay, Case, Notification
from grassroots.cases.open311.keys import key_issue
from grassroots.cases.services import case_report
from grassroots.core.admin_support import has_visible_to
from grassroots.core.scoping import Scope
from grassroots.core.validators import credit_code_with_check
from grassroots.orgs.models import LifeRequirement, Member, Organization, Project, Resource
from grassroots.registry.models import Household, Resident
from grassroots.territory.models import Grid, Unit
from grassroots.web.models import ImportJob
from tests import factories as f
from tests.orgs.party_world import party_world
from tests.orgs.shared_world import shared_world

PERSONAS = [
    "admin",
    "official",
    "secretary",
    "worker",
    "worker2",
    "outsider",
    "auditor",
    "dispatcher",
    None,  # anonymous
]
COUNTY = "350426"


# --- Rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The rows a URL names, and how one of them goes into the URL (path or query string)."""

    model: Any
    kwargs: Callable[[Any], dict[str, Any]] = lambda obj: {"pk": obj.pk}
    query: Callable[[Any], dict[str, Any]] | None = None
    # The rows a user may name; by default the model's visible_to(user).
    visible: Callable[[Any], QuerySet[Any]] | None = field(default=None, compare=False)

    def rows(self, user: Any) -> QuerySet[Any]:
        if self.visible is not None:
            return self.visible(user)
        return self.model.objects.visible_to(user)


@dataclass(frozen=True)
class Listing:
    """Where a page's response holds the rows it lists, and which of them the user may see."""

    rows: Callable[[Any], Iterable[Any]]
    visible: Callable[[Any], QuerySet[Any]]


def page_of(model: Any) -> Listing:
    """A list paged by web.paging.sorted_page: `page_obj` in the template's context."""
    return Listing(lambda response: response.context["page_obj"], model.objects.visible_to)


@dataclass(frozen=True)
class Rule:
    """Who may use a URL pattern and what it answers.

    may: whether a signed-in user may use it (else `refused`, 403); public: anonymous visitors
    too (else they are sent to sign in). ok: the answer to a user who may, for an object in
    scope; outside: for one outside it (404). object_first: the view looks the object up
    before it checks the permission, so an object outside the scope is a 404 even for a role
    without the permission (the admin's history view). elsewhere: the pattern is checked by
    another harness, named here. lists: the rows the page lists, none outside the scope.
    """

    may: Callable[[Any], bool] = lambda user: True
    target: Target | None = None
    method: str = "GET"
    ok: int = 200
    anonymous_ok: int | None = None  # a public page's answer to anonymous visitors, if not `ok`
    kwargs: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    public: bool = False
    object_first: bool = False
    refused: int = 403
    outside: int = 404
    lists: Listing | None = None
    elsewhere: str = ""


def perm(*perms: str) -> Callable[[Any], bool]:
    return lambda user: all(user.has_perm(p) for p in perms)


HOUSEHOLD = Target(Household)
ORG = Target(Organization, kwargs=lambda org: {"code": org.code})
CASE = Target(Case, kwargs=lambda case: {"code": case.tracking_code})
IMPORT_JOB = Target(ImportJob)
GRID_IN_QUERY = Target(Grid, kwargs=lambda grid: {}, query=lambda grid: {"scope": grid.code})
# Devices are for superusers alone: no persona may name one.
DEVICE = Target(TOTPDevice, visible=lambda user: TOTPDevice.objects.none())
OPEN311 = {"fmt": "json"}
JURISDICTION = {"jurisdiction_id": COUNTY}
# Open311 shows the public the cases of the county it names, whoever asks.
PUBLIC_CASE = Target(
    Case,
    kwargs=lambda case: {"request_id": case.tracking_code, "fmt": "json"},
    visible=lambda user: Case.objects.in_scope(Scope.of(COUNTY)),
)
PUBLIC_TOKEN = Target(
    Case,
    kwargs=lambda case: {"token": case.tracking_code, "fmt": "json"},
    visible=lambda user: Case.objects.in_scope(Scope.of(COUNTY)),
)

RULES: dict[str, Rule] = {
    # The site's own pages.
    "home": Rule(),
    "coverage": Rule(perm("registry.view_coverage"), target=GRID_IN_QUERY),
    "audit_log": Rule(
        perm("audit.view_event"),
        lists=Listing(lambda r: [event for event, _ in r.context["rows"]], visible_events),
    ),
    "set_language": Rule(method="POST", data={"language": "en"}, ok=302, public=True),
    "two_factor_verify": Rule(ok=302),  # verified already: on to the next page
    "two_factor_enrol": Rule(),
    # The grid worker's pages.
    "worker:home": Rule(perm("territory.view_grid"), lists=page_of(Grid)),
    "worker:households": Rule(perm("registry.view_household"), lists=page_of(Household)),
    "worker:household": Rule(perm("registry.view_household"), target=HOUSEHOLD),
    "worker:report": Rule(
        perm("cases.add_case"),
        target=Target(Household, kwargs=lambda h: {}, query=lambda h: {"household": h.pk}),
    ),
    "worker:tasks": Rule(perm("cases.view_case"), lists=page_of(Case)),
    # The console.
    "console:dashboard": Rule(perm("cases.view_case"), target=GRID_IN_QUERY),
    "console:map": Rule(perm("territory.view_grid"), target=GRID_IN_QUERY),
    "console:map_data": Rule(perm("territory.view_grid"), target=GRID_IN_QUERY),
    "console:coverage": Rule(perm("registry.view_coverage"), target=GRID_IN_QUERY),
    "console:cases": Rule(perm("cases.view_case"), lists=page_of(Case)),
    "console:cases_bulk": Rule(perm("cases.view_case"), method="POST", ok=302),
    "console:case": Rule(perm("cases.view_case"), target=CASE),
    "console:case_step": Rule(
        perm("cases.view_case"),
        target=Target(Case, kwargs=lambda case: {"code": case.tracking_code, "action": "note"}),
        method="POST",
        ok=400,  # nothing filled in: the case page again, with what the note lacks
    ),
    "console:import": Rule(perm("registry.import_registry"), lists=page_of(ImportJob)),
    "console:import_job": Rule(perm("registry.import_registry"), target=IMPORT_JOB),
    "console:import_progress": Rule(perm("registry.import_registry"), target=IMPORT_JOB),
    # The jobs are running: confirming or deleting one is refused, back to its page.
    "console:import_confirm": Rule(
        perm("registry.import_registry"), target=IMPORT_JOB, method="POST", ok=302
    ),
    "console:import_delete": Rule(
        perm("registry.import_registry"), target=IMPORT_JOB, method="POST", ok=302
    ),
    # Party organizations.
    "console:orgs": Rule(
        perm("orgs.view_organization"),
        lists=Listing(
            lambda r: [row.org for row in r.context["rows"]], Organization.objects.visible_to
        ),
    ),
    "console:org": Rule(perm("orgs.view_organization"), target=ORG),
    # The first organization each persona sees is one they record the meetings of.
    "console:org_meeting": Rule(perm("orgs.add_meeting"), target=ORG),
    "console:org_activity": Rule(perm("orgs.add_activity"), target=ORG),
    "console:org_member_reveal": Rule(
        perm("orgs.view_member", "orgs.reveal_member"), target=Target(Member), object_first=True
    ),
    "console:org_talent": Rule(
        perm("orgs.view_member"),
        target=Target(Organization, kwargs=lambda o: {}, query=lambda o: {"group": o.code}),
    ),
    # Shared resources and joint projects (rows of tests/orgs/shared_world.py).
    "console:org_resources": Rule(perm("orgs.view_resource"), lists=page_of(Resource)),
    "console:org_resource": Rule(perm("orgs.view_resource"), target=Target(Resource)),
    "console:org_projects": Rule(perm("orgs.view_project"), lists=page_of(Project)),
    "console:org_project": Rule(perm("orgs.view_project"), target=Target(Project)),
    # The public portal: no account, no scope.
    "portal:submit": Rule(public=True),
    "portal:submitted": Rule(public=True, ok=302),  # nothing submitted: back to the form
    "portal:track": Rule(public=True),
    "portal:rate": Rule(public=True, method="POST", ok=302),  # nothing looked up: to track
    "portal:reject": Rule(public=True, method="POST", ok=302),
    "portal:forget": Rule(public=True, method="POST", ok=302),
    "portal:grids": Rule(public=True),
    # Open311: public reading of the county's cases.
    "open311:discovery": Rule(public=True, kwargs=OPEN311),
    "open311:services": Rule(public=True, kwargs=OPEN311, query=JURISDICTION),
    "open311:service": Rule(
        public=True, kwargs={**OPEN311, "code": "environment"}, query=JURISDICTION
    ),
    "open311:requests": Rule(public=True, kwargs=OPEN311, query=JURISDICTION),
    "open311:request": Rule(public=True, target=PUBLIC_CASE, query=JURISDICTION),
    "open311:token": Rule(public=True, target=PUBLIC_TOKEN, query=JURISDICTION),
    "open311/v2/^(?P<rest>.*)$": Rule(public=True, kwargs={"rest": "nothing.json"}, ok=404),
    # The API: JSON for a path that matches no operation.
    "^api/(?P<rest>.*)$": Rule(public=True, kwargs={"rest": "nothing"}, ok=404),
    # The admin site's own pages (its models' pages: admin_rules).
    "admin:index": Rule(),
    "admin:login": Rule(public=True, ok=302, anonymous_ok=200),  # signed in: to the index
    "admin:logout": Rule(method="POST", public=True, anonymous_ok=302),  # signed out: to the index
    "admin:password_change": Rule(),
    "admin:password_change_done": Rule(),
    "admin:jsi18n": Rule(),
    # Households for the resident form's household field: those in scope only (see below).
    "admin:autocomplete": Rule(
        perm("registry.view_household"),
        query={
            "app_label": "registry",
            "model_name": "resident",
            "field_name": "household",
            "term": "H",
        },
    ),
    # No model has a page of its own on the site: 404 for every object, in scope or not.
    "admin:view_on_site": Rule(
        target=Target(
            Household,
            kwargs=lambda h: {
                "content_type_id": ContentType.objects.get_for_model(Household).pk,
                "object_id": h.pk,
            },
        ),
        ok=404,
    ),
    "admin/(?P<url>.*)$": Rule(kwargs={"url": "nothing/"}, ok=404),
    "admin:auth_user_password_change": Rule(
        perm("accounts.change_user"), target=Target(User, kwargs=lambda u: {"id": u.pk})
    ),
    "admin:otp_totp_totpdevice_config": Rule(perm("otp_totp.view_totpdevice"), target=DEVICE),
    "admin:otp_totp_totpdevice_qrcode": Rule(perm("otp_totp.view_totpdevice"), target=DEVICE),
    "admin:registry_resident_reveal": Rule(
        perm("registry.view_resident", "registry.reveal_resident"),
        target=Target(Resident, kwargs=lambda r: {"object_id": r.pk}),
        object_first=True,
    ),
}


# --- The admin's patterns, from its ModelAdmins ----------------------------------------------


def _as_request(user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


# Models whose rows a user may see are not (only) their visible_to(user): events without a
# territory are for county-level scopes too (audit.selectors).
OWN_VISIBILITY: dict[Any, Callable[[Any], QuerySet[Any]]] = {Event: visible_events}


def admin_rules() -> dict[str, Rule]:
    """Changelist, add, change, delete and history of every registered model, and the app
    pages: who may use them is what the ModelAdmin says (has_*_permission); the objects they
    find are the model's visible_to(user) rows when it is scoped."""
    rules: dict[str, Rule] = {}
    apps_of_models: dict[str, list[Any]] = {}
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        info = f"{opts.app_label}_{opts.model_name}"
        apps_of_models.setdefault(opts.app_label, []).append(model_admin)

        def may(what: str, model_admin: Any = model_admin) -> Callable[[Any], bool]:
            def check(user: Any) -> bool:
                request = _as_request(user)
                if what == "view":
                    return bool(model_admin.has_view_or_change_permission(request))
                return bool(getattr(model_admin, f"has_{what}_permission")(request))

            return check

        visible = OWN_VISIBILITY.get(model)
        if visible is None and not has_visible_to(model):

            def visible(user: Any, model_admin: Any = model_admin) -> QuerySet[Any]:
                return model_admin.get_queryset(_as_request(user))

        target = Target(model, kwargs=lambda obj: {"object_id": obj.pk}, visible=visible)
        lists = None
        if has_visible_to(model):
            lists = Listing(
                lambda response: response.context["cl"].result_list,
                visible or model.objects.visible_to,
            )
        rules[f"admin:{info}_changelist"] = Rule(may("view"), lists=lists)
        rules[f"admin:{info}_add"] = Rule(may("add"))
        rules[f"admin:{info}_change"] = Rule(may("view"), target=target)
        rules[f"admin:{info}_history"] = Rule(may("view"), target=target, object_first=True)
        rules[f"admin:{info}_delete"] = Rule(may("delete"), target=target)
        # The old address of the change page, without change/: a redirect to it, whatever the
        # id (the change page answers for the object).
        route = f"admin/{opts.app_label}/{opts.model_name}/<path:object_id>/"
        rules[route] = Rule(target=target, ok=302, outside=302)
    for app_label, model_admins in apps_of_models.items():

        def may_app(user: Any, model_admins: list[Any] = model_admins) -> bool:
            return any(ma.has_module_permission(_as_request(user)) for ma in model_admins)

        # An app none of whose models the user may see is a page that does not exist: 404.
        rules[f"admin:app_list:{app_label}"] = Rule(
            may_app, kwargs={"app_label": app_label}, refused=404
        )
    return rules


def all_rules() -> dict[str, Rule]:
    rules = {**RULES, **admin_rules()}
    for name in api_names():
        rules[name] = Rule(elsewhere="tests/api/test_out_of_scope.py")
    return rules


# --- The URL patterns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # its name with namespaces, or its route when it has no name
    route: str


def url_patterns(
    patterns: list[Any] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Pattern]:
    """Every URL pattern under the root URLconf, with its full route and namespaced name."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from url_patterns(p.url_patterns, prefix + str(p.pattern), ns)
        else:
            assert isinstance(p, URLPattern)
            route = prefix + str(p.pattern)
            if not p.name:
                yield Pattern(route, route)
            elif p.name == "app_list" and namespace == "admin":
                # One page per app: each its own key.
                for label in re.search(r"\(\?P<app_label>([^)]*)\)", route)[1].split("|"):  # type: ignore[index]
                    yield Pattern(f"admin:app_list:{label}", route)
            else:
                yield Pattern(f"{namespace}:{p.name}" if namespace else p.name, route)


def api_names() -> list[str]:
    return [p.key for p in url_patterns() if p.route.startswith("api/v1/")]


def build_url(pattern: Pattern, kwargs: dict[str, Any]) -> str:
    """The path of `pattern` with `kwargs` filled in (path converters and regex groups)."""
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), pattern.route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), url)
    return "/" + url.replace("^", "").replace("$", "").replace("\\.", ".")


# --- The world -----------------------------------------------------------------------------------


@pytest.fixture
def harness_world(world: Any, enterprises: Any) -> Any:
    """The personas' world, a county next door (350425) that nobody's scope holds, and a row
    of every model the admin shows, in and out of the personas' scopes."""
    f.unit("350425", "大田县")
    f.unit("350425100", "均溪镇")
    f.unit("350425100001", "城关社区", "community")
    grid = f.grid("350425100001001", 117.85, 25.69, name="城关一网格")
    household = f.household("HX-1", grid)
    resident = f.resident("王五", household, relation="head")
    f.enterprise("均溪茶厂", grid, credit_code_with_check("91350425MA2Y0C0D3"))
    neighbour = f.user("neighbour", "county_admin", "350425")
    for g in (world.grid_a11, world.grid_a12, world.grid_a21, world.grid_b11, grid):
        case_report(
            actor=None,
            channel="portal",
            category="environment",
            description="路边垃圾堆积",
            lon=(g.min_lon + g.max_lon) / 2,
            lat=(g.min_lat + g.max_lat) / 2,
            reporter_phone="13800138000",
            notify=False,
        )
    for obj in (*world.households.values(), household, resident):
        audit.record(
            Event.Action.UPDATE,
            object_type=audit.object_type(obj),
            object_id=obj.pk,
            object_repr=str(obj.pk),
            scope_code=obj.scope_code,
        )
    for code in (world.grid_a11.code, world.grid_b11.code, grid.code):
        Notification.objects.create(
            recipient=world.users["worker"],
            scope_code=code,
            backend="console",
            address="worker",
            subject="s",
            body="b",
            status=Notification.Status.FAILED,
        )
    # Running checks (so that confirming or deleting one is refused): one per uploader.
    for who, scope in (
        (world.users["admin"], COUNTY),
        (world.users["official"], world.town_a.code),
        (world.users["outsider"], world.town_b.code),
        (neighbour, "350425"),
    ):
        ImportJob.objects.create(
            kind=ImportJob.Kind.HOUSEHOLDS,
            status=ImportJob.Status.CHECKING,
            file_name="households.xlsx",
            created_by=who,
            scope_code=scope,
        )
    for user in world.users.values():
        ApiToken.issue(user)
    # The personas who must give a code have a device (the others would have to, with one).
    for name in ("admin", "auditor"):
        TOTPDevice.objects.create(user=world.users[name], name="harness", confirmed=True)
    party_world(world, Unit.objects.get(code="350425100001"))
    shared_world(world, Unit.objects.get(code="350425100001"))
    LifeRequirement.objects.create(kind="theme_day", period="month", times=1)
    Group.objects.create(name="harness")
    CalendarDay.objects.create(date=datetime.date(2025, 10, 1), kind="holiday", name="国庆节")
    key_issue(name="harness")
    now = timezone.now()
    for model in admin.site._registry:
        if model._meta.app_label == "axes" and not model.objects.exists():
            fields = {"username": "someone", "ip_address": "10.0.0.9", "user_agent": "harness"}
            extra = {"accesslog": {}, "accessattempt": {"failures_since_start": 1}}
            model.objects.create(
                **fields, **extra.get(model._meta.model_name, {"locked_out": False})
            )
    apps.get_model("django_tasks_database", "DBTaskResult").objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="grassroots.web.tasks.nothing",
        backend_name="default",
        run_after=now,
        exception_class_path="",
        traceback="",
    )
    return world


# --- The checks ------------------------------------------------------------------------------------


def nearest_outside(target: Target, user: Any) -> Any | None:
    """A row the user may not name: the one whose place is nearest their own (a grid next to
    theirs before another county), or any row when the model has no place."""
    rows = list(target.model.objects.exclude(pk__in=[r.pk for r in target.rows(user)]))
    if not rows:
        return None
    codes = Scope.for_user(user).codes or [""] if user is not None else [COUNTY]

    def closeness(row: Any) -> int:
        code = getattr(row, "scope_code", None) or getattr(row, "code", "") or ""
        return max(len(_common(code, c)) for c in codes)

    return max(rows, key=closeness)


def _common(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def request(client: Client, rule: Rule, url: str, query: dict[str, Any]) -> Any:
    if rule.method == "POST":
        return client.post(url + ("?" + urlencode(query) if query else ""), rule.data)
    return client.get(url, query)


def login_redirect(response: Any) -> bool:
    return response.status_code == 302 and (
        response["Location"].startswith(settings.LOGIN_URL)
        or response["Location"].startswith("/admin/login/")
    )


def check(pattern: Pattern, rule: Rule, user: Any, client: Client, problems: list[str]) -> int:
    """Request `pattern` as `user` for an object in scope and one outside it; the number of
    requests made. Each answer that is not the rule's goes into `problems`."""
    who = user.username if user is not None else "anonymous"
    allowed = user is not None and (rule.public or rule.may(user))
    cases: list[tuple[str, Any]] = []  # (in or out, object)
    if rule.target is None:
        cases.append(("-", None))
    else:
        # Anonymous visitors of a signed-in page: any object, they are sent to sign in.
        viewer = user if user is not None or rule.public else User.objects.get(username="admin")
        inside = rule.target.rows(viewer).first()
        if inside is not None:
            cases.append(("in", inside))
        if user is not None or rule.public:
            outside = nearest_outside(rule.target, user)
            if outside is not None:
                cases.append(("out", outside))
    made = 0
    for where, obj in cases:
        kwargs = dict(rule.kwargs)
        query = dict(rule.query)
        if obj is not None:
            kwargs.update(rule.target.kwargs(obj))  # type: ignore[union-attr]
            if rule.target.query:  # type: ignore[union-attr]
                query.update(rule.target.query(obj))  # type: ignore[union-attr]
        url = build_url(pattern, kwargs)
        response = request(client, rule, url, query)
        made += 1
        if user is None and not rule.public:
            if not login_redirect(response):
                problems.append(
                    f"{pattern.key} {url} anonymous: {response.status_code}, not sign-in"
                )
            continue
        if user is None:
            expected = rule.outside if where == "out" else rule.anonymous_ok or rule.ok
        elif where == "out":
            expected = rule.outside if allowed or rule.object_first else rule.refused
        else:
            expected = rule.ok if allowed else rule.refused
        if response.status_code != expected:
            problems.append(
                f"{pattern.key} {rule.method} {url}?{urlencode(query)} as {who} "
                f"({where} scope): {response.status_code}, expected {expected}"
            )
        elif rule.lists is not None and user is not None and expected == 200:
            visible = set(rule.lists.visible(user).values_list("pk", flat=True))
            leaked = [row.pk for row in rule.lists.rows(response) if row.pk not in visible]
            if leaked:
                problems.append(f"{pattern.key} {url} as {who} lists {leaked}, outside the scope")
    return made


def test_it_has_a_rule_for_every_url_pattern():
    rules = all_rules()
    keys = [p.key for p in url_patterns()]
    assert len(keys) == len(set(keys)), "two URL patterns with one name"
    missing = [key for key in keys if key not in rules]
    assert not missing, (
        "add a mapping for "
        + ", ".join(missing)
        + f" to RULES in {__name__}: who may use it, and which object its URL names"
    )
    assert set(rules) <= set(keys), f"rules for patterns that are gone: {set(rules) - set(keys)}"


def test_it_builds_each_url_for_its_own_pattern(harness_world):
    """The URLs the harness requests reach the pattern they stand for (not a catch-all)."""
    for pattern in url_patterns():
        rule = all_rules()[pattern.key]
        if rule.elsewhere:
            continue
        kwargs = dict(rule.kwargs)
        if rule.target is not None:
            obj = rule.target.model.objects.first()
            assert obj is not None, f"add a {rule.target.model.__name__} to the harness world"
            kwargs.update(rule.target.kwargs(obj))
        url = build_url(pattern, kwargs)
        found = resolve(url).route
        assert found.replace("^", "") == pattern.route.replace("^", ""), (pattern.key, url)


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_answers_each_persona_as_the_rules_say(harness_world, login, persona):
    user = harness_world.users[persona] if persona else None
    client = login(persona) if persona else Client()
    if persona is None:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    rules = all_rules()
    problems: list[str] = []
    made = 0
    for pattern in url_patterns():
        rule = rules[pattern.key]
        if rule.elsewhere:
            continue
        if rule.method == "POST" and pattern.key == "admin:logout":
            continue  # last: it ends the session
        made += check(pattern, rule, user, client, problems)
    logout = next(p for p in url_patterns() if p.key == "admin:logout")
    made += check(logout, rules["admin:logout"], user, client, problems)
    assert not problems, "\n".join(problems)
    assert made > 100, persona


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p])
def test_it_offers_no_household_outside_the_scope_in_the_admins_autocomplete(
    harness_world, login, persona
):
    """The household field of the admin's resident form looks households up by code."""
    user = harness_world.users[persona]
    query = {"app_label": "registry", "model_name": "resident", "field_name": "household"}
    response = login(persona).get("/admin/autocomplete/", {**query, "term": "H"})
    assert response.status_code == 200
    found = {int(item["id"]) for item in response.json()["results"]}
    assert found == set(Household.objects.visible_to(user).values_list("pk", flat=True))
    assert login(persona).get("/admin/autocomplete/", {**query, "term": "HX"}).json() == {
        "results": [],
        "pagination": {"more": False},
    }
