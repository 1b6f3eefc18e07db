"""Roles and what each may do. Scope (where) is separate from role (what): see core.scoping.

No role carries `registry.view_sensitive_tags`: sensitive tags (特殊人群) need an explicit,
per-person grant (`grassroots users grant NAME registry.view_sensitive_tags`).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COUNTY_ADMIN = "county_admin", _("County administrator")
    TOWN_OFFICIAL = "town_official", _("Town/street official")
    VILLAGE_SECRETARY = "village_secretary", _("Village/community secretary")
    GRID_WORKER = "grid_worker", _("Grid worker")
    DISPATCHER = "dispatcher", _("Dispatcher")
    DEPARTMENT_HANDLER = "department_handler", _("Department handler")
    AUDITOR = "auditor", _("Auditor")


_REGISTRY = ("household", "resident", "enterprise")
_TERRITORY = ("unit", "grid")


def _perms(app: str, models_: tuple[str, ...], actions: tuple[str, ...]) -> set[str]:
    return {f"{app}.{action}_{model}" for model in models_ for action in actions}


_ORGS = (
    "organization",
    "member",
    "meeting",
    "alliance",
    "activity",
    "resource",
    "booking",
    "project",
)
_VIEW_ALL = (
    _perms("registry", _REGISTRY, ("view",))
    | _perms("territory", _TERRITORY, ("view",))
    | _perms("orgs", _ORGS, ("view",))
    | {"registry.view_coverage"}
)
# Who leads a territory's party work (the county, the town) writes its organizations' records;
# the services also check that the organization is theirs (orgs.selectors.may_edit).
_ORGS_LEAD = (
    _perms("orgs", ("organization", "member", "alliance", "resource", "project"), ("add", "change"))
    | _perms("orgs", ("meeting", "activity", "booking"), ("add",))
    | {"orgs.reveal_member"}
)
# A village's secretary records the branch life and shared work of the village's organizations.
_ORGS_SECRETARY = {
    "orgs.add_meeting",
    "orgs.add_activity",
    "orgs.add_booking",
    "orgs.reveal_member",
}

# Cases: everyone who serves an area sees its cases; what each may do is below, and at which
# tier in ROLE_TIERS.
_CASE_WORK = {"cases.view_case", "cases.add_case", "cases.handle_case", "cases.escalate_case"}
_CASE_LEAD = _CASE_WORK | {
    "cases.accept_case",
    "cases.dispatch_case",
    "cases.verify_case",
    "cases.close_case",
    "cases.view_notification",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.COUNTY_ADMIN: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change", "delete"))
        | _perms("territory", _TERRITORY, ("add", "change", "delete"))
        | _ORGS_LEAD
        | _perms("orgs", ("liferequirement",), ("view", "add", "change"))
        | _perms("registry", ("tag",), ("view", "add", "change"))
        | _perms("accounts", ("user", "gridassignment"), ("view", "add", "change"))
        | {"registry.import_registry", "registry.reveal_resident", "audit.view_event"}
        | _perms("cases", ("calendarday",), ("view", "add", "change", "delete"))
        | _perms("cases", ("category",), ("view", "add", "change"))
        | _CASE_LEAD
        | {"cases.defer_case", "cases.merge_case"}
    ),
    Role.TOWN_OFFICIAL: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change"))
        | _perms("territory", ("grid",), ("change",))
        # The town edits the organizations of its villages (orgs.selectors.may_edit).
        | _ORGS_LEAD
        | _perms("accounts", ("user", "gridassignment"), ("view",))
        | {"registry.import_registry", "registry.reveal_resident"}
        | _CASE_LEAD
        | {"cases.defer_case", "cases.merge_case"}
    ),
    Role.VILLAGE_SECRETARY: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change"))
        | _perms("accounts", ("user", "gridassignment"), ("view",))
        | {"registry.import_registry", "registry.reveal_resident"}
        | _CASE_LEAD
        # The secretary records the branch life of the village's organizations.
        | _ORGS_SECRETARY
    ),
    Role.GRID_WORKER: frozenset(
        _VIEW_ALL
        | _perms("registry", ("household", "resident"), ("add", "change"))
        # Grid workers call and visit the households they serve.
        | {"registry.reveal_resident"}
        # A grid worker accepts what is reported in their grid and settles it there.
        | _CASE_WORK
        | {"cases.accept_case"}
    ),
    Role.DISPATCHER: frozenset(
        _VIEW_ALL
        | _CASE_LEAD
        | {"cases.merge_case", "cases.import_hotline"}
        | _perms("cases", ("category",), ("view",))
    ),
    Role.DEPARTMENT_HANDLER: frozenset(
        _perms("registry", ("household", "enterprise"), ("view",))
        | _perms("territory", _TERRITORY, ("view",))
        | {"cases.view_case", "cases.handle_case", "cases.verify_case", "cases.close_case"}
    ),
    Role.AUDITOR: frozenset(
        _VIEW_ALL
        | _perms("accounts", ("user", "gridassignment"), ("view",))
        | {"audit.view_event", "cases.view_case"}
    ),
}

# The tiers at which each role may act on a case (accept, dispatch, handle, verify, close,
# escalate), always within the role's territory scope. A department handler acts at county
# tier on cases whose category names their department.
ROLE_TIERS: dict[str, frozenset[str]] = {
    Role.COUNTY_ADMIN: frozenset({"grid", "village", "town", "county"}),
    Role.TOWN_OFFICIAL: frozenset({"grid", "village", "town"}),
    Role.VILLAGE_SECRETARY: frozenset({"grid", "village"}),
    Role.GRID_WORKER: frozenset({"grid"}),
    Role.DISPATCHER: frozenset({"grid", "village", "town", "county"}),
    Role.DEPARTMENT_HANDLER: frozenset({"county"}),
    Role.AUDITOR: frozenset(),
}
