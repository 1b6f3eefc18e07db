"""The main menu, by who is looking: grid workers get their phone pages, officials and
dispatchers the console, residents (no account) the portal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.roles import Role


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str | Promise
    current: bool = False


# (url name, label, permission needed or None)
Menu = list[tuple[str, Any, str | None]]
WORKER_MENU: Menu = [
    ("worker:home", _("My grids"), None),
    ("worker:tasks", _("My tasks"), "cases.view_case"),
    ("worker:households", _("My households"), "registry.view_household"),
    ("worker:report", _("Report"), "cases.add_case"),
]
CONSOLE_MENU: Menu = [
    ("console:dashboard", _("Dashboard"), "cases.view_case"),
    ("console:map", _("Map"), "territory.view_grid"),
    ("console:cases", _("Cases"), "cases.view_case"),
    ("console:coverage", _("Coverage audit"), "registry.view_coverage"),
    ("console:orgs", _("Party organizations"), "orgs.view_organization"),
    ("console:import", _("Import"), "registry.import_registry"),
]
PORTAL_MENU: Menu = [
    ("portal:submit", _("Submit a request"), None),
    ("portal:track", _("Track a request"), None),
]


def area_of(request: HttpRequest) -> str:
    """'portal', 'worker' or 'console': which set of pages this request belongs to."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    if namespace == "portal" or not request.user.is_authenticated:
        return "portal" if namespace == "portal" else "console"
    if getattr(request.user, "role", "") == Role.GRID_WORKER:
        return "worker"
    return "console"


def menu_for(request: HttpRequest, area: str) -> list[NavItem]:
    user = request.user
    if area == "portal":
        entries = PORTAL_MENU
    elif not user.is_authenticated:
        return []
    elif area == "worker":
        entries = WORKER_MENU
    else:
        entries = CONSOLE_MENU
    items: list[tuple[str, Any]] = []
    for name, label, perm in entries:
        if perm and not user.has_perm(perm):
            continue
        try:
            items.append((reverse(name), label))
        except NoReverseMatch:
            continue
    if area != "portal" and user.is_authenticated and user.is_staff:
        items.append((reverse("admin:index"), _("Administration")))
    # The longest menu address that starts the current path is the current page.
    best = max((url for url, _label in items if request.path.startswith(url)), key=len, default="")
    return [NavItem(url, label, url == best) for url, label in items]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `web_area` and `web_nav` for web/base.html."""
    if request.path.startswith(("/admin/", "/api/", "/open311/")):
        return {}
    area = area_of(request)
    return {"web_area": area, "web_nav": menu_for(request, area)}
