"""Writes to the registry: households, residents, enterprises and the tag vocabulary.

Every door writes through these: the admin, the pages, the API, commands and the demo (the
spreadsheet imports write set-wise in registry.imports). Each service is one transaction
that validates the row, saves it, checks that the actor still sees it (a refusal rolls the
write back, as NetBox re-checks its restrictions after a write) and records the audit
event(s) in the same transaction, sensitive tags split off into sensitive events
(audit.split_sensitive). `actor` is the user a door acts for, or None for the system
(commands, the demo), whose scope is everything; the events take the actor, channel and
request from the audit context.

A household that changes place takes its members along: their rows carry its unit and scope
code. `household_members_follow` does that set-wise, with an update event per member, for
one household (household_update) or thousands (an import).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.scoping import Scope
from grassroots.core.validators import validate_name
from grassroots.territory.models import Grid

from .models import (
    Enterprise,
    Household,
    Resident,
    Tag,
    TaggedModel,
    sensitive_tag_names,
    split_tag_changes,
)

if TYPE_CHECKING:
    from grassroots.accounts.models import User

M = TypeVar("M", bound=models.Model)

# The fields each service writes (and the admin's forms show, in this order); the rest are
# derived on save (scope code, search keys...).
HOUSEHOLD_FIELDS = (
    "code",
    "address",
    "building",
    "unit_no",
    "room",
    "grid",
    "unit",
    "lon",
    "lat",
    "tags",
)
RESIDENT_FIELDS = (
    "name",
    "id_number",
    "phone",
    "household",
    "relation",
    "residency",
    "unit",
    "moved_out_on",
    "deceased_on",
    "tags",
)
ENTERPRISE_FIELDS = (
    "name",
    "credit_code",
    "industry",
    "address",
    "contact_name",
    "contact_phone",
    "grid",
    "unit",
    "lon",
    "lat",
)
TAG_FIELDS = ("name", "kind", "description")

# Columns derived on save, left out of validation before it.
_PLACED_DERIVED = ("scope_code",)
_RESIDENT_DERIVED = (
    "name_key",
    "name_pinyin",
    "name_initials",
    "id_hash",
    "id_tail",
    "sex",
    "birth_date",
    "phone_hash",
    "scope_code",
)
# Rows per statement in set-wise reads and updates (SQLite's limit on parameters).
CHUNK = 900


# --- shared steps ----------------------------------------------------------------------------


def _scope(actor: User | None) -> Scope:
    return Scope.everything() if actor is None else Scope.for_user(actor)


def _rows(model: type[M], actor: User | None) -> models.QuerySet[M]:
    """The rows of `model` the actor may write: the visible ones (the tag vocabulary is
    everyone's)."""
    manager: Any = model._default_manager
    if actor is not None and hasattr(manager, "visible_to"):
        return manager.visible_to(actor)  # type: ignore[no-any-return]
    return manager.all()  # type: ignore[no-any-return]


def _fetch(model: type[M], row: M | int, actor: User | None) -> M:
    """The stored row, locked, if the actor sees it (else model.DoesNotExist: a 404)."""
    pk = row.pk if isinstance(row, models.Model) else row
    return _rows(model, actor).select_for_update(of=("self",)).get(pk=pk)


def _assign(obj: models.Model, data: Mapping[str, Any], fields: Sequence[str]) -> None:
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no writable field {', '.join(sorted(unknown))}")
    grid = data.get("grid")
    if grid is not None and "unit" not in data:
        data = {**data, "unit": grid.unit}  # the unit follows a grid given alone
    for name, value in data.items():
        setattr(obj, name, value)


def _check_visible(actor: User | None, obj: models.Model) -> None:
    """After the write, inside its transaction: the row must still lie in the actor's scope."""
    if actor is None or not hasattr(type(obj)._default_manager, "visible_to"):
        return
    if not _rows(type(obj), actor).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("The record would lie outside your scope."))


def _create(
    obj: M,
    data: Mapping[str, Any],
    fields: Sequence[str],
    actor: User | None,
    derived: Sequence[str],
) -> M:
    _assign(obj, data, fields)
    _fill(obj)
    obj.full_clean(exclude=list(derived))
    obj.save()
    _check_visible(actor, obj)
    audit.created(obj)
    return obj


