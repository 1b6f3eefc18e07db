"""Mediation and assistance take the checks of every workflow step, and naming a person by id
needs the right to see them (issue 11, items 5 and 6)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.cases import kinds
from grassroots.cases.models import AssistanceGiven, Case, CaseEvent, MediationParty
from grassroots.cases.services import (
    TransitionRefused,
    case_accept,
    case_close,
    case_dispatch,
    case_handle,
    case_start,
    case_verify,
)
from tests import factories as f

API = "/api/v1"


def _session(case, actor):
    return kinds.mediation_add_session(
        case, actor=actor, held_at=timezone.now(), place="调解室", notes="双方陈述"
    )


def _refusal(call, *args, **kw):
    with pytest.raises(TransitionRefused) as exc:
        call(*args, **kw)
    return exc.value


@pytest.fixture
def dispute(world, report):
    case = report(category="dispute", description="邻里因排水沟堵塞发生纠纷")
    return case_accept(case, actor=world.users["worker"])


@pytest.fixture
def county_dispute(dispute):
    """The dispute, at county tier (its category's department is 县司法局)."""
    Case.objects.filter(pk=dispute.pk).update(tier="county")
    dispute.refresh_from_db()
    return dispute


@pytest.fixture
def handlers(world):
    return {
        "none": f.user("nodept", "department_handler", "350426"),
        "wrong": f.user("cityman", "department_handler", "350426", department="县城市管理局"),
        "right": f.user("lawman", "department_handler", "350426", department="县司法局"),
    }


@pytest.mark.parametrize("who", ["none", "wrong"])
def test_a_department_handler_outside_the_cases_department_is_refused(
    world, county_dispute, handlers, who
):
    actor = handlers[who]
    for call, kw in (
        (kinds.mediation_add_party, {"name": "甲"}),
        (_session, {}),
        (kinds.mediation_conclude, {"outcome": "failed"}),
    ):
        if call is _session:
            error = _refusal(_session, county_dispute, actor)
        else:
            error = _refusal(call, county_dispute, actor=actor, **kw)
        assert error.status == 403
        assert error.message == "This case is at the County department tier, where you do not act"
    assert not CaseEvent.objects.filter(action="mediation").exists()


def test_the_right_department_works_at_county_tier(world, county_dispute, handlers):
    assert kinds.mediation_add_party(county_dispute, actor=handlers["right"], name="甲").pk
    # ...and the grid worker no longer does: the case left their tier.
    error = _refusal(
        kinds.mediation_add_party, county_dispute, actor=world.users["worker"], name="乙"
    )
    assert error.status == 403 and "County department tier" in error.message


def test_nothing_is_recorded_on_a_case_that_is_not_being_worked_on(world, report):
    worker = world.users["worker"]
    case = report(category="dispute", description="两户因宅基地界线争执")
    error = _refusal(kinds.mediation_add_party, case, actor=worker, name="甲")
    assert error.status == 409
    assert error.message == (
        f"Case {case.tracking_code} is reported: this is recorded while the case is being"
        " worked on (accepted, dispatched or in progress)"
    )
    case_accept(case, actor=worker)
    case_start(case, actor=worker)
    _session(case, worker)
    kinds.mediation_conclude(case, actor=worker, outcome="success", agreement="互相谅解")
    case_handle(case, actor=worker, note="调解成功")
    case_verify(case, actor=world.users["secretary"])
    case_close(case, actor=world.users["secretary"])
    error = _refusal(_session, case, worker)
    assert error.status == 409
    assert error.message.startswith(f"Case {case.tracking_code} is closed: this is recorded")
    assert MediationParty.objects.count() == 0


def test_a_case_assigned_to_someone_else_is_theirs(world, dispute):
    colleague = f.user("colleague", "grid_worker", "350426100001001")
    case_dispatch(dispute, actor=world.users["secretary"], assignee=world.users["worker"])
    error = _refusal(kinds.mediation_add_party, dispute, actor=colleague, name="甲")
    assert error.message == "This case is assigned to worker"
    # Whoever dispatches may step in.
    assert kinds.mediation_add_party(dispute, actor=world.users["secretary"], name="甲").pk


@pytest.fixture
def hardship(world, report):
    case = report(
        category="assistance",
        description="独居老人生活困难，需要帮扶",
        reporter_household=world.households["HA11-1"],
    )
    return case_accept(case, actor=world.users["secretary"])


def test_a_grid_worker_records_no_assistance_on_a_village_tier_case(world, hardship):
    kinds.assistance_plan(hardship, actor=world.users["secretary"], plan="每月送米面油")
    error = _refusal(
        kinds.assistance_give,
        hardship,
        actor=world.users["worker"],
        what="现金",
        amount="99999999.99",
    )
    assert error.status == 403
    assert error.message == "This case is at the Village/community tier, where you do not act"
    assert not AssistanceGiven.objects.exists()


def test_amounts_are_bounded_by_the_setting(world, hardship, settings):
    secretary = world.users["secretary"]
    kinds.assistance_plan(hardship, actor=secretary, plan="临时救助")
    with pytest.raises(kinds.CaseInputError) as exc:
        kinds.assistance_give(hardship, actor=secretary, what="现金", amount="99999999.99")
    assert exc.value.message_dict == {
        "amount": ["The amount lies between 0 and 50,000 yuan (ASSISTANCE_MAX_YUAN)"]
    }
    assert kinds.assistance_give(hardship, actor=secretary, what="现金", amount="50000").pk
    settings.ASSISTANCE_MAX_YUAN = 2000
    with pytest.raises(kinds.CaseInputError) as exc:
        kinds.assistance_give(hardship, actor=secretary, what="现金", amount="2000.01")
    assert "between 0 and 2,000 yuan" in exc.value.message_dict["amount"][0]
    assert AssistanceGiven.objects.count() == 1


def test_assistance_is_given_on_a_closed_case_only_at_its_follow_up(world, hardship):
    secretary, official = world.users["secretary"], world.users["official"]
    follow = timezone.localdate() + datetime.timedelta(days=10)
    kinds.assistance_plan(hardship, actor=secretary, plan="每月走访", follow_up_on=follow)
    case_start(hardship, actor=secretary)
    case_handle(hardship, actor=secretary, note="已送米面油")
    case_verify(hardship, actor=official)
    case_close(hardship, actor=official)
    error = _refusal(kinds.assistance_give, hardship, actor=secretary, what="米")
    assert error.message == (
        f"Case {hardship.tracking_code} is closed: what is given is recorded on it only at the"
        " plan's follow-up date"
    )
    later = timezone.now() + datetime.timedelta(days=10)
    given = kinds.assistance_give(hardship, actor=secretary, what="米", now=later)
    assert given.given_on == follow
    # A plan is not changed on a closed case.
    error = _refusal(kinds.assistance_plan, hardship, actor=secretary, plan="改")
    assert error.status == 409


@pytest.fixture
def call(client, world, handlers):
    users = {**world.users, **{f"dept-{k}": v for k, v in handlers.items()}}
    tokens = {name: ApiToken.issue(user)[1] for name, user in users.items()}

    def make(persona, path, payload):
        return client.post(
            API + path,
            json.dumps(payload),
            content_type="application/json",
            headers={"Authorization": f"Bearer {tokens[persona]}", "Accept-Language": "en"},
        )

    return make


def test_naming_a_resident_needs_the_right_to_see_them(world, county_dispute, call):
    resident = world.residents["周杰伦"]  # town B: in the county handler's territory
    path = f"/cases/{county_dispute.tracking_code}/mediation/parties"
    response = call("dept-right", path, {"resident_id": resident.pk, "role": "申请人"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "resident", "reason": "No such resident in your area"},
        {"field": "name", "reason": "Give the party's name"},
    ]
    assert "周杰伦" not in response.content.decode()
    # The same answer as for an id that does not exist: nothing to tell them apart.
    missing = call("dept-right", path, {"resident_id": 10**9, "role": "申请人"})
    assert missing.json() == response.json()
    assert not MediationParty.objects.exists()


def test_a_grid_worker_names_a_resident_of_their_grid(world, dispute, call):
    path = f"/cases/{dispute.tracking_code}/mediation/parties"
    mine = world.residents["赵光菊"]
    response = call("worker", path, {"resident_id": mine.pk})
    assert response.status_code == 200
    assert response.json()["parties"][0]["name"] == "赵光菊"
    response = call("worker", path, {"resident_id": world.residents["周杰伦"].pk})
    assert response.status_code == 422
    assert "周杰伦" not in response.content.decode()


def test_the_api_refuses_a_huge_amount_on_another_tier(world, hardship, call):
    kinds.assistance_plan(hardship, actor=world.users["secretary"], plan="临时救助")
    path = f"/cases/{hardship.tracking_code}/assistance/given"
    response = call("worker", path, {"what": "现金", "amount": "99999999.99"})
    assert response.status_code == 403
    response = call("secretary", path, {"what": "现金", "amount": "99999999.99"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount"
    assert not AssistanceGiven.objects.exists()
