"""grassroots audit log: filters, JSON Lines, --as-user, and a clear error for each bad option."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .conftest import at, make_event


def log(*args):
    out = io.StringIO()
    call_command("audit", "log", *args, stdout=out)
    return out.getvalue()


def log_json(*args):
    return [json.loads(line) for line in log("--json", *args).splitlines()]


def ids(*args):
    return [row["id"] for row in log_json(*args)]


def test_it_prints_every_event_newest_first_with_changes(events):
    out = log()
    lines = out.splitlines()
    order = [events[k].pk for k in ("keys", "b11", "a21", "a11")]
    headlines = [line for line in lines if line.startswith("#")]
    assert [int(line.split()[0][1:]) for line in headlines] == order
    a11 = events["a11"]
    headline = next(line for line in headlines if line.startswith(f"#{a11.pk} "))
    assert "web" in headline and "worker" in headline and "update" in headline
    assert f"registry.household:{a11.object_id}" in headline and "req-a11" in headline
    assert "10.0.0.1" in headline and "+08:00" in headline
    assert "    address: 地址HA11-1 → 水东路1号" in lines
    assert "    keys: 2" in lines
    assert lines[-1] == "4 event(s), newest first."


def test_it_prints_json_lines_with_every_field(events):
    rows = log_json()
    assert [row["id"] for row in rows] == [events[k].pk for k in ("keys", "b11", "a21", "a11")]
    a11 = rows[-1]
    assert set(a11) == {
        "id",
        "at",
        "actor",
        "actor_id",
        "channel",
        "request_id",
        "address",
        "action",
        "object_type",
        "object_id",
        "object",
        "scope_code",
        "changes",
        "reason",
    }
    assert a11["at"].endswith("+08:00")
    assert a11["actor"] == "worker" and a11["channel"] == "web" and a11["request_id"] == "req-a11"
    assert a11["changes"] == {"address": ["地址HA11-1", "水东路1号"]}
    assert a11["object_type"] == "registry.household" and a11["scope_code"].startswith("350426100")


def test_it_filters_by_object_actor_action_and_channel(world, events):
    household = world.households["HA11-1"]
    assert ids("--object", f"household:{household.pk}") == [events["a11"].pk]
    assert ids("--object", f"registry.household:{household.pk}") == [events["a11"].pk]
    assert ids("--object", "HOUSEHOLD") == [events["b11"].pk, events["a11"].pk]
    assert ids("--object", f"resident:{world.residents['李白'].pk}") == [events["a21"].pk]
    assert ids("--actor", "official") == [events["a21"].pk]
    assert ids("--actor", "os:root") == [events["keys"].pk]
    assert ids("--actor", "nobody") == []
    assert ids("--action", "create") == [events["a21"].pk]
    assert ids("--channel", "web") == [events["b11"].pk, events["a11"].pk]
    assert ids("--channel", "web", "--actor", "worker") == [events["a11"].pk]


def test_it_filters_by_time_in_the_configured_time_zone(db):
    early = make_event(at=at("2024-04-30 23:59"))
    morning = make_event(at=at("2024-05-01 00:00"))
    evening = make_event(at=at("2024-05-01 23:59:59"))
    later = make_event(at=at("2024-05-02 08:00"))
    assert ids("--since", "2024-05-01") == [later.pk, evening.pk, morning.pk]
    assert ids("--until", "2024-05-01") == [evening.pk, morning.pk, early.pk]
    assert ids("--since", "2024-05-01", "--until", "2024-05-01") == [evening.pk, morning.pk]
    # A date-time without offset is China time; with one it is taken as given.
    assert ids("--since", "2024-05-01T12:00") == [later.pk, evening.pk]
    assert ids("--since", "2024-05-01T16:00Z") == [later.pk]  # 2024-05-02 00:00 in China
    assert ids("--until", "2024-05-01 00:00:00") == [morning.pk, early.pk]


def test_it_limits_the_number_of_events(events):
    assert ids("--limit", "2") == [events["keys"].pk, events["b11"].pk]
    assert (
        log("--limit", "1").splitlines()[-1] == "1 of 4 events, newest first; --limit N shows more."
    )


def test_it_shows_a_hundred_events_by_default(db):
    for _ in range(101):
        make_event()
    assert len(log_json()) == 100


def test_it_reads_as_a_user_in_their_scope(events, town_auditor):
    assert set(ids("--as-user", "auditor_a")) == {events["a11"].pk, events["a21"].pk}
    assert set(ids("--as-user", "auditor")) == {e.pk for e in events.values()}


def test_it_says_when_there_are_no_events(db):
    assert log() == "No events.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: expected an ISO 8601 date or date-time"),
        (["--until", "2024-13-01"], "--until: expected an ISO 8601 date or date-time"),
        (["--since", "2024-05-02", "--until", "2024-05-01"], "--until: until lies before since"),
        (["--object", "42"], "--object: expected TYPE:ID such as resident:42"),
        (["--object", "person:42"], "--object: expected TYPE:ID"),
        (["--object", "resident:"], "--object: the ID after registry.resident: is missing"),
        (["--object", "resident:4 2"], "--object: the ID after registry.resident: is missing"),
        (["--action", "erase"], "argument --action: invalid choice: 'erase'"),
        (["--channel", "fax"], "argument --channel: invalid choice: 'fax'"),
        (["--limit", "0"], "--limit: give a number of events of at least 1"),
        (["--limit", "many"], "argument --limit: invalid int value: 'many'"),
        (["--as-user", "ghost"], "--as-user: no user named ghost"),
        (
            ["--as-user", "official"],
            "--as-user: official may not read the audit trail (audit.view_event)",
        ),
    ],
)
def test_it_refuses_bad_options_naming_them(world, args, message):
    with pytest.raises(CommandError) as exc:
        log(*args)
    assert message in str(exc.value)


def test_it_keeps_the_coverage_audit_working(world):
    out = io.StringIO()
    call_command("audit", "coverage", "--json", stdout=out)
    assert json.loads(out.getvalue())["households_total"] == 5
