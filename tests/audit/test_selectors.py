"""Who sees which events, and how filters given as text are read."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from grassroots.audit.filters import ObjectFilter, parse_object, parse_when
from grassroots.audit.selectors import change_summary, events_for, sees_global_events
from tests import factories as f

from .conftest import SHANGHAI


def test_it_shows_a_command_without_a_user_everything(events):
    assert set(events_for(None)) == set(events.values())


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("auditor", {"a11", "a21", "b11", "keys"}),
        ("admin", {"a11", "a21", "b11", "keys"}),
        ("official", {"a11", "a21"}),
        ("outsider", {"b11"}),
        ("secretary", {"a11"}),
        ("worker", {"a11"}),
        ("worker2", {"a21"}),
    ],
)
def test_it_shows_each_persona_the_events_of_their_scope(world, events, persona, visible):
    # Scope alone: the permission is checked by the page, the API and the command.
    shown = set(events_for(world.users[persona]))
    assert shown == {events[key] for key in visible}


def test_it_shows_events_without_a_territory_to_county_scopes_and_superusers(world, events):
    assert sees_global_events(f.user("root", "county_admin", is_superuser=True))
    assert sees_global_events(world.users["auditor"])
    assert not sees_global_events(world.users["official"])
    assert not sees_global_events(world.users["worker"])
    assert not sees_global_events(f.user("nobody", "auditor"))
    inactive = f.user("gone", "auditor", "350426", is_active=False)
    assert not sees_global_events(inactive) and not events_for(inactive).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resident:42", ObjectFilter("registry.resident", "42")),
        (" Household : 7 ", ObjectFilter("registry.household", "7")),
        ("user:3", ObjectFilter("accounts.user", "3")),
        ("grid", ObjectFilter("territory.grid")),
        ("unit:350426", ObjectFilter("territory.unit", "350426")),
        ("enterprise:5", ObjectFilter("registry.enterprise", "5")),
        ("accounts.apitoken:9", ObjectFilter("accounts.apitoken", "9")),
    ],
)
def test_it_reads_object_filters(text, expected):
    assert parse_object(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime.date(2024, 5, 1)),
        ("2024-05-01T08:30", datetime.datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI)),
        ("2024-05-01 08:30:15", datetime.datetime(2024, 5, 1, 8, 30, 15, tzinfo=SHANGHAI)),
        ("2024-05-01T00:30Z", datetime.datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI)),
        ("2024-05-01T08:30+08:00", datetime.datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI)),
    ],
)
def test_it_reads_dates_and_times_in_the_configured_time_zone(text, expected):
    parsed = parse_when(text)
    assert parsed == expected and type(parsed) is type(expected)


@given(st.text(max_size=60))
def test_it_refuses_any_text_with_a_validation_error_or_reads_it(text):
    for parse in (parse_when, parse_object):
        try:
            parse(text)
        except ValidationError as exc:
            assert exc.messages


def test_it_names_every_bad_filter_at_once(db):
    with pytest.raises(ValidationError) as exc:
        events_for(None, object="x", since="y", action="z", channel="w", actor="a" * 151)
    assert set(exc.value.message_dict) == {"object", "since", "action", "channel", "actor"}


def test_it_summarises_changes_as_before_and_after():
    changes = {"address": ["旧", "新"], "tags": [None, ["低保", "独居老人"]], "rows": 3}
    assert change_summary(changes) == ["address: 旧 → 新", "tags: — → 低保, 独居老人", "rows: 3"]
