"""Writes to accounts: users with a role and a scope, grid assignments, API tokens.

The `users` command, the admin and the demo all write through these; each is one transaction
that records its audit events in it. `actor` is the user a door acts for (None: the system).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
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
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
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
    user = User(
        username=username,
        role=role,
        scope_code=scope_codes[0],
        is_staff=True,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
    )
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


def _visible_users(actor: User | None) -> models.QuerySet[User]:
    """The accounts `actor` may manage: those under their node, superusers only for
    superusers (the admin lists the same)."""
    if actor is None:
        return User.objects.all()
    users = User.objects.visible_to(actor)
    if not actor.is_superuser:
        users = users.exclude(is_superuser=True)
    return users


def user_save(*, actor: User | None, user: User) -> User:
    """Store an account a form built (the admin's: the password is set by its form).

    Recorded as created or updated; a password or deactivation is also recorded by
    User.save (credentials). The account must stay among those the actor manages.
    """
    with transaction.atomic():
        stored = None if user._state.adding else User.objects.filter(pk=user.pk).first()
        before = audit.snapshot(stored) if stored is not None else None
        user.save()
        if not _visible_users(actor).filter(pk=user.pk).exists():
            raise PermissionDenied(_("The record would lie outside your scope."))
        if before is None:
            audit.created(user)
        else:
            audit.updated(user, before)
    user.forget_scope()
    return user


def user_access_set(
    *,
    user: User,
    groups: Iterable[Any] | None = None,
    user_permissions: Iterable[Any] | None = None,
) -> None:
    """Set a user's groups and per-user permissions (those given), recorded as one event
    with the labels before and after (app.codename for permissions)."""
    wanted = {"groups": groups, "user_permissions": user_permissions}
    with transaction.atomic():
        changes = {}
        for name, values in wanted.items():
            if values is None:
                continue
            old = _m2m_labels(user, name)
            getattr(user, name).set(list(values))
            new = _m2m_labels(user, name)
            if old != new:
                changes[name] = [old, new]
        if changes:
            audit.changed(user, changes)


def _m2m_labels(obj: Any, name: str) -> list[str]:
    labels = []
    for related in getattr(obj, name).all():
        codename = getattr(related, "codename", None)
        labels.append(f"{related.content_type.app_label}.{codename}" if codename else str(related))
    return sorted(labels)


def users_delete(*, actor: User | None, users: Iterable[User], reason: str = "") -> int:
    """Delete accounts the actor manages (their assignments and tokens go with them), one
    event each."""
    pks = [u.pk for u in users]
    with transaction.atomic():
        doomed = list(_visible_users(actor).filter(pk__in=pks))
        User.objects.filter(pk__in=[u.pk for u in doomed]).delete()
        audit.record_many(
            audit.Event.Action.DELETE,
            audit.object_type(User),
            (
                (
                    u.pk,
                    audit.label(u),
                    audit.scope_of(u),
                    {k: [v, None] for k, v in audit.snapshot(u).items() if v not in (None, "")},
                )
                for u in doomed
            ),
        )
        if reason and doomed:
            # The reason, once for all of them (record_many writes none).
            audit.record(
                audit.Event.Action.DELETE,
                object_type=audit.object_type(User),
                object_repr=str(User._meta.verbose_name_plural),
                changes={"count": len(doomed)},
                reason=reason,
            )
    return len(doomed)


def grid_assign(*, user: User, grids: Sequence[Grid]) -> None:
    """Assign a grid worker to `grids` (those already assigned stay as they are)."""
    if user.role != Role.GRID_WORKER:
        raise ValidationError({"role": _("only grid workers are assigned to grids")})
    with transaction.atomic():
        held = set(
            GridAssignment.objects.filter(user=user, grid__in=grids).values_list(
                "grid_id", flat=True
            )
        )
        for grid in dict.fromkeys(g for g in grids if g.pk not in held):
            audit.created(GridAssignment.objects.create(user=user, grid=grid))
    user.forget_scope()


def grid_assign_scope(*, user: User) -> None:
    """A grid worker's scope code names one of their grids: make sure it is assigned."""
    if user.role != Role.GRID_WORKER or not user.scope_code:
        return
    grid = Grid.objects.filter(code=user.scope_code).first()
    if grid is not None:
        grid_assign(user=user, grids=[grid])


def grid_unassign(*, user: User, grids: Sequence[Grid]) -> None:
    """Take `grids` from a user's assignments, one event each."""
    with transaction.atomic():
        doomed = list(
            GridAssignment.objects.filter(user=user, grid__in=grids).select_related("grid")
        )
        GridAssignment.objects.filter(pk__in=[a.pk for a in doomed]).delete()
        for assignment in doomed:
            audit.deleted(assignment, pk=assignment.pk)
    user.forget_scope()


@dataclass(frozen=True)
class NewGridWorker:
    username: str
    grid_codes: tuple[str, ...]
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


def grid_workers_create(*, workers: Sequence[NewGridWorker], password: str) -> int:
    """Many grid workers at once, sharing one password (the demo's thousand grids).

    A password hash costs about 0.3 s by design, so a thousand accounts made one by one
    through user_create would take minutes: this one hashes the password once and writes the
    users, their assignments and their creation events in bulk, with the fields user_create
    sets. Refuses all if a username is taken or a grid does not exist.
    """
    if not workers:
        return 0
    names = [w.username for w in workers]
    taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken or len(set(names)) != len(names):
        dupes = taken or sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(
            {"username": [_("user %(u)s already exists") % {"u": n} for n in dupes]}
        )
    codes = {c for w in workers for c in w.grid_codes}
    grids = dict(Grid.objects.filter(code__in=codes).values_list("code", "pk"))
    missing = sorted(codes - set(grids))
    if missing or any(not w.grid_codes for w in workers):
        raise ValidationError(
            {
                "scope": _("a grid worker's scope is a grid code; no grid %(c)s")
                % {"c": ", ".join(missing)}
            }
        )
    hashed = make_password(password)
    with transaction.atomic():
        User.objects.bulk_create(
            [
                User(
                    username=w.username,
                    role=Role.GRID_WORKER,
                    scope_code=w.grid_codes[0],
                    is_staff=True,
                    password=hashed,
                    first_name=w.first_name,
                    last_name=w.last_name,
                    phone=w.phone,
                )
                for w in workers
            ],
            batch_size=500,
        )
        created = list(User.objects.filter(username__in=names))
        by_name = {u.username: u.pk for u in created}
        GridAssignment.objects.bulk_create(
            [
                GridAssignment(user_id=by_name[w.username], grid_id=grids[code])
                for w in workers
                for code in w.grid_codes
            ],
            batch_size=500,
        )
        _record_created(created)
        _record_created(
            list(GridAssignment.objects.filter(user_id__in=by_name.values()).select_related("grid"))
        )
    return len(created)


def _record_created(objects: Sequence[models.Model]) -> None:
    """Creation events for rows written in bulk, values masked as everywhere (one INSERT)."""
    if not objects:
        return
    audit.record_many(
        audit.Event.Action.CREATE,
        audit.object_type(objects[0]),
        (
            (
                obj.pk,
                audit.label(obj),
                audit.scope_of(obj),
                {k: [None, v] for k, v in audit.snapshot(obj).items() if v not in (None, "")},
            )
            for obj in objects
        ),
    )


def token_issue(*, user: User, days: int | None = None) -> str:
    """A new API token for `user` (returned once; only its digest is stored)."""
    with transaction.atomic():
        row, token = ApiToken.issue(user, days=days)
        audit.created(row)
    return token


def token_revoke(*, tokens: Iterable[ApiToken]) -> int:
    """Revoke the live ones among `tokens`, each recorded; returns how many were live."""
    with transaction.atomic():
        live = list(
            ApiToken.objects.filter(
                pk__in=[t.pk for t in tokens], revoked_at__isnull=True
            ).select_related("user")
        )
        before = {t.pk: audit.snapshot(t) for t in live}
        now = timezone.now()
        count = ApiToken.objects.filter(pk__in=before, revoked_at__isnull=True).update(
            revoked_at=now
        )
        for token in live:
            token.revoked_at = now
            audit.updated(token, before[token.pk])
    return count


def token_revoke_all(*, user: User) -> int:
    """Revoke every live API token of `user`, each recorded."""
    return token_revoke(tokens=ApiToken.objects.filter(user=user, revoked_at__isnull=True))


def tokens_delete(*, tokens: Iterable[ApiToken]) -> int:
    """Delete tokens (revoking keeps the record; this is for a superuser's clean-up)."""
    with transaction.atomic():
        doomed = list(ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).select_related("user"))
        ApiToken.objects.filter(pk__in=[t.pk for t in doomed]).delete()
        for token in doomed:
            audit.deleted(token, pk=token.pk)
    return len(doomed)
