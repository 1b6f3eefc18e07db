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


_VIEW_ALL = (
    _perms("registry", _REGISTRY, ("view",))
    | _perms("territory", _TERRITORY, ("view",))
    | {"registry.view_coverage"}
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.COUNTY_ADMIN: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change", "delete"))
        | _perms("territory", _TERRITORY, ("add", "change", "delete"))
        | _perms("registry", ("tag",), ("view", "add", "change"))
        | _perms("accounts", ("user", "gridassignment"), ("view", "add", "change"))
        | {"registry.import_registry", "registry.reveal_resident", "audit.view_event"}
        | _perms("cases", ("calendarday",), ("view", "add", "change", "delete"))
    ),
    Role.TOWN_OFFICIAL: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change"))
        | _perms("territory", ("grid",), ("change",))
        | _perms("accounts", ("user", "gridassignment"), ("view",))
        | {"registry.import_registry", "registry.reveal_resident"}
    ),
    Role.VILLAGE_SECRETARY: frozenset(
        _VIEW_ALL
        | _perms("registry", _REGISTRY, ("add", "change"))
        | _perms("accounts", ("user", "gridassignment"), ("view",))
        | {"registry.import_registry", "registry.reveal_resident"}
    ),
    Role.GRID_WORKER: frozenset(
        _VIEW_ALL
        | _perms("registry", ("household", "resident"), ("add", "change"))
        # Grid workers call and visit the households they serve.
        | {"registry.reveal_resident"}
    ),
    Role.DISPATCHER: frozenset(_VIEW_ALL),
    Role.DEPARTMENT_HANDLER: frozenset(
        _perms("registry", ("household", "enterprise"), ("view",))
        | _perms("territory", _TERRITORY, ("view",))
    ),
    Role.AUDITOR: frozenset(
        _VIEW_ALL | _perms("accounts", ("user", "gridassignment"), ("view",)) | {"audit.view_event"}
    ),
}
