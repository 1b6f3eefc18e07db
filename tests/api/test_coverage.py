"""The coverage audit through the API: the same report as the command and the web page."""

from __future__ import annotations

from grassroots.core.scoping import Scope
from grassroots.registry.coverage import coverage_report
from tests import factories as f

from .conftest import body


def _gaps(world):
    """One problem of each kind inside village A1."""
    f.household("HA1-NOGRID", unit_=world.village_a1)  # no grid, and empty
    f.household("HA11-FAR", world.grid_a11, lon=120.0, lat=30.0)  # outside its polygon
    f.resident("游民", unit_=world.village_a1)  # no household
    f.resident("重号", world.households["HA11-2"], number=world.residents["赵光菊"].id_number)


def test_it_answers_exactly_the_coverage_report(world, as_):
    _gaps(world)
    data = body(as_("secretary").get("/audit/coverage"))
    assert data == coverage_report(Scope.of("350426100001")).as_dict()
    assert data["households_without_grid"] == 1
    assert data["households_outside_grid"] == 1
    assert data["residents_without_household"] == 1
    assert data["duplicate_id_numbers"] == 1
    assert data["empty_households"] == 2
    # grid A1-2 has worker2; every grid of the fixture has a worker.
    assert data["grids_without_worker"] == 0


def test_it_audits_the_users_own_scope_by_default(world, as_):
    assert (
        body(as_("worker2").get("/audit/coverage"))
        == coverage_report(Scope.of("350426100001002", "350426100002001")).as_dict()
    )
    assert body(as_("admin").get("/audit/coverage"))["households_total"] == 5


def test_it_audits_a_node_inside_the_scope(world, as_):
    _gaps(world)
    for persona, scope in [
        ("admin", "350426101"),
        ("official", "350426100001"),
        ("worker", "350426100001001"),
    ]:
        response = as_(persona).get("/audit/coverage", scope=scope)
        assert response.status_code == 200, (persona, scope)
        assert body(response) == coverage_report(Scope.of(scope)).as_dict()


def test_it_refuses_a_node_a_grid_worker_only_partly_covers(world, as_):
    # worker2 has one of village A2's grids... and all of it; but village A1 has two grids.
    assert as_("worker2").get("/audit/coverage", scope="350426100001").status_code == 404


def test_it_refuses_a_malformed_scope(world, as_):
    response = as_("admin").get("/audit/coverage", scope="35-04")
    assert response.status_code == 422
    assert body(response)["errors"] == [
        {
            "field": "scope",
            "reason": "a scope is a unit code (6, 9 or 12 digits) or a grid code (15 digits)",
        }
    ]
