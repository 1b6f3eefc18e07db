"""Writing audit events. Services call these inside the transaction that makes the change.

    before = audit.snapshot(resident)
    ... change and save ...
    audit.updated(resident, before)

Values are recorded as they would be shown to a person without the reveal permission: ID and
mobile numbers masked, residents' names reduced to the surname, password hashes never.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from grassroots.core.validators import mask_id_number, mask_name, mask_phone

from .context import current
from .models import Event

# Personal fields, masked in every event; any other encrypted field is hidden entirely.
MASKED: dict[str, dict[str, Callable[[str], str]]] = {
    "registry.resident": {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone},
    "registry.enterprise": {"contact_phone": mask_phone},
    "accounts.user": {"phone": mask_phone},
}
# Never recorded, not even masked.
EXCLUDED = {"password", "last_login", "digest"}
HIDDEN = "***"


def object_type(obj: models.Model | type[models.Model]) -> str:
    return obj._meta.label_lower


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def masked_value(kind: str, field: str, value: Any) -> Any:
    """The value of `field` on a `kind` object as the audit trail records it."""
    masker = MASKED.get(kind, {}).get(field)
    if value in (None, ""):
        return value
    if masker is not None:
        return masker(str(value))
    return _plain(value)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The recorded fields of `obj`: editable concrete fields, personal values masked."""
    kind = object_type(obj)
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or not field.editable or field.name in EXCLUDED:
            continue
        value = getattr(obj, field.attname)
        if getattr(field, "encrypted", False) and field.name not in MASKED.get(kind, {}):
            values[field.name] = HIDDEN if value else value
            continue
        values[field.name] = masked_value(kind, field.name, value)
    return values


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    keys = list(dict.fromkeys([*before, *after]))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def label(obj: models.Model) -> str:
    """A masked description of `obj` (models may define `audit_label`)."""
    text = getattr(obj, "audit_label", None)
    return str(text if text is not None else obj)[:200]


def scope_of(obj: models.Model) -> str:
    """The territory code of `obj` (models without one may define `audit_scope`)."""
    code = getattr(obj, "audit_scope", None)
    if code is None:
        code = getattr(obj, "scope_code", None)
    if code is None:
        code = getattr(obj, "code", "")
    return str(code or "")


def record(
    action: str,
    *,
    object_type: str,
    object_id: Any = "",
    object_repr: str = "",
    scope_code: str = "",
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
) -> Event:
    """Write one event stamped with the current context (actor, channel, request, address)."""
    ctx = current()
    actor_id, actor_name = ctx.actor()
    return Event.objects.create(
        at=timezone.now(),
        actor_id=actor_id,
        actor_name=actor_name,
        channel=ctx.channel,
        request_id=ctx.request_id,
        address=ctx.address,
        action=action,
        object_type=object_type,
        object_id="" if object_id in (None, "") else str(object_id),
        object_repr=object_repr[:200],
        scope_code=scope_code,
        changes=dict(changes or {}),
        reason=reason,
    )


def created(obj: models.Model, *, reason: str = "") -> Event:
    after = snapshot(obj)
    return record(
        Event.Action.CREATE,
        object_type=object_type(obj),
        object_id=obj.pk,
        object_repr=label(obj),
        scope_code=scope_of(obj),
        changes={k: [None, v] for k, v in after.items() if v not in (None, "")},
        reason=reason,
    )


def updated(obj: models.Model, before: Mapping[str, Any], *, reason: str = "") -> Event | None:
    """Record the change of `obj` since `before` (a snapshot); nothing if nothing changed."""
    changes = diff(before, snapshot(obj))
    if not changes:
        return None
    return record(
        Event.Action.UPDATE,
        object_type=object_type(obj),
        object_id=obj.pk,
        object_repr=label(obj),
        scope_code=scope_of(obj),
        changes=changes,
        reason=reason,
    )


def deleted(obj: models.Model, *, pk: Any = None, reason: str = "") -> Event:
    """Record the removal of `obj` (call before or after delete(); pass pk after)."""
    before = snapshot(obj)
    return record(
        Event.Action.DELETE,
        object_type=object_type(obj),
        object_id=pk if pk is not None else obj.pk,
        object_repr=label(obj),
        scope_code=scope_of(obj),
        changes={k: [v, None] for k, v in before.items() if v not in (None, "")},
        reason=reason,
    )


def record_many(
    action: str,
    kind: str,
    items: Iterable[tuple[Any, str, str, Mapping[str, Any]]],
) -> int:
    """Events for many objects at once (imports): (object id, repr, scope code, changes).

    One prepared INSERT for all rows, inside the caller's transaction.
    """
    from grassroots.core.bulk import db_datetime, insert_rows

    ctx = current()
    actor_id, actor_name = ctx.actor()
    now = db_datetime(timezone.now())
    dumps = json.dumps
    rows = [
        (
            now,
            actor_id,
            actor_name,
            ctx.channel,
            ctx.request_id,
            ctx.address,
            action,
            kind,
            str(pk),
            repr_[:200],
            scope,
            dumps(changes, ensure_ascii=False),
            "",
        )
        for pk, repr_, scope, changes in items
    ]
    return insert_rows(
        Event,
        (
            "at",
            "actor_id",
            "actor_name",
            "channel",
            "request_id",
            "address",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "scope_code",
            "changes",
            "reason",
        ),
        rows,
    )


def in_transaction() -> bool:
    return transaction.get_connection().in_atomic_block
