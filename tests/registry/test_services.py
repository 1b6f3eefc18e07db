"""The registry's services: each validates, saves, re-checks the scope and records its audit
events in one transaction; a household that moves takes its members along, recorded."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.registry import services
from grassroots.registry.models import Enterprise, Household, Resident, Tag
from tests import factories as f
from tests.privacy.test_sensitive_tags import CARE, SENSITIVE

TEA = "91350426MA2Y001009"
FUNGI = "91350426MA2Y00200Y"
FRUIT = "91350426MA2Y00300L"


def events(**filters: Any) -> list[Event]:
    return list(Event.objects.filter(**filters).order_by("id"))


def test_it_moves_a_households_members_along_and_records_each(world):
    household = world.households["HA12-1"]
    member = world.residents["孙悟空"]
    child = f.resident("孙小圣", household, relation="child")
    moved_out = f.resident("孙大圣", household, relation="child")
    services.household_update(
        actor=world.users["worker2"], household=household, data={"grid": world.grid_a21}
    )
    household.refresh_from_db()
    assert (household.unit_id, household.scope_code) == (world.village_a2.pk, world.grid_a21.code)
    for resident in (member, child, moved_out):
        resident.refresh_from_db()
        assert (resident.unit_id, resident.scope_code) == (world.village_a2.pk, world.grid_a21.code)
    (moved,) = events(object_type="registry.household", action="update")
    assert moved.changes == {
        "grid": [world.grid_a12.pk, world.grid_a21.pk],
        "unit": [world.village_a1.pk, world.village_a2.pk],
    }
    followed = events(object_type="registry.resident", action="update")
    assert sorted(int(e.object_id) for e in followed) == sorted(
        r.pk for r in (member, child, moved_out)
    )
    for event in followed:
        assert event.changes == {
            "scope_code": [world.grid_a12.code, world.grid_a21.code],
            "unit": [world.village_a1.pk, world.village_a2.pk],
        }
        assert event.scope_code == world.grid_a21.code
        assert "孙" in event.object_repr and "悟空" not in event.object_repr  # masked


def test_it_moves_members_without_an_event_when_nothing_moved(world):
    household = world.households["HA11-1"]
    services.household_update(actor=None, household=household, data={"address": "新路1号"})
    assert not Event.objects.filter(object_type="registry.resident").exists()
    (event,) = events(object_type="registry.household")
    assert event.changes == {"address": ["地址HA11-1", "新路1号"]}


def test_it_moves_the_members_of_many_households_in_a_fixed_number_of_queries(world):
    households = [world.households[c] for c in ("HA11-1", "HA11-2", "HA12-1")]
    for h in households:
        f.resident(f"{h.code}甲", h)
    # Households moved set-wise, as an import does; their members are still behind.
    Household.objects.filter(pk__in=[h.pk for h in households[:2]]).update(
        grid=world.grid_a21, unit=world.village_a2, scope_code=world.grid_a21.code
    )
    Household.objects.filter(pk=households[2].pk).update(
        grid=world.grid_a11, scope_code=world.grid_a11.code
    )
    with CaptureQueriesContext(connection) as queries:
        moved = services.household_members_follow(households=[h.pk for h in households])
    assert moved == 6
    # One read, one UPDATE, one INSERT of events, the sensitive tag names (and savepoints).
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 4
    assert dict(
        Resident.objects.filter(household__in=households).values_list("name", "scope_code")
    ) == {
        "赵光菊": world.grid_a21.code,
        "HA11-1甲": world.grid_a21.code,
        "钱多多": world.grid_a21.code,
        "HA11-2甲": world.grid_a21.code,
        "孙悟空": world.grid_a11.code,
        "HA12-1甲": world.grid_a11.code,
    }
    assert Event.objects.filter(object_type="registry.resident", action="update").count() == 6


@pytest.mark.parametrize(
    ("call", "fails"),
    [
        (
            lambda w: services.household_create(
                actor=None, data={"code": "HN-1", "address": "新路", "grid": w.grid_a11}
            ),
            "created",
        ),
        (
            lambda w: services.household_update(
                actor=None, household=w.households["HA12-1"], data={"grid": w.grid_a21}
            ),
            "record_many",  # the members' events
        ),
        (
            lambda w: services.resident_update(
                actor=None, resident=w.residents["赵光菊"], data={"name": "赵光华"}
            ),
            "updated",
        ),
        (
            lambda w: services.enterprise_create(
                actor=None,
                data={"name": "茶厂", "credit_code": TEA, "address": "茶路", "grid": w.grid_a11},
            ),
            "created",
        ),
        (lambda w: services.tag_create(actor=None, data={"name": "新标签"}), "created"),
        (
            lambda w: services.households_delete(actor=None, households=[w.households["HA11-2"]]),
            "record_many",
        ),
    ],
)
def test_it_writes_nothing_when_its_audit_event_cannot_be_written(world, monkeypatch, call, fails):
    Resident.objects.filter(household__code="HA11-2").delete()
    before = {
        m: list(m.objects.order_by("pk").values()) for m in (Household, Resident, Enterprise, Tag)
    }
    events_before = Event.objects.count()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(audit, fails, broken)
    with pytest.raises(RuntimeError, match="unavailable"):
        call(world)
    for model, rows in before.items():
        assert list(model.objects.order_by("pk").values()) == rows, model
    assert Event.objects.count() == events_before


def test_it_rolls_back_a_write_that_leaves_the_actors_scope(world):
    secretary = world.users["secretary"]
    with pytest.raises(PermissionDenied, match="The record would lie outside your scope."):
        services.household_create(
            actor=secretary, data={"code": "HX-1", "address": "外面", "grid": world.grid_b11}
        )
    with pytest.raises(PermissionDenied, match="The record would lie outside your scope."):
        services.household_update(
            actor=secretary, household=world.households["HA11-1"], data={"grid": world.grid_b11}
        )
    assert not Household.objects.filter(code="HX-1").exists()
    assert Household.objects.get(code="HA11-1").grid_id == world.grid_a11.pk
    assert Resident.objects.get(name="赵光菊").scope_code == world.grid_a11.code
    assert not Event.objects.exists()


def test_it_does_not_write_rows_outside_the_actors_scope(world):
    with pytest.raises(Household.DoesNotExist):
        services.household_update(
            actor=world.users["worker"], household=world.households["HB11-1"], data={"room": "1"}
        )
    Resident.objects.filter(household__code="HB11-1").delete()
    assert (
        services.households_delete(
            actor=world.users["worker"], households=[world.households["HB11-1"]]
        )
        == 0
    )
    assert Household.objects.filter(code="HB11-1").exists()


def test_it_validates_before_it_saves(world):
    with pytest.raises(ValidationError) as refused:
        services.resident_create(
            actor=None,
            data={"name": "王五", "id_number": "350426199001011234", "unit": world.village_a1},
        )
    assert "id_number" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.household_create(
            actor=None, data={"code": "HA11-1", "address": "重复", "grid": world.grid_a11}
        )
    assert refused.value.message_dict["code"] == [
        "Household with this Household code already exists."
    ]
    assert not Event.objects.exists()


def test_a_member_takes_the_place_of_the_household(world):
    resident = services.resident_create(
        actor=world.users["worker"],
        data={
            "name": "王小明",
            "id_number": f.id_number("19900215", seq=42),
            "household": world.households["HA11-1"],
            "relation": "child",
        },
    )
    assert (resident.unit_id, resident.scope_code) == (world.village_a1.pk, world.grid_a11.code)
    (created,) = events(object_type="registry.resident", action="create")
    assert created.changes["name"] == [None, "王**"]


def test_it_records_a_deleted_households_sensitive_tags_apart(world):
    household = f.household("HS-1", world.grid_a11, tags=f"|{CARE}|{SENSITIVE}|")
    services.household_delete(actor=None, household=household)
    assert not Household.objects.filter(code="HS-1").exists()
    public = Event.objects.get(action="delete", object_id=str(household.pk), sensitive=False)
    secret = Event.objects.get(action="delete", object_id=str(household.pk), sensitive=True)
    assert public.changes["tags"] == [f"|{CARE}|", None]
    assert secret.changes == {"tags": [f"|{CARE}|{SENSITIVE}|", None]}


def test_a_sensitive_tags_own_events_stay_sensitive_through_the_services(world):
    tag = services.tag_create(actor=None, data={"name": "特殊测试", "kind": "sensitive"})
    services.tag_update(actor=None, tag=tag, data={"description": "说明"})
    services.tag_delete(actor=None, tag=tag)
    recorded = events(object_type="registry.tag")
    assert [e.action for e in recorded] == ["create", "update", "delete"]
    assert all(e.sensitive for e in recorded)


def test_it_creates_enterprises_in_bulk_with_an_event_each(world):
    rows = [
        {
            "name": "水东茶厂",
            "credit_code": TEA,
            "address": "茶路1号",
            "grid_code": world.grid_a11.code,
        },
        {
            "name": "半山菌菇",
            "credit_code": FUNGI,
            "address": "菌路2号",
            "contact_phone": "13912345678",
            "grid_code": world.grid_b11.code,
        },
    ]
    assert services.enterprises_create(actor=None, rows=rows) == 2
    tea = Enterprise.objects.get(credit_code=TEA)
    assert (tea.unit_id, tea.scope_code) == (world.village_a1.pk, world.grid_a11.code)
    created = {e.object_id: e for e in events(object_type="registry.enterprise", action="create")}
    assert set(created) == {str(e.pk) for e in Enterprise.objects.all()}
    fungi = Enterprise.objects.get(credit_code=FUNGI)
    assert created[str(fungi.pk)].changes["contact_phone"] == [None, "139****5678"]
    assert created[str(fungi.pk)].scope_code == world.grid_b11.code


def test_it_refuses_a_bulk_of_enterprises_whole_saying_which_rows_are_wrong(world):
    f.enterprise("老茶厂", world.grid_a11, TEA)
    rows = [
        {"name": "新茶厂", "credit_code": TEA, "address": "茶路", "grid_code": world.grid_a11.code},
        {
            "name": "错码厂",
            "credit_code": "91350426MA2Y00300X",
            "address": "路",
            "grid_code": world.grid_a11.code,
        },
        {"name": "无格厂", "credit_code": FRUIT, "address": "路", "grid_code": "350426100001999"},
        {"name": "外面厂", "credit_code": FRUIT, "address": "路", "grid_code": world.grid_b11.code},
    ]
    with pytest.raises(ValidationError) as refused:
        services.enterprises_create(actor=world.users["official"], rows=rows)
    assert refused.value.messages == [
        "错码厂: Credit code check character is wrong",
        "无格厂: grid 350426100001999 does not exist",
        "外面厂: The record would lie outside your scope.",
        f"{TEA}: Enterprise with this Unified social credit code already exists.",
    ]
    rows = rows[2:] + [{**rows[3], "name": "又一厂"}]
    with pytest.raises(ValidationError) as refused:
        services.enterprises_create(actor=None, rows=rows[1:])
    assert refused.value.messages == [
        f"又一厂 {FRUIT}: Enterprise with this Unified social credit code already exists."
    ]
    assert Enterprise.objects.count() == 1
    assert not Event.objects.filter(object_type="registry.enterprise").exists()


def test_it_clears_the_registry_with_one_event_per_kind(world):
    counts = services.registry_clear(reason="demo --force")
    assert counts == {"residents": 5, "enterprises": 0, "households": 5}
    assert not Household.objects.exists() and not Resident.objects.exists()
    cleared = events(action="delete")
    assert [(e.object_type, e.changes, e.reason) for e in cleared] == [
        ("registry.resident", {"count": 5}, "demo --force"),
        ("registry.household", {"count": 5}, "demo --force"),
    ]
