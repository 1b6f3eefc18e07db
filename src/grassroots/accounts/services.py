"""Writes to accounts: creating users with a role and a scope, issuing tokens."""

from __future__ import annotations

import secrets
import string

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.territory.models import Grid, Unit

from .models import ApiToken, GridAssignment, User
from .roles import Role


def generate_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def user_create(
    *,
    username: str,
    role: str,
    scope_codes: list[str],
    password: str,
    check_password: bool = True,
) -> User:
    """Create a user scoped to a unit, or a grid worker assigned to one or more grids."""
    if role not in Role.values:
        raise ValidationError(
            {
                "role": _("unknown role %(r)s (use one of %(all)s)")
                % {"r": role, "all": ", ".join(Role.values)}
            }
        )
    if not scope_codes:
        raise ValidationError({"scope": _("a scope code is required")})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": _("user %(u)s already exists") % {"u": username}})
    grids: list[Grid] = []
    if role == Role.GRID_WORKER:
        found = {g.code: g for g in Grid.objects.filter(code__in=scope_codes)}
        missing = [c for c in scope_codes if c not in found]
        if missing:
            raise ValidationError(
                {
                    "scope": _("a grid worker's scope is a grid code; no grid %(c)s")
                    % {"c": ", ".join(missing)}
                }
            )
        grids = [found[c] for c in scope_codes]
    else:
        if len(scope_codes) != 1:
            raise ValidationError({"scope": _("only a grid worker has more than one scope code")})
        if not Unit.objects.filter(code=scope_codes[0]).exists():
            raise ValidationError({"scope": _("no unit with code %(c)s") % {"c": scope_codes[0]}})
    user = User(username=username, role=role, scope_code=scope_codes[0], is_staff=True)
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user.set_password(password)
        user.save()
        audit.created(user)
        for grid in grids:
            audit.created(GridAssignment.objects.create(user=user, grid=grid))
    return user


def grid_assign(*, user: User, grids: list[Grid]) -> None:
    if user.role != Role.GRID_WORKER:
        raise ValidationError({"role": _("only grid workers are assigned to grids")})
    with transaction.atomic():
        for grid in grids:
            assignment, created = GridAssignment.objects.get_or_create(user=user, grid=grid)
            if created:
                audit.created(assignment)
    user.forget_scope()


def token_issue(*, user: User, days: int | None = None) -> str:
    """A new API token for `user` (returned once; only its digest is stored)."""
    with transaction.atomic():
        row, token = ApiToken.issue(user, days=days)
        audit.created(row)
    return token


def token_revoke_all(*, user: User) -> int:
    with transaction.atomic():
        live = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
        before = {t.pk: audit.snapshot(t) for t in live}
        count = ApiToken.revoke_all(user)
        for token in ApiToken.objects.filter(pk__in=before):
            audit.updated(token, before[token.pk])
    return count
