"""Key management for encrypted values: status, rotation and retirement of keys.

Rotation never stops readers: a value carries the id of its key, every key in the keyring
stays usable for decryption, and re-encryption proceeds in small batches, each its own short
transaction, with a compare-and-swap (`WHERE pk = ? AND col = <old ciphertext>`) so that a
row changed by the application meanwhile is left as the application wrote it (under the new
primary key already). Other processes notice a changed keyring file within
`crypto.RELOAD_SECONDS`, and on meeting an unknown key id they re-read it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction

from . import crypto

BATCH = 2_000


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[models.Model]
    field: str
    column: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field}"


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of every installed model."""
    found = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if getattr(f, "encrypted", False):
                found.append(EncryptedColumn(model, f.name, str(f.column)))
    return found


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def count_by_key(columns: list[EncryptedColumn] | None = None) -> dict[str, dict[str, int]]:
    """{column label: {key id: number of values}}."""
    ring = crypto.keyring()
    result: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        for col in columns or encrypted_columns():
            table = _q(col.model._meta.db_table)
            counts: dict[str, int] = {}
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {_q(col.column)} <> ''"
                f" AND {_q(col.column)} IS NOT NULL"
            )
            total = cursor.fetchone()[0]
            for key_id in ring.keys:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {_q(col.column)} LIKE %s",
                    [f"{crypto.FORMAT}:{key_id}:%"],
                )
                counts[key_id] = cursor.fetchone()[0]
            unknown = total - sum(counts.values())
            if unknown:
                counts["(unknown)"] = unknown
            result[col.label] = counts
    return result


@dataclass
class RotationReport:
    new_key: str | None = None
    primary: str = ""
    reencrypted: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # rows changed by someone else meanwhile (already under the new key)


def add_primary_key() -> str:
    """A new primary key in the keyring file; the old keys stay for reading."""
    ring = crypto.keyring(refresh=True)
    if ring.source != "file" or ring.path is None:
        raise ImproperlyConfigured(
            "keys come from DATA_KEYS: put a new key first in DATA_KEYS (grassroots keys "
            "generate prints one), restart, then run grassroots keys rotate --reencrypt-only"
        )
    key_id = crypto.new_key_id()
    while key_id in ring.keys:  # ids come from the clock: never reuse one
        time.sleep(0.002)
        key_id = crypto.new_key_id()
    keys = {key_id: crypto.new_key(), **ring.keys}
    crypto.write_keyring_file(ring.path, key_id, keys, ring.hmac_key)
    crypto.reset()
    return key_id


def _stale_rows(col: EncryptedColumn, primary: str, after: int) -> list[tuple[int, str]]:
    table = _q(col.model._meta.db_table)
    pk = _q(str(col.model._meta.pk.column))  # type: ignore[union-attr]
    column = _q(col.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column} <> ''"
            f" AND {column} IS NOT NULL AND {column} NOT LIKE %s ORDER BY {pk}"
            f" LIMIT {BATCH}",
            [after, f"{crypto.FORMAT}:{primary}:%"],
        )
        return list(cursor.fetchall())


def reencrypt(
    columns: list[EncryptedColumn] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every value not under the primary key, batch by batch."""
    ring = crypto.keyring(refresh=True)
    report = RotationReport(primary=ring.primary)
    for col in columns or encrypted_columns():
        table = _q(col.model._meta.db_table)
        pk = _q(str(col.model._meta.pk.column))  # type: ignore[union-attr]
        column = _q(col.column)
        sql = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s"
        done = 0
        for batch in _batches(col, ring.primary):
            params = [(crypto.encrypt(crypto.decrypt(old)), key, old) for key, old in batch]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, params)
                changed = max(cursor.rowcount, 0)
            done += changed
            report.skipped += len(params) - changed
            if progress:
                progress(col.label, done)
        report.reencrypted[col.label] = done
    return report


def _batches(col: EncryptedColumn, primary: str) -> Iterator[list[tuple[int, str]]]:
    after = 0
    while True:
        rows = _stale_rows(col, primary, after)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def retire_key(key_id: str) -> None:
    """Remove a key from the keyring file once no value uses it."""
    ring = crypto.keyring(refresh=True)
    if key_id not in ring.keys:
        raise ValueError(f"no key {key_id} in the keyring")
    if key_id == ring.primary:
        raise ValueError(f"key {key_id} is the primary key; rotate first")
    in_use = {
        label: counts.get(key_id, 0)
        for label, counts in count_by_key().items()
        if counts.get(key_id, 0)
    }
    if in_use:
        where = ", ".join(f"{label}: {n}" for label, n in in_use.items())
        raise ValueError(f"key {key_id} still encrypts values ({where}); run keys rotate")
    if ring.source != "file" or ring.path is None:
        raise ValueError(f"no value uses key {key_id}: remove it from DATA_KEYS yourself")
    keys = {k: v for k, v in ring.keys.items() if k != key_id}
    crypto.write_keyring_file(ring.path, ring.primary, keys, ring.hmac_key)
    crypto.reset()


def generated_entry() -> str:
    """A new key as a DATA_KEYS entry ("id:base64")."""
    return f"{crypto.new_key_id()}:{crypto._b64encode(crypto.new_key())}"


def describe(ring: Any) -> str:
    where = f"file {ring.path}" if ring.source == "file" else "environment (DATA_KEYS)"
    return where