def _update(
    model: type[M],
    row: M | int,
    data: Mapping[str, Any],
    fields: Sequence[str],
    actor: User | None,
    derived: Sequence[str],
) -> tuple[M, dict[str, Any]]:
    """Write `data` over the stored row; returns it and its snapshot from before."""
    obj = _fetch(model, row, actor)
    before = audit.snapshot(obj)
    _assign(obj, data, fields)
    _fill(obj)
    obj.full_clean(exclude=list(derived))
    obj.save()
    _check_visible(actor, obj)
    audit.updated(obj, before)
    return obj, before


def _fill(obj: models.Model) -> None:
    fill = getattr(obj, "fill_place", None)
    if fill is not None:
        fill()


def _delete(model: type[M], rows: Iterable[M | int], actor: User | None) -> int:
    """Delete the rows the actor sees among `rows`, recorded set-wise; returns how many."""
    pks = [r.pk if isinstance(r, models.Model) else r for r in rows]
    doomed = []
    for start in range(0, len(pks), CHUNK):
        doomed += list(_rows(model, actor).filter(pk__in=pks[start : start + CHUNK]))
    if not doomed:
        return 0
    for start in range(0, len(doomed), CHUNK):
        model._default_manager.filter(pk__in=[o.pk for o in doomed[start : start + CHUNK]]).delete()
    _record_each(
        audit.Event.Action.DELETE,
        [
            (o, {k: [v, None] for k, v in audit.snapshot(o).items() if v not in (None, "")})
            for o in doomed
        ],
        always=True,
    )
    return len(doomed)


def _record_each(
    action: str,
    changes: Sequence[tuple[models.Model, Mapping[str, Any]]],
    *,
    always: bool,
    scope_codes: Mapping[Any, str] | None = None,
) -> None:
    """One event per object as audit.created/updated/deleted write it, sensitive tags in
    sensitive events of their own, but in one INSERT for all (audit.record_many) and with the
    sensitive tag names read once. `always`: record the public event even without changes."""
    if not changes:
        return
    kind = audit.object_type(changes[0][0])
    sensitive = sensitive_tag_names() if isinstance(changes[0][0], TaggedModel) else frozenset()
    public, secret = [], []
    for obj, change in changes:
        if isinstance(obj, TaggedModel):
            shown: dict[str, Any] | None
            shown, hidden = split_tag_changes(dict(change), sensitive)
        else:
            shown, hidden = audit.split_sensitive(obj, change)
        scope = (scope_codes or {}).get(obj.pk) or audit.scope_of(obj)
        label = audit.label(obj)
        if shown is not None and (shown or always):
            public.append((obj.pk, label, scope, shown))
        if hidden:
            secret.append((obj.pk, label, scope, hidden))
    audit.record_many(action, kind, public)
    audit.record_many(action, kind, secret, sensitive=True)


def _record_cleared(model: type[models.Model], count: int, reason: str) -> None:
    """One event for a whole kind of rows removed at once (the demo's reset)."""
    audit.record(
        audit.Event.Action.DELETE,
        object_type=audit.object_type(model),
        object_repr=str(model._meta.verbose_name_plural),
        changes={"count": count},
        reason=reason,
    )


# --- households ------------------------------------------------------------------------------


def household_create(*, actor: User | None, data: Mapping[str, Any]) -> Household:
    """A new household (HOUSEHOLD_FIELDS); its unit follows its grid when only a grid is given."""
    with transaction.atomic():
        return _create(Household(), data, HOUSEHOLD_FIELDS, actor, _PLACED_DERIVED)


def household_update(
    *, actor: User | None, household: Household | int, data: Mapping[str, Any]
) -> Household:
    """Change a household. Moved to another grid or unit, it takes its members along
    (household_members_follow): the household's event and one per member."""
    with transaction.atomic():
        row, before = _update(Household, household, data, HOUSEHOLD_FIELDS, actor, _PLACED_DERIVED)
        if before.get("grid") != row.grid_id or before.get("unit") != row.unit_id:
            household_members_follow(households=[row.pk])
    return row


def household_delete(*, actor: User | None, household: Household | int) -> None:
    """Remove a household without members (members are PROTECTed: move them first)."""
    with transaction.atomic():
        row = _fetch(Household, household, actor)
        _delete(Household, [row], actor)


def households_delete(*, actor: User | None, households: Iterable[Household | int]) -> int:
    """Remove many households at once (the admin's "delete selected"), one event each."""
    with transaction.atomic():
        return _delete(Household, households, actor)


