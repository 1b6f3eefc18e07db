"""API of accounts: who the caller is, with their role, scope and permissions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from grassroots.core.api_support import Ref, auth_user, ref, responses
from grassroots.territory.models import Grid, Unit

router = Router()


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    role: str
    role_label: str
    scope_codes: list[str] = Field(
        description="The territory codes whose subtrees you may see (your grids for a grid worker)."
    )
    scope: list[Ref] = Field(description="The units and grids named by `scope_codes`.")
    everything: bool = Field(description="True for superusers, who see every territory.")
    permissions: list[str]


@router.get(
    "/me",
    response=responses(MeOut),
    operation_id="getMe",
    tags=["accounts"],
    summary="The authenticated user",
)
def me(request: HttpRequest) -> dict[str, Any]:
    """Your account, role, scope and permissions."""
    user = auth_user(request)
    codes = sorted(user.scope_codes())
    nodes = list(Unit.objects.filter(code__in=codes)) + list(
        Grid.objects.filter(code__in=codes).defer("boundary")
    )
    nodes.sort(key=lambda node: node.code)
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.get_full_name(),
        "role": user.role,
        "role_label": str(user.get_role_display()) if user.role else "",
        "scope_codes": codes,
        "scope": [ref(node) for node in nodes],
        "everything": user.is_superuser,
        "permissions": sorted(user.get_all_permissions()),
    }
