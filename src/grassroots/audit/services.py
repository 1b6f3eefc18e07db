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

from django.db import connection, models, transaction
from django.utils import timezone

from grassroots.core.bulk import db_datetime, indexes_to_rebuild, insert_raw, insert_rows
from grassroots.core.validators import mask_id_number, mask_name, mask_phone

from .context import current
from .models import Event

# Personal fields, masked in every event; any other encrypted field is hidden entirely.
MASKED: dict[str, dict[str, Callable[[str], str]]] = {
    "registry.resident": {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone},
    "registry.enterprise": {"contact_phone": mask_phone},
    "accounts.user": {"phone": mask_phone},
    "cases.case": {"reporter_name": mask_name, "reporter_phone": mask_phone},
    "cases.mediationparty": {"name": mask_name, "phone": mask_phone},
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
    sensitive: bool = False,
) -> Event:
    """Write one event stamped with the current context (actor, channel, request, address).

    `sensitive`: the event is about something behind an explicit grant (see Event.sensitive).
    """
    ctx = current()
    actor_id, actor_name = ctx.actor()
    return Event.objects.create(
        at=timezone.now(),
        actor_id=actor_id,
        actor_name=actor_name,
        channel=ctx.channel,
        request_id=ctx.request_id,
        client_request_id=ctx.client_request_id,
        address=ctx.address,
        action=action,
        object_type=object_type,
        object_id="" if object_id in (None, "") else str(object_id),
        object_repr=object_repr[:200],
        scope_code=scope_code,
        changes=dict(changes or {}),
        reason=reason,
        sensitive=sensitive,
    )