def household_members_follow(*, households: Sequence[int]) -> int:
    """Bring the members of `households` to their household's unit and scope code.

    Set-wise: one read and one UPDATE per chunk of households, and one update event per
    member that moved ({"scope_code": [...], "unit": [...]}, scope the new one), written in
    one INSERT. For a single household after its move and for an import that moved many.
    Returns the number of members moved.
    """
    moved = 0
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(households), CHUNK):
            chunk = list(households[start : start + CHUNK])
            members = list(
                Resident.objects.filter(household_id__in=chunk)
                .exclude(scope_code=F("household__scope_code"), unit_id=F("household__unit_id"))
                .annotate(new_scope=F("household__scope_code"), new_unit=F("household__unit_id"))
                .only("pk", "name", "id_number", "scope_code", "unit_id", "household_id")
                .order_by("pk")
            )
            if not members:
                continue
            changes: list[tuple[models.Model, dict[str, Any]]] = []
            for m in members:
                new_scope, new_unit = m.new_scope, m.new_unit  # type: ignore[attr-defined]
                change: dict[str, Any] = {}
                if m.scope_code != new_scope:
                    change["scope_code"] = [m.scope_code, new_scope]
                if m.unit_id != new_unit:
                    change["unit"] = [m.unit_id, new_unit]
                changes.append((m, change))
            # One UPDATE for the chunk, each member taking its own household's place.
            place = Household.objects.filter(pk=OuterRef("household_id"))
            Resident.objects.filter(pk__in=[m.pk for m in members]).update(
                scope_code=Subquery(place.values("scope_code")[:1]),
                unit_id=Subquery(place.values("unit_id")[:1]),
                updated_at=now,
            )
            _record_each(
                audit.Event.Action.UPDATE,
                changes,
                always=False,
                scope_codes={m.pk: m.new_scope for m in members},  # type: ignore[attr-defined]
            )
            moved += len(members)
    return moved


# --- residents -------------------------------------------------------------------------------


def resident_create(*, actor: User | None, data: Mapping[str, Any]) -> Resident:
    """A new resident (RESIDENT_FIELDS): the ID number is checked and normalized, birth date,
    sex and search keys come from it, and a member takes their household's place. ID numbers
    may repeat (merged registers do; the coverage audit shows it)."""
    with transaction.atomic():
        return _create(Resident(), data, RESIDENT_FIELDS, actor, _RESIDENT_DERIVED)


def resident_update(
    *, actor: User | None, resident: Resident | int, data: Mapping[str, Any]
) -> Resident:
    """Change a resident; moved to another household, they take its place."""
    with transaction.atomic():
        row, _before = _update(Resident, resident, data, RESIDENT_FIELDS, actor, _RESIDENT_DERIVED)
    return row


def resident_delete(*, actor: User | None, resident: Resident | int) -> None:
    with transaction.atomic():
        row = _fetch(Resident, resident, actor)
        _delete(Resident, [row], actor)


def residents_delete(*, actor: User | None, residents: Iterable[Resident | int]) -> int:
    with transaction.atomic():
        return _delete(Resident, residents, actor)


# --- enterprises -----------------------------------------------------------------------------


def enterprise_create(*, actor: User | None, data: Mapping[str, Any]) -> Enterprise:
    """A new enterprise or merchant (ENTERPRISE_FIELDS); the credit code is checked."""
    with transaction.atomic():
        return _create(Enterprise(), data, ENTERPRISE_FIELDS, actor, _PLACED_DERIVED)


def enterprise_update(
    *, actor: User | None, enterprise: Enterprise | int, data: Mapping[str, Any]
) -> Enterprise:
    with transaction.atomic():
        row, _before = _update(
            Enterprise, enterprise, data, ENTERPRISE_FIELDS, actor, _PLACED_DERIVED
        )
    return row


def enterprise_delete(*, actor: User | None, enterprise: Enterprise | int) -> None:
    with transaction.atomic():
        row = _fetch(Enterprise, enterprise, actor)
        _delete(Enterprise, [row], actor)


def enterprises_delete(*, actor: User | None, enterprises: Iterable[Enterprise | int]) -> int:
    with transaction.atomic():
        return _delete(Enterprise, enterprises, actor)


