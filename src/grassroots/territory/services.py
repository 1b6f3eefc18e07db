"""Writes to the territory (units and grids) outside imports, which are in territory/imports.py.

The admin and the demo write through these. Each service is one transaction that validates
the row (Unit.clean, Grid.clean: codes, levels, boundaries, overlaps), saves it, checks that
the actor still sees it and records the audit event. `actor` is the user a door acts for,
or None for the system (commands, the demo).

A code is a path: a unit keeps its code and its parent, a grid its code and its village, so
that nothing below or inside them changes place. A unit or grid that anything still refers
to (units below it, grids, households, enterprises, grid workers' assignments, cases) is
not deleted: those rows would be orphaned or lose their place, and their apps (above this
one) decide where they go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from grassroots.audit import services as audit

from .models import Grid, Unit

if TYPE_CHECKING:
    from grassroots.accounts.models import User

M = TypeVar("M", Unit, Grid)

UNIT_FIELDS = ("code", "name", "level", "kind", "parent")
# Once a unit exists its code and parent are fixed (codes are paths).
UNIT_CHANGEABLE = ("name", "level", "kind")
GRID_FIELDS = ("code", "name", "kind", "unit", "boundary")
# Once a grid exists its code and village are fixed (households carry its code).
GRID_CHANGEABLE = ("name", "kind", "boundary")
# The bounding box is derived from the boundary on save.
_GRID_DERIVED = ("min_lon", "min_lat", "max_lon", "max_lat")


def _rows(model: type[M], actor: User | None) -> models.QuerySet[M]:
    manager: Any = model._default_manager
    return manager.all() if actor is None else manager.visible_to(actor)  # type: ignore[no-any-return]


def _fetch(model: type[M], row: M | int, actor: User | None) -> M:
    """The stored row, locked, if the actor sees it (else model.DoesNotExist: a 404)."""
    pk = row.pk if isinstance(row, models.Model) else row
    return _rows(model, actor).select_for_update(of=("self",)).get(pk=pk)


def _assign(obj: models.Model, data: Mapping[str, Any], fields: Sequence[str]) -> None:
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"{type(obj).__name__}: {', '.join(sorted(unknown))} cannot be written")
    for name, value in data.items():
        setattr(obj, name, value)


def _save(obj: M, actor: User | None, exclude: Sequence[str]) -> None:
    obj.full_clean(exclude=list(exclude))
    obj.save()
    # After the write, inside its transaction: the row must lie in the actor's scope.
    if actor is not None and not _rows(type(obj), actor).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("The record would lie outside your scope."))


def _delete(model: type[M], rows: Iterable[M | int], actor: User | None) -> int:
    """Delete the rows the actor sees among `rows`, unless something refers to them."""
    pks = [r.pk if isinstance(r, models.Model) else r for r in rows]
    doomed = list(_rows(model, actor).filter(pk__in=pks))
    if not doomed:
        return 0
    _refuse_if_referred(model, doomed)
    model._default_manager.filter(pk__in=[o.pk for o in doomed]).delete()
    audit.record_many(
        audit.Event.Action.DELETE,
        audit.object_type(model),
        (
            (
                o.pk,
                audit.label(o),
                audit.scope_of(o),
                {k: [v, None] for k, v in audit.snapshot(o).items() if v not in (None, "")},
            )
            for o in doomed
        ),
    )
    return len(doomed)


def _relations_to(model: type[models.Model]) -> list[Any]:
    """Every foreign key pointing at `model`, those without a reverse accessor included."""
    return [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]


def _refuse_if_referred(model: type[M], doomed: list[M]) -> None:
    """ValidationError naming the kinds of rows that still refer to `doomed`, whatever a
    delete would do to them (refuse, take them along or leave them without a place)."""
    kinds = sorted(
        {
            str(relation.related_model._meta.verbose_name_plural)
            for relation in _relations_to(model)
            if relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": doomed})
            .exclude(pk__in=[o.pk for o in doomed] if relation.related_model is model else [])
            .exists()
        }
    )
    if kinds:
        raise ValidationError(
            _("%(record)s cannot be deleted: %(kinds)s still refer to it.")
            % {"record": ", ".join(str(o) for o in doomed), "kinds": ", ".join(kinds)}
        )


# --- units -----------------------------------------------------------------------------------


def unit_create(*, actor: User | None, data: Mapping[str, Any]) -> Unit:
    """A new unit (UNIT_FIELDS): its code fits its level and lies under its parent's."""
    with transaction.atomic():
        unit = Unit()
        _assign(unit, data, UNIT_FIELDS)
        _save(unit, actor, ())
        audit.created(unit)
    return unit


