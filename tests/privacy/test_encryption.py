"""ID and mobile numbers are encrypted at rest; lookups, imports and audits work on top."""

from __future__ import annotations

import base64
import json
import os
from io import StringIO

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from grassroots.core import crypto
from grassroots.core.keys import count_by_key
from grassroots.core.scoping import Scope
from grassroots.registry.coverage import coverage_report
from grassroots.registry.imports import import_residents
from grassroots.registry.models import Enterprise, Resident
from grassroots.registry.selectors import resident_search_q
from tests import factories as f


@pytest.fixture(autouse=True)
def own_keyring(settings, tmp_path):
    """Each test gets its own keyring file, so rotations do not leak between tests."""
    settings.DATA_KEYS = ""
    settings.DATA_KEYRING_FILE = str(tmp_path / "keyring.json")
    crypto.reset()
    yield
    crypto.reset()


def dump_database() -> str:
    """Every row of every table as text, read through the connection: what a stolen
    database file or backup would give."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    if connection.vendor == "sqlite":
        parts.extend(connection.connection.iterdump())
    return "\n".join(parts)


def test_a_dump_of_the_database_holds_no_plain_id_or_phone_number(world, tmp_path):
    numbers = [r.id_number for r in world.residents.values()]
    phones = {r.phone for r in world.residents.values() if r.phone}
    table = tmp_path / "r.csv"
    fresh = f.id_number("19900505", seq=77)
    table.write_text(
        f"姓名,身份证号,手机号,户编号\n新人,{fresh},13912345678,HA11-1\n", encoding="utf-8"
    )
    assert import_residents(table).ok
    f.enterprise("某公司", world.grid_a11, "91350426MA2Y12345X")
    Enterprise.objects.update(contact_phone="13700137000")
    phones.add("13700137000")
    dump = dump_database()
    assert Resident.objects.count() > len(numbers)
    for secret in [*numbers, fresh, *phones, "13912345678"]:
        assert secret not in dump
        # Nor the distinctive middle of an ID (birth date + sequence), nor the last digits.
        assert secret[6:14] + secret[14:17] not in dump
    # The values are there, under a key id, and decrypt.
    assert f"{crypto.FORMAT}:{crypto.keyring().primary}:" in dump
    assert Resident.objects.with_id_number(fresh).get().phone == "13912345678"


def test_the_field_refuses_filters_on_ciphertext(world):
    with pytest.raises(FieldError, match="encrypted"):
        list(Resident.objects.filter(id_number="350426198001010211"))
    with pytest.raises(FieldError, match="encrypted"):
        list(Resident.objects.filter(phone__startswith="138"))


def test_lookup_and_last_digit_search_work_through_keyed_hashes(world):
    resident = world.residents["赵光菊"]
    assert list(Resident.objects.with_id_number(resident.id_number.lower())) == [resident]
    assert list(Resident.objects.with_phone(resident.phone)) != []
    for fragment in (resident.id_number[-4:], resident.id_number[-6:], resident.id_number):
        found = Resident.objects.filter(resident_search_q(fragment))
        assert resident in found, fragment
    wrong = "9" + resident.id_number[-5:]
    assert resident not in Resident.objects.filter(resident_search_q(wrong))
    # The tail column holds a keyed hash, not the digits.
    assert resident.id_number[-4:] not in resident.id_tail


def test_values_are_authenticated_and_each_encryption_is_fresh():
    a, b = crypto.encrypt("350426198001010211"), crypto.encrypt("350426198001010211")
    assert a != b and crypto.decrypt(a) == crypto.decrypt(b) == "350426198001010211"
    prefix, key_id, blob = a.split(":")
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    raw[-1] ^= 1
    tampered = f"{prefix}:{key_id}:" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(crypto.DecryptionError, match="does not decrypt"):
        crypto.decrypt(tampered)
    with pytest.raises(crypto.DecryptionError, match="not configured"):
        crypto.decrypt(f"{prefix}:nosuchkey:{blob}")


def test_the_keyring_file_is_private(settings):
    crypto.encrypt("x")
    mode = os.stat(settings.DATA_KEYRING_FILE).st_mode & 0o777
    assert mode == 0o600


def test_keys_from_the_environment_are_checked(settings):
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.DATA_KEYS = f"k1:{key}"
    settings.DATA_HMAC_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="DATA_HMAC_KEY"):
        crypto.encrypt("x")
    settings.DATA_HMAC_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.DATA_KEYS = "k1:c2hvcnQ"
    with pytest.raises(ImproperlyConfigured, match="32 bytes"):
        crypto.encrypt("x")
    settings.DATA_KEYS = f"k1:{key}"
    assert crypto.encrypt("x").startswith("e1:k1:")


def test_duplicates_and_the_coverage_audit_work_on_encrypted_numbers(world):
    twin = world.residents["李白"]
    f.resident("李白二", world.households["HA11-1"], number=twin.id_number)
    report = coverage_report(Scope.everything()).as_dict()
    assert report["duplicate_id_numbers"] == 1
    assert report["samples"]["duplicate_id_numbers"] == [twin.id_number_masked]


def test_rotation_reencrypts_everything_while_old_values_stay_readable(world, settings):
    before = crypto.keyring().primary
    # A reader holding a value encrypted before the rotation can still read it afterwards.
    old_value = crypto.encrypt("13800138000")
    out = StringIO()
    call_command("keys", "rotate", stdout=out)
    after = crypto.keyring().primary
    assert after != before and "re-encrypted" in out.getvalue()
    assert crypto.decrypt(old_value) == "13800138000"
    counts = count_by_key()
    for label, per_key in counts.items():
        assert per_key.get(before, 0) == 0, label
    assert counts["registry.resident.id_number"][after] == Resident.objects.count()
    for r in world.residents.values():
        stored = Resident.objects.get(pk=r.pk)
        assert stored.id_number == r.id_number and stored.phone == r.phone
    assert Resident.objects.with_id_number(world.residents["李白"].id_number).exists()
    # Retiring: the primary key is refused; the old one goes once nothing uses it.
    with pytest.raises(Exception, match="primary"):
        call_command("keys", "retire", after)
    call_command("keys", "retire", before, stdout=StringIO())
    assert before not in crypto.keyring(refresh=True).keys
    status = StringIO()
    call_command("keys", "status", "--json", stdout=status)
    data = json.loads(status.getvalue())
    assert data["primary"] == after and data["keys"] == [after]


def test_a_key_still_in_use_cannot_be_retired(world):
    old = crypto.keyring().primary
    from grassroots.core.keys import add_primary_key

    add_primary_key()  # new primary, nothing re-encrypted yet
    with pytest.raises(Exception, match="still encrypts"):
        call_command("keys", "retire", old)
    assert old in crypto.keyring(refresh=True).keys


def test_rotation_is_recorded_in_the_audit_trail(world):
    from grassroots.audit.models import Event

    call_command("keys", "rotate", stdout=StringIO())
    event = Event.objects.get(action="keys")
    assert event.channel == "command"
    assert event.changes["reencrypted"]["registry.resident.id_number"] == Resident.objects.count()


def test_the_database_file_itself_holds_no_plain_number(tmp_path):
    """Load a demo county into a real SQLite file with the `grassroots` command, then read
    the file's bytes (and its write-ahead log) the way someone who copied it would."""
    import subprocess
    import sys

    from grassroots.demo import build_county

    database = tmp_path / "stolen.sqlite3"
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{database}",
        "LANGUAGE_CODE": "en",
    }
    for args in (["migrate", "-v0"], ["demo", "--households", "40", "--seed", "5"]):
        subprocess.run(
            [sys.executable, "-m", "grassroots", *args],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    county = build_county(households=40, seed=5)
    numbers = {row[1] for row in county.resident_rows}
    phones = {row[2] for row in county.resident_rows if row[2]}
    assert len(numbers) > 100 and len(phones) > 50
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("stolen.sqlite3*"))
    assert len(raw) > 100_000
    leaked = [n for n in numbers | phones if n.encode() in raw]
    assert leaked == []
    # The names are there (they are not encrypted): the search really looked at the data.
    assert county.resident_rows[0][0].encode() in raw


