"""`grassroots open311 key NAME | list | revoke NAME`: keys shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from grassroots.audit.models import Event
from grassroots.cases.models import Open311Key
from grassroots.cases.open311.keys import authenticate


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("open311", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_shows_a_key_once_and_keeps_only_its_digest(db: Any) -> None:
    out, err = run("key", "fixmystreet")
    key = out.strip()
    assert key.startswith("o311_") and len(key) > 40
    assert "shown only now" in err and key not in err
    row = Open311Key.objects.get(name="fixmystreet")
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:8]
    assert key not in json.dumps(list(Open311Key.objects.values()), default=str)
    assert authenticate(key) == row
    # Listing never shows it again.
    listed, _err = run("list")
    assert key not in listed
    event = Event.objects.get(object_type="cases.open311key", action="create")
    assert row.digest not in json.dumps(event.changes)


def test_it_lists_clients_with_their_status(db: Any) -> None:
    run("key", "fixmystreet")
    run("key", "wecom-bot")
    run("revoke", "wecom-bot")
    out, _err = run("list")
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(name, status) for name, _prefix, status, *_rest in lines] == [
        ("fixmystreet", "active"),
        ("wecom-bot", "revoked"),
    ]
    assert lines[0][1].startswith("o311_") and lines[0][4] == "never used"
    rows = [json.loads(line) for line in run("list", "--json")[0].splitlines()]
    assert [(r["name"], r["status"]) for r in rows] == [
        ("fixmystreet", "active"),
        ("wecom-bot", "revoked"),
    ]
    assert rows[1]["revoked_at"] is not None


def test_an_empty_list_says_how_to_issue(db: Any) -> None:
    out, err = run("list")
    assert out == ""
    assert "grassroots open311 key NAME" in err


def test_a_revoked_key_stops_working(db: Any) -> None:
    key = run("key", "fixmystreet")[0].strip()
    out, _err = run("revoke", "fixmystreet")
    assert out.strip() == f"revoked the key of fixmystreet ({key[:8]}…)"
    assert authenticate(key) is None
    assert Event.objects.filter(object_type="cases.open311key", action="update").count() == 1


def test_it_refuses_what_makes_no_sense(db: Any) -> None:
    run("key", "fixmystreet")
    with pytest.raises(CommandError, match="fixmystreet already has a live key .*revoke it first"):
        run("key", "fixmystreet")
    with pytest.raises(CommandError, match="no Open311 client named nobody"):
        run("revoke", "nobody")
    run("revoke", "fixmystreet")
    with pytest.raises(CommandError, match="the key of fixmystreet is already revoked"):
        run("revoke", "fixmystreet")
    with pytest.raises(CommandError, match="the client name must be 1 to 100 characters"):
        run("key", " ")


def test_a_revoked_client_can_be_issued_a_new_key(db: Any) -> None:
    old = run("key", "fixmystreet")[0].strip()
    run("revoke", "fixmystreet")
    new = run("key", "fixmystreet")[0].strip()
    assert new != old
    assert authenticate(old) is None
    assert authenticate(new) is not None
    assert Open311Key.objects.count() == 1


def test_using_a_key_records_when(db: Any) -> None:
    key = run("key", "fixmystreet")[0].strip()
    authenticate(key)
    out, _err = run("list")
    assert "last used " in out.split("\t")[4]