def unit_update(*, actor: User | None, unit: Unit | int, data: Mapping[str, Any]) -> Unit:
    """Rename a unit or correct its level or kind (UNIT_CHANGEABLE)."""
    with transaction.atomic():
        row = _fetch(Unit, unit, actor)
        before = audit.snapshot(row)
        _assign(row, data, UNIT_CHANGEABLE)
        _save(row, actor, ())
        audit.updated(row, before)
    return row


def unit_delete(*, actor: User | None, unit: Unit | int) -> None:
    """Delete a unit nothing refers to."""
    with transaction.atomic():
        _delete(Unit, [_fetch(Unit, unit, actor)], actor)


def units_delete(*, actor: User | None, units: Iterable[Unit | int]) -> int:
    """Delete many units (the admin's "delete selected"); refused whole if one is referred to."""
    with transaction.atomic():
        return _delete(Unit, units, actor)


# --- grids -----------------------------------------------------------------------------------


def grid_create(*, actor: User | None, data: Mapping[str, Any]) -> Grid:
    """A new grid (GRID_FIELDS): 15 digits under its village's code, a valid GeoJSON
    polygon overlapping no other grid."""
    with transaction.atomic():
        grid = Grid()
        _assign(grid, data, GRID_FIELDS)
        _save(grid, actor, _GRID_DERIVED)
        audit.created(grid)
    return grid


def grid_update(*, actor: User | None, grid: Grid | int, data: Mapping[str, Any]) -> Grid:
    """Rename a grid, change its kind or its boundary (GRID_CHANGEABLE). Households keep
    their grid; one now outside the boundary shows in the coverage audit."""
    with transaction.atomic():
        row = _fetch(Grid, grid, actor)
        before = audit.snapshot(row)
        _assign(row, data, GRID_CHANGEABLE)
        _save(row, actor, _GRID_DERIVED)
        audit.updated(row, before)
    return row


def grid_delete(*, actor: User | None, grid: Grid | int) -> None:
    """Delete a grid that holds nothing and no one works in."""
    with transaction.atomic():
        _delete(Grid, [_fetch(Grid, grid, actor)], actor)


def grids_delete(*, actor: User | None, grids: Iterable[Grid | int]) -> int:
    with transaction.atomic():
        return _delete(Grid, grids, actor)


# --- the demo's reset ------------------------------------------------------------------------


def territory_clear(*, reason: str) -> dict[str, int]:
    """Delete every grid and unit: one event per kind with the count.

    For `grassroots demo --force` only, once the rows that refer to them are gone
    (registry.services.registry_clear, the demo's users and cases); ProtectedError otherwise.
    """
    counts: dict[str, int] = {}
    with transaction.atomic():
        count = Grid.objects.count()
        Grid.objects.all().delete()
        _record_cleared(Grid, count, reason)
        counts[str(Grid._meta.verbose_name_plural)] = count
        total = 0
        for level in ("village", "town", "county", "city", "province"):
            removed, _by_model = Unit.objects.filter(level=level).delete()
            total += removed
            _record_cleared(Unit, removed, reason)
        counts[str(Unit._meta.verbose_name_plural)] = total
    return counts


def _record_cleared(model: type[models.Model], count: int, reason: str) -> None:
    if not count:
        return
    audit.record(
        audit.Event.Action.DELETE,
        object_type=audit.object_type(model),
        object_repr=str(model._meta.verbose_name_plural),
        changes={"count": count},
        reason=reason,
    )