def enterprises_create(*, actor: User | None, rows: Sequence[Mapping[str, Any]]) -> int:
    """Many enterprises at once (the demo; an enterprise import would plug in here).

    Each row holds ENTERPRISE_FIELDS with the grid given by its code as `grid_code`. Every
    row is checked as enterprise_create checks one (name, credit code, mobile number, place,
    scope, a credit code not yet registered) with a few set-wise reads; then one bulk INSERT
    and one INSERT of creation events. Refuses all rows if one is wrong, saying which.
    """
    scope = _scope(actor)
    codes = {str(r["grid_code"]) for r in rows}
    grids = {g.code: g for g in Grid.objects.filter(code__in=codes).select_related("unit")}
    problems: list[str] = []
    built: list[Enterprise] = []
    seen: set[str] = set()
    for row in rows:
        values = {k: v for k, v in row.items() if k != "grid_code"}
        grid = grids.get(str(row["grid_code"]))
        name = str(values.get("name", ""))
        if grid is None:
            problems.append(
                f"{name}: " + _("grid %(code)s does not exist") % {"code": row["grid_code"]}
            )
            continue
        enterprise = Enterprise(grid=grid, unit=grid.unit)
        _assign(enterprise, values, ENTERPRISE_FIELDS)
        try:
            validate_name(enterprise.name)
            enterprise.clean()
        except ValidationError as exc:
            problems += [f"{name}: {message}" for message in exc.messages]
            continue
        enterprise.fill_place()
        if not scope.contains(enterprise.scope_code):
            problems.append(f"{name}: " + _("The record would lie outside your scope."))
        if enterprise.credit_code in seen:
            problems.append(f"{name} {enterprise.credit_code}: {_taken()}")
        seen.add(enterprise.credit_code)
        built.append(enterprise)
    taken: list[str] = []
    credit_codes = sorted(seen)
    for start in range(0, len(credit_codes), CHUNK):
        taken += Enterprise.objects.filter(
            credit_code__in=credit_codes[start : start + CHUNK]
        ).values_list("credit_code", flat=True)
    problems += [f"{code}: {_taken()}" for code in taken]
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        Enterprise.objects.bulk_create(built, batch_size=500)
        if any(e.pk is None for e in built):  # a database that returns no keys
            by_code = dict(
                Enterprise.objects.filter(credit_code__in=credit_codes).values_list(
                    "credit_code", "pk"
                )
            )
            for e in built:
                e.pk = by_code[e.credit_code]
        _record_each(
            audit.Event.Action.CREATE,
            [
                (e, {k: [None, v] for k, v in audit.snapshot(e).items() if v not in (None, "")})
                for e in built
            ],
            always=True,
        )
    return len(built)


def _taken() -> str:
    """Django's own message for a credit code already registered."""
    error = Enterprise().unique_error_message(Enterprise, ("credit_code",))
    return str(error.messages[0])


# --- the tag vocabulary ----------------------------------------------------------------------


def tag_create(*, actor: User | None, data: Mapping[str, Any]) -> Tag:
    """A new tag of the vocabulary; a sensitive tag's events are sensitive whole."""
    with transaction.atomic():
        return _create(Tag(), data, TAG_FIELDS, actor, ())


def tag_update(*, actor: User | None, tag: Tag | int, data: Mapping[str, Any]) -> Tag:
    """Rename, redescribe or reclassify a tag. Rows keep the tag names they hold."""
    with transaction.atomic():
        row, _before = _update(Tag, tag, data, TAG_FIELDS, actor, ())
    return row


def tag_delete(*, actor: User | None, tag: Tag | int) -> None:
    """Remove a tag from the vocabulary (rows that hold it keep it; imports refuse it)."""
    with transaction.atomic():
        row = _fetch(Tag, tag, actor)
        _delete(Tag, [row], actor)


def tags_delete(*, actor: User | None, tags: Iterable[Tag | int]) -> int:
    with transaction.atomic():
        return _delete(Tag, tags, actor)


# --- the demo's reset ------------------------------------------------------------------------


def registry_clear(*, reason: str) -> dict[str, int]:
    """Delete every resident, enterprise and household: one event per kind with the count.

    For `grassroots demo --force` only (a demo county is not worth a million events); rows
    that still refer to households (cases) must be removed first.
    """
    counts = {}
    with transaction.atomic():
        for model in (Resident, Enterprise, Household):
            count = model.objects.count()
            model.objects.all().delete()
            if count:
                _record_cleared(model, count, reason)
            counts[str(model._meta.verbose_name_plural)] = count
    return counts
