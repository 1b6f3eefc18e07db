"""Encryption at rest of personal values (ID and mobile numbers), and keyed hashes for lookup.

Stored form of an encrypted value: ``e1:<key id>:<base64url(nonce | ciphertext | tag)>``, AES-256
in GCM mode with a random 96-bit nonce (the `cryptography` package). The key id travels with
each value, so several keys can be live at once: readers decrypt with whichever key a value
names, writers always use the primary key, and `grassroots keys rotate` re-encrypts the rest
while the application keeps serving.

Equality lookups and uniqueness work on a keyed hash (HMAC-SHA256 under a separate key,
truncated to 128 bits) kept in its own column. Search by the last digits of an ID number uses a
second keyed hash of those four characters only. Without the keys, neither reveals a number:
the HMAC key defeats the dictionary attack that a plain hash of an 18-digit ID would invite.

Keys come from the environment (`DATA_KEYS="id:base64,id:base64"`, first is primary, and
`DATA_HMAC_KEY`), or from the keyring file `DATA_KEYRING_FILE` (default VAR_DIR/keyring.json,
mode 0600), which is created on first use. Never from the repository.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

FORMAT = "e1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
# How often a reader checks whether the keyring file changed (a rotation by another process).
RELOAD_SECONDS = 2.0


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key, corrupted value)."""


