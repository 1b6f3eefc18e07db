"""grassroots audit coverage: the "格不漏户、户不漏人" audit."""

from __future__ import annotations

import io
import json

from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.accounts.models import GridAssignment
from tests import factories as f

KEYS = {
    "households_total",
    "residents_total",
    "households_without_grid",
    "households_outside_grid",
    "residents_without_household",
    "empty_households",
    "duplicate_id_numbers",
    "grids_without_worker",
    "samples",
}


def audit(*args):
    out = io.StringIO()
    call_command("audit", "coverage", *args, stdout=out)
    return out.getvalue()


def test_it_prints_one_json_object_with_the_agreed_keys(world):
    data = json.loads(audit("--json"))
    assert set(data) == KEYS
    assert data["households_total"] == 5 and data["residents_total"] == 5
    assert all(isinstance(data[k], int) for k in KEYS - {"samples"})
    assert data["grids_without_worker"] == 1 and data["samples"]["grids_without_worker"] == [
        "350426101201001"
    ]
    assert (
        sum(
            data[k]
            for k in KEYS
            - {"samples", "households_total", "residents_total", "grids_without_worker"}
        )
        == 0
    )


def test_it_finds_every_kind_of_problem(world):
    county = world.county
    f.household("NOGRID", None, unit_=world.village_a1)
    f.household("OUTSIDE", world.grid_a11, lon=118.5, lat=26.5)
    floating = f.resident("流动人员", None, unit_=county)
    twin = f.resident(
        "双胞", world.households["HA11-1"], number=world.residents["钱多多"].id_number
    )
    gone = f.resident("已迁出", world.households["HA12-1"], moved_out_on="2020-01-01")
    data = json.loads(audit("--json"))
    assert data["households_without_grid"] == 1 and data["samples"]["households_without_grid"] == [
        "NOGRID"
    ]
    assert data["households_outside_grid"] == 1 and data["samples"]["households_outside_grid"] == [
        "OUTSIDE"
    ]
    assert data["residents_without_household"] == 1
    assert data["samples"]["residents_without_household"] == [floating.id_number_masked]
    assert data["empty_households"] == 2 and data["samples"]["empty_households"] == [
        "NOGRID",
        "OUTSIDE",
    ]
    assert data["duplicate_id_numbers"] == 1 and data["samples"]["duplicate_id_numbers"] == [
        twin.id_number_masked
    ]
    assert data["residents_total"] == 7  # the moved-out resident is not current
    assert gone.id_number not in json.dumps(data)
    # Sample ID numbers are masked.
    assert floating.id_number not in json.dumps(data)


def test_it_limits_the_audit_to_a_scope(world):
    data = json.loads(audit("--json", "--scope", world.village_a1.code))
    assert data["households_total"] == 3 and data["grids_without_worker"] == 0
    data = json.loads(audit("--json", "--scope", world.grid_b11.code))
    assert data["households_total"] == 1 and data["grids_without_worker"] == 1


def test_it_counts_grids_whose_only_worker_is_inactive(world):
    world.users["worker"].is_active = False
    world.users["worker"].save()
    data = json.loads(audit("--json"))
    assert data["samples"]["grids_without_worker"] == ["350426100001001", "350426101201001"]
    GridAssignment.objects.filter(user=world.users["worker2"]).delete()
    assert json.loads(audit("--json"))["grids_without_worker"] == 4


def test_it_prints_a_readable_report(world):
    text = audit("--scope", world.town_b.code)
    assert "Coverage audit (格不漏户、户不漏人) for 梅仙镇 (350426101)" in text
    assert "!! grids without a grid worker" in text and "350426101201001" in text
    assert text.strip().endswith("1 problem(s) found.")


def test_it_refuses_an_unknown_scope(world):
    try:
        audit("--scope", "999")
    except CommandError as exc:
        assert str(exc) == "--scope: no unit or grid with code 999"
    else:
        raise AssertionError("expected a CommandError")


def test_the_duplicate_query_names_an_index_that_exists(world):
    """The raw query of duplicate ID numbers names its index on SQLite: renaming the index
    without the query must fail here, not make the audit slow (or fail) in production."""
    from django.db import connection

    from grassroots.core.scoping import Scope
    from grassroots.registry import coverage
    from grassroots.registry.models import Resident

    names = {index.name for index in Resident._meta.indexes}
    assert coverage.CURRENT_ID_INDEX in names
    index = next(i for i in Resident._meta.indexes if i.name == coverage.CURRENT_ID_INDEX)
    assert list(index.fields) == ["id_hash", "scope_code"]
    sql, params = coverage._duplicated_hashes(Scope.of("350426100"))
    if connection.vendor == "sqlite":
        assert f'INDEXED BY "{coverage.CURRENT_ID_INDEX}"' in sql
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert coverage.CURRENT_ID_INDEX in plan
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == []
    assert coverage._duplicated_hashes(Scope.nothing()) is None


def test_the_duplicate_query_keeps_to_its_scope(world):
    from grassroots.core.scoping import Scope
    from grassroots.registry.coverage import coverage_report
    from tests import factories as f

    twin = world.residents["赵光菊"]
    f.resident("赵光菊", world.households["HB11-1"], number=twin.id_number, relation="other")
    assert coverage_report(Scope.everything()).counts["duplicate_id_numbers"] == 1
    assert coverage_report(Scope.of("350426100")).counts["duplicate_id_numbers"] == 0
    assert (
        coverage_report(Scope.of("350426100001001", "350426101")).counts["duplicate_id_numbers"]
        == 1
    )