def split_sensitive(
    obj: models.Model, changes: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(public, sensitive) parts of the changes of `obj`, as the object's model says.

    A model whose rows may hold something behind an explicit grant defines
    `audit_split(changes) -> (public, sensitive)`; the audit app itself knows nothing of it.
    A public part of None means that not even the event's existence is public.
    """
    splitter = getattr(obj, "audit_split", None)
    if splitter is None:
        return dict(changes), {}
    public, secret = splitter(dict(changes))
    return (None if public is None else dict(public)), dict(secret)


def _record_split(
    action: str,
    obj: models.Model,
    changes: Mapping[str, Any],
    *,
    object_id: Any,
    reason: str,
    always: bool,
) -> Event | None:
    """The public event (always for creation and removal, which are no secret) and, apart,
    a sensitive event with what only the granted may read. Returns the public one if any."""
    public, secret = split_sensitive(obj, changes)
    common = {
        "object_type": object_type(obj),
        "object_id": object_id,
        "object_repr": label(obj),
        "scope_code": scope_of(obj),
        "reason": reason,
    }
    event = None
    if public is not None and (public or always):
        event = record(action, changes=public, **common)
    if secret:
        sensitive_event = record(action, changes=secret, sensitive=True, **common)
        event = event or sensitive_event
    return event


def created(obj: models.Model, *, reason: str = "") -> Event:
    after = snapshot(obj)
    changes = {k: [None, v] for k, v in after.items() if v not in (None, "")}
    event = _record_split(
        Event.Action.CREATE, obj, changes, object_id=obj.pk, reason=reason, always=True
    )
    assert event is not None
    return event


def updated(obj: models.Model, before: Mapping[str, Any], *, reason: str = "") -> Event | None:
    """Record the change of `obj` since `before` (a snapshot); nothing if nothing changed."""
    return changed(obj, diff(before, snapshot(obj)), reason=reason)


def changed(
    obj: models.Model,
    changes: Mapping[str, Any],
    *,
    action: str = Event.Action.UPDATE,
    reason: str = "",
) -> Event | None:
    """Record `changes` ({field: [before, after]}) of `obj`; nothing if there are none."""
    if not changes:
        return None
    return _record_split(action, obj, changes, object_id=obj.pk, reason=reason, always=False)


def deleted(obj: models.Model, *, pk: Any = None, reason: str = "") -> Event:
    """Record the removal of `obj` (call before or after delete(); pass pk after)."""
    before = snapshot(obj)
    changes = {k: [v, None] for k, v in before.items() if v not in (None, "")}
    event = _record_split(
        Event.Action.DELETE,
        obj,
        changes,
        object_id=pk if pk is not None else obj.pk,
        reason=reason,
        always=True,
    )
    assert event is not None
    return event


def record_many(
    action: str,
    kind: str,
    items: Iterable[tuple[Any, str, str, Mapping[str, Any] | str]],
    *,
    sensitive: bool = False,
) -> int:
    """Events for many objects at once (imports): (object id, repr, scope code, changes).

    `changes` is a mapping, or the same already encoded as JSON text (fast paths). With
    `sensitive`, every event is marked sensitive (the caller split the changes).

    One prepared INSERT for all rows, inside the caller's transaction.
    """
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
            ctx.client_request_id,
            ctx.address,
            action,
            kind,
            str(pk),
            repr_[:200],
            scope,
            changes if isinstance(changes, str) else dumps(changes, ensure_ascii=False),
            "",
            sensitive,
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
            "client_request_id",
            "address",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "scope_code",
            "changes",
            "reason",
            "sensitive",
        ),
        rows,
    )


def record_created_rows(
    model: type[models.Model],
    masked: Iterable[tuple[int, str, str, str, str, str]],
    *,
    masked_keys: tuple[str, str, str, str] = ("", "", "", ""),
    columns: Mapping[str, str],
    after_pk: int,
) -> int:
    """Creation events for rows an import has just inserted, built by the database.

    `masked` holds, per new row in primary-key order: (pk, masked label, up to four values
    made in Python) — the only parts that need Python (ID and mobile numbers are ciphertext in
    the table; tags lose those behind a grant, which the caller records apart with
    record_many(sensitive=True)). `masked_keys`
    names those four values in the event's changes ("" for unused), and `columns` maps other
    change keys to the model's own columns, which the database turns into JSON itself
    (SQLite json_object, PostgreSQL jsonb_build_object); empty values are left out, as in
    `created()`. One INSERT … SELECT instead of a million Python-built rows: for a county's
    first import of residents this is the difference between about 35 s and a few.
    """
    vendor = connection.vendor
    qn = connection.ops.quote_name
    if vendor == "postgresql":
        make_object, make_array = "jsonb_strip_nulls(jsonb_build_object({}))", "jsonb_build_array"
    elif vendor == "sqlite":
        make_object, make_array = "json_patch('{{}}', json_object({}))", "json_array"
    else:  # pragma: no cover - other engines take the row-by-row path
        raise NotImplementedError(vendor)
    table = qn(model._meta.db_table)
    pk = qn(str(model._meta.pk.column))  # type: ignore[union-attr]
    scratch_name = "audit_created_scratch"
    scratch = qn(scratch_name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        cursor.execute(
            # Rows arrive in key order, so the scratch table (and the join) is sequential.
            f"CREATE TEMPORARY TABLE {scratch} (k {'INTEGER' if vendor == 'sqlite' else 'bigint'}"
            " PRIMARY KEY, label text, m1 text, m2 text, m3 text, m4 text)"
        )
    count = insert_raw(scratch_name, ("k", "label", "m1", "m2", "m3", "m4"), masked)
    pairs = []
    for key, slot in zip(masked_keys, ("m1", "m2", "m3", "m4"), strict=True):
        if key:
            pairs.append(f"'{key}', CASE WHEN m.{slot} <> '' THEN {make_array}(NULL, m.{slot}) END")
    for key, column in columns.items():
        col = f"r.{qn(column)}"
        pairs.append(
            f"'{key}', CASE WHEN {col} IS NULL OR CAST({col} AS TEXT) = '' THEN NULL"
            f" ELSE {make_array}(NULL, {col}) END"
        )
    ctx = current()
    actor_id, actor_name = ctx.actor()
    changes = make_object.format(", ".join(pairs))
    sql = (
        f"INSERT INTO {qn(Event._meta.db_table)} (at, actor_id, actor_name, channel,"
        " request_id, client_request_id, address, action, object_type, object_id,"
        " object_repr, scope_code, changes, reason, sensitive)"
        f" SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, CAST(r.{pk} AS TEXT), m.label,"
        f" r.{qn('scope_code')}, {changes}, '', %s"
        f" FROM {scratch} m JOIN {table} r ON r.{pk} = m.k WHERE m.k > %s"
        f" ORDER BY m.k"
    )
    params = [
        db_datetime(timezone.now()),
        actor_id,
        actor_name,
        ctx.channel,
        ctx.request_id,
        ctx.client_request_id,
        ctx.address,
        Event.Action.CREATE,
        object_type(model),
        False,
        after_pk,
    ]
    # Many events into a small table: its indexes are built once afterwards (as insert_rows).
    rebuild = indexes_to_rebuild(Event, count)
    with transaction.atomic(), connection.cursor() as cursor:
        for name, _create in rebuild:
            cursor.execute("DROP INDEX " + qn(name))
        cursor.execute(sql, params)
        for _name, create in rebuild:
            cursor.execute(create)
        cursor.execute(f"DROP TABLE {scratch}")
    return count