@dataclass
class Keyring:
    primary: str
    keys: dict[str, bytes]
    hmac_key: bytes
    source: str
    path: Path | None = None
    mtime: float = 0.0
    ciphers: dict[str, AESGCM] = field(default_factory=dict)
    _tools: BulkCrypto | None = None

    def tools(self) -> BulkCrypto:
        """encrypt / digest / tail_digest under this keyring (made once)."""
        if self._tools is None:
            self._tools = BulkCrypto(self)
        return self._tools

    def cipher(self, key_id: str) -> AESGCM:
        cipher = self.ciphers.get(key_id)
        if cipher is None:
            cipher = self.ciphers[key_id] = AESGCM(self.keys[key_id])
        return cipher


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{what} is not valid base64") from exc


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def new_key_id() -> str:
    """A short id that sorts by creation time: "k" + milliseconds since 1970 in base 36.

    It is repeated in every encrypted value, so it is kept short (9 characters until 2059).
    """
    millis = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    digits = ""
    while millis:
        millis, digit = divmod(millis, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return "k" + digits


def _check_key(key_id: str, raw: bytes, where: str) -> None:
    if not _KEY_ID.match(key_id):
        raise ImproperlyConfigured(f"{where}: key id {key_id!r} must be 1-24 letters or digits")
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{where}: key {key_id} must be 32 bytes (AES-256)")


def _from_environment(spec: str, hmac_spec: str) -> Keyring:
    keys: dict[str, bytes] = {}
    primary = ""
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep:
            raise ImproperlyConfigured("DATA_KEYS: each entry is id:base64key")
        raw = _b64decode(encoded, f"DATA_KEYS key {key_id}")
        _check_key(key_id, raw, "DATA_KEYS")
        keys[key_id] = raw
        primary = primary or key_id
    if not keys:
        raise ImproperlyConfigured("DATA_KEYS is set but holds no key")
    if not hmac_spec:
        raise ImproperlyConfigured("DATA_KEYS is set: DATA_HMAC_KEY must be set too")
    hmac_key = _b64decode(hmac_spec, "DATA_HMAC_KEY")
    if len(hmac_key) < 32:
        raise ImproperlyConfigured("DATA_HMAC_KEY must be at least 32 bytes")
    return Keyring(primary, keys, hmac_key, source="environment")


def _read_file(path: Path) -> Keyring:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["keys"]
        keys = {e["id"]: _b64decode(e["key"], f"{path}: key {e['id']}") for e in entries}
        primary = data["primary"]
        hmac_key = _b64decode(data["hmac_key"], f"{path}: hmac_key")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImproperlyConfigured(f"{path}: not a readable keyring ({exc})") from exc
    for key_id, raw in keys.items():
        _check_key(key_id, raw, str(path))
    if primary not in keys:
        raise ImproperlyConfigured(f"{path}: primary key {primary!r} is not in the keyring")
    return Keyring(primary, keys, hmac_key, "file", path, path.stat().st_mtime)


def write_keyring_file(path: Path, primary: str, keys: dict[str, bytes], hmac_key: bytes) -> None:
    """Write the keyring atomically (a reader sees the old or the new file), mode 0600."""
    payload = {
        "primary": primary,
        "keys": [{"id": k, "key": _b64encode(v)} for k, v in keys.items()],
        "hmac_key": _b64encode(hmac_key),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _keyring_path() -> Path:
    return Path(getattr(settings, "DATA_KEYRING_FILE", "") or settings.VAR_DIR / "keyring.json")


def _load() -> Keyring:
    spec = getattr(settings, "DATA_KEYS", "")
    if spec:
        return _from_environment(spec, getattr(settings, "DATA_HMAC_KEY", ""))
    path = _keyring_path()
    if not path.exists():
        key_id = new_key_id()
        try:
            # O_EXCL: two processes starting at once must not write two different keyrings.
            fd = os.open(path.with_name(path.name + ".lock"), os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):
                if path.exists():
                    break
                time.sleep(0.1)
        else:
            os.close(fd)
            try:
                if not path.exists():
                    write_keyring_file(path, key_id, {key_id: new_key()}, os.urandom(32))
            finally:
                os.unlink(path.with_name(path.name + ".lock"))
    return _read_file(path)


_lock = threading.Lock()
_state: dict[str, Any] = {"ring": None, "checked": 0.0}


def keyring(*, refresh: bool = False) -> Keyring:
    """The current keyring; re-read when the file changed (another process rotated keys).

    The hot path (every encrypt, decrypt and hash) is one clock read: the file's time stamp
    is looked at once every RELOAD_SECONDS, and a change of the DATA_* settings (tests)
    resets the cache through Django's setting_changed signal.
    """
    ring: Keyring | None = _state["ring"]
    now = time.monotonic()
    if ring is not None and not refresh and now - _state["checked"] < RELOAD_SECONDS:
        return ring
    with _lock:
        ring = _state["ring"]
        if ring is not None and ring.path is not None:
            try:
                changed = ring.path.stat().st_mtime != ring.mtime
            except OSError:
                changed = True
            if changed:
                ring = None
        if ring is None:
            ring = _load()
            _state["ring"] = ring
        _state["checked"] = now
        return ring


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DATA_KEYS", "DATA_HMAC_KEY", "DATA_KEYRING_FILE", "VAR_DIR"):
        reset()


def reset() -> None:
    """Forget the cached keyring (after the keyring changed in this process)."""
    _state["ring"] = None


def encrypt(plain: str) -> str:
    return keyring().tools().encrypt(plain)


def key_id_of(stored: str) -> str:
    """The key a stored value was encrypted with ("" for an empty value)."""
    if not stored:
        return ""
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT:
        raise DecryptionError("not an encrypted value")
    return parts[1]


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    key_id = key_id_of(stored)
    ring = keyring()
    if key_id not in ring.keys:
        ring = keyring(refresh=True)  # a key added by a rotation in another process
        if key_id not in ring.keys:
            raise DecryptionError(f"value encrypted with key {key_id}, which is not configured")
    raw = stored.split(":", 2)[2]
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return ring.cipher(key_id).decrypt(blob[:12], blob[12:], None).decode("utf-8")
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptionError(f"value under key {key_id} does not decrypt (corrupted?)") from exc


def digest(value: str) -> str:
    """Keyed hash for exact lookup and uniqueness (32 hex characters; "" for "")."""
    return keyring().tools().digest(value)


def tail_digest(tail: str) -> str:
    """Keyed hash of the last characters of an ID number, for search by the last digits."""
    return keyring().tools().tail_digest(tail)


class BulkCrypto:
    """encrypt / digest / tail_digest bound to one keyring.

    The module functions use the current keyring's instance; loops over many rows (an import
    of a county's million residents makes three million calls) hold one to skip the keyring
    lookup per call.
    """

    def __init__(self, ring: Keyring | None = None) -> None:
        ring = ring or keyring()
        self._prefix = f"{FORMAT}:{ring.primary}:"
        self._seal = ring.cipher(ring.primary).encrypt
        self._mac = hmac.new(ring.hmac_key, digestmod=hashlib.sha256)

    def encrypt(self, plain: str) -> str:
        if not plain:
            return ""
        nonce = os.urandom(12)
        return self._prefix + _b64encode(nonce + self._seal(nonce, plain.encode("utf-8"), None))

    def digest(self, value: str) -> str:
        if not value:
            return ""
        mac = self._mac.copy()
        mac.update(b"value\0" + value.encode("utf-8"))
        return mac.hexdigest()[:32]

    def tail_digest(self, tail: str) -> str:
        if not tail:
            return ""
        mac = self._mac.copy()
        mac.update(b"tail\0" + tail.encode("utf-8"))
        return mac.hexdigest()[:16]


class EncryptedCharField(models.CharField):  # type: ignore[type-arg]
    """A short personal value (ID or mobile number) held encrypted in a text column.

    In Python the attribute is the plain value; the database only ever sees ciphertext.
    Filtering on the column is refused: look values up through their keyed-hash column.
    `max_length` applies to the plain value (forms, validation).
    """

    encrypted = True

    def db_type(self, connection: Any) -> str:
        return str(connection.data_types["TextField"])

    def cast_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted: filter on its keyed hash instead"
        )

    def get_transform(self, lookup_name: str) -> Any:
        return None


def encrypt_table_in_place(
    schema_editor: Any, table: str, columns: dict[str, dict[str, Any]]
) -> None:
    """Migration helper: encrypt plain values already in `table`, filling their hash columns.

    `columns` maps a value column to {"hash": column or None, "tail": column or None}. Values
    already encrypted are decrypted and sealed again, so a re-run after a failure is safe.
    """
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    names = list(columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(qn(c) for c in names)} FROM {qn(table)}")
        rows = cursor.fetchall()
    updates: list[list[Any]] = []
    sets: list[str] = []
    for name in names:
        sets.append(f"{qn(name)} = %s")
        if columns[name].get("hash"):
            sets.append(f"{qn(columns[name]['hash'])} = %s")
        if columns[name].get("tail"):
            sets.append(f"{qn(columns[name]['tail'])} = %s")
    for pk, *values in rows:
        params: list[Any] = []
        for name, value in zip(names, values, strict=True):
            plain = value or ""
            if plain.startswith(FORMAT + ":"):
                plain = decrypt(plain)
            params.append(encrypt(plain))
            if columns[name].get("hash"):
                params.append(digest(plain))
            if columns[name].get("tail"):
                params.append(tail_digest(plain[-4:]))
        updates.append([*params, pk])
    if updates:
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {qn(table)} SET {', '.join(sets)} WHERE id = %s", updates)