def test_rotation_leaves_alone_a_value_the_application_changed_meanwhile(world, monkeypatch):
    from grassroots.core import keys

    keys.add_primary_key()
    original = keys._stale_rows
    raced: list[int] = []

    def racing(col, primary, after):
        rows = original(col, primary, after)
        if col.label == "registry.resident.phone" and rows and not raced:
            # Between the rotation's read and its write, someone saves a new number.
            resident = Resident.objects.get(pk=rows[0][0])
            resident.phone = "13912340000"
            resident.save()
            raced.append(resident.pk)
        return rows

    monkeypatch.setattr(keys, "_stale_rows", racing)
    report = keys.reencrypt()
    assert report.skipped == 1
    assert Resident.objects.get(pk=raced[0]).phone == "13912340000"
    assert count_by_key()["registry.resident.phone"] == {
        crypto.keyring().primary: Resident.objects.exclude(phone_hash="").count(),
        **{k: 0 for k in crypto.keyring().keys if k != crypto.keyring().primary},
    }


def test_key_commands_refuse_clearly(world, settings):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="KEY_ID: no key nosuch in the keyring"):
        call_command("keys", "retire", "nosuch")
    # Keys from the environment (here: the same keys the test's keyring file holds): the
    # command cannot add a key there; it says what to do instead.
    ring = crypto.keyring()
    old = ring.primary
    entries = ",".join(f"{k}:{base64.urlsafe_b64encode(v).decode()}" for k, v in ring.keys.items())
    settings.DATA_KEYS = entries
    settings.DATA_HMAC_KEY = base64.urlsafe_b64encode(ring.hmac_key).decode()
    with pytest.raises(CommandError, match="put a new key first in DATA_KEYS"):
        call_command("keys", "rotate", stdout=StringIO())
    # With a new key first in DATA_KEYS, --reencrypt-only moves every value under it.
    settings.DATA_KEYS = f"k2:{base64.urlsafe_b64encode(os.urandom(32)).decode()},{entries}"
    call_command("keys", "rotate", "--reencrypt-only", stdout=StringIO())
    assert count_by_key()["registry.resident.phone"] == {"k2": Resident.objects.count(), old: 0}
    assert {r.phone for r in Resident.objects.all()} == {"13800138000"}
    assert Resident.objects.with_id_number(world.residents["李白"].id_number).exists()
    with pytest.raises(CommandError, match="remove it from DATA_KEYS yourself"):
        call_command("keys", "retire", old)
