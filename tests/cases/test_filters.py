"""The case list's filters, defined once (cases/filters.py): the API's GET /cases and the
console's queue take the same parameters, accept and refuse the same values, with the same
messages, and find the same cases."""

from __future__ import annotations

from typing import Any

import pytest

from grassroots.accounts.models import ApiToken
from grassroots.cases.filters import CaseFilter


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"scope": "12ab"}, "scope", "A code has 6/9/12/15 digits"),
        ({"grid": "350426"}, "grid", "A code has 15 digits"),
        ({"queue": "35"}, "queue", "A code has 6/9/12 digits"),
        ({"stage": "lost"}, "stage", "lost is not one of the choices"),
        ({"channel": "fax"}, "channel", "fax is not one of the choices"),
        ({"open": "maybe"}, "open", "Enter true or false"),
        ({"since": "20260101"}, "since", "Enter a date as YYYY-MM-DD"),
        ({"until": "2026-02-30"}, "until", "Enter a date as YYYY-MM-DD"),
        (
            {"since": "2026-03-05", "until": "2026-03-01"},
            "until",
            "This date comes before the start date",
        ),
    ],
)
def test_it_refuses_a_value_naming_its_field(
    world: Any, client: Any, query: dict[str, str], field: str, message: str
) -> None:
    filters, errors = CaseFilter.parse_leniently({**query, "category": "environment"})
    assert errors == {field: [message]}
    assert filters.category == "environment"  # the others still apply
    token = ApiToken.issue(world.users["dispatcher"])[1]
    response = client.get(
        "/api/v1/cases",
        query,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": field, "reason": message}]


def test_an_empty_value_is_no_filter(world: Any) -> None:
    empty = {name: "" for name in CaseFilter.model_fields}
    filters, errors = CaseFilter.parse_leniently(empty)
    assert errors == {}
    assert filters == CaseFilter()


def test_the_strict_parse_of_a_command_names_the_parameter(world: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        CaseFilter.parse({"tier": "province", "category": "environment"})
    assert refused.value.message_dict == {"tier": ["province is not one of the choices"]}


def test_the_queues_form_has_the_filters_fields(world: Any) -> None:
    from grassroots.web.console.cases_forms import CaseFilterForm

    form = CaseFilterForm()
    assert set(form.fields) <= set(CaseFilter.model_fields)
    # All but the grid (the area field takes grid codes too) are on the page.
    assert set(CaseFilter.model_fields) - set(form.fields) == {"grid"}
