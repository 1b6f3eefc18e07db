"""Explicit permissions of one user, beyond what their role gives (e.g. sensitive tags).

Roles stay where permissions come from (roles.py); a grant is the exception an operator makes
for one person, written to the audit trail with the permission's name.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from grassroots.audit import services as audit
from grassroots.audit.models import Event

from .models import User


def permission_named(name: str) -> Permission:
    """The permission "app_label.codename"; a ValidationError naming `name` if none exists."""
    app_label, _dot, codename = name.partition(".")
    permission = None
    if app_label and codename:
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
    if permission is None:
        raise ValidationError(
            "unknown permission %(name)r: give app_label.codename of an existing permission,"
            " e.g. registry.view_resident",
            params={"name": name},
            code="unknown_permission",
        )
    return permission


def _record(user: User, before: str | None, after: str | None) -> None:
    audit.record(
        Event.Action.UPDATE,
        object_type=audit.object_type(user),
        object_id=user.pk,
        object_repr=audit.label(user),
        scope_code=audit.scope_of(user),
        changes={"user_permissions": [before, after]},
    )


def user_permission_grant(*, user: User, name: str) -> bool:
    """Give `user` the permission `name` explicitly; False if they already had the grant."""
    permission = permission_named(name)
    with transaction.atomic():
        if user.user_permissions.filter(pk=permission.pk).exists():
            return False
        user.user_permissions.add(permission)
        _record(user, None, name)
    return True


def user_permission_ungrant(*, user: User, name: str) -> bool:
    """Take the explicit grant of `name` back; False if `user` had no such grant.

    Their role may still give the permission: see roles.ROLE_PERMISSIONS.
    """
    permission = permission_named(name)
    with transaction.atomic():
        if not user.user_permissions.filter(pk=permission.pk).exists():
            return False
        user.user_permissions.remove(permission)
        _record(user, name, None)
    return True
