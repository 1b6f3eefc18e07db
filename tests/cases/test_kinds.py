"""Case kinds: mediation of disputes and assistance of hardship cases, services and API."""

from __future__ import annotations

import datetime
import decimal
import json

import pytest
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from grassroots.cases import kinds
from grassroots.cases.models import (
    Assistance,
    AssistanceGiven,
    CaseEvent,
    Mediation,
    MediationParty,
    MediationSession,
)
from grassroots.cases.services import (
    CaseInputError,
    TransitionRefused,
    case_accept,
    case_reject,
)

API = "/api/v1"


@pytest.fixture
def dispute(world, report):
    """A dispute of grid A1-1, accepted by its grid worker (grid tier)."""
    case = report(category="dispute", description="邻里因排水沟堵塞发生纠纷")
    return case_accept(case, actor=world.users["worker"])


@pytest.fixture
def hardship(world, report):
    """A hardship case of grid A1-1, at village tier (its category's first), accepted by the
    village secretary."""
    case = report(
        category="assistance",
        description="独居老人生活困难，需要帮扶",
        reporter_household=world.households["HA11-1"],
    )
    return case_accept(case, actor=world.users["secretary"])


def timeline(case, action):
    return list(CaseEvent.objects.filter(case=case, action=action).order_by("id"))


def events(kind):
    return list(Event.objects.filter(object_type=kind).order_by("id"))


def refused(call, **kw):
    with pytest.raises(TransitionRefused) as exc:
        call(**kw)
    return exc.value


def bad_input(call, **kw):
    with pytest.raises(CaseInputError) as exc:
        call(**kw)
    return {k: v[0] for k, v in exc.value.message_dict.items()}


# --- Mediation -------------------------------------------------------------------------------


def test_it_adds_a_party_and_makes_the_mediation_on_first_use(world, dispute):
    worker = world.users["worker"]
    assert not Mediation.objects.filter(case=dispute).exists()
    party = kinds.mediation_add_party(
        dispute, actor=worker, name="张三", phone="13912345678", role="申请人"
    )
    assert (party.mediation.case_id, party.name, party.phone, party.role) == (
        dispute.pk,
        "张三",
        "13912345678",
        "申请人",
    )
    kinds.mediation_add_party(dispute, actor=worker, name="李四", phone="0598-6321234")
    assert Mediation.objects.filter(case=dispute).count() == 1
    assert MediationParty.objects.filter(mediation__case=dispute).count() == 2
    steps = timeline(dispute, "mediation")
    assert [(e.actor, e.note, e.data["step"]) for e in steps] == [
        (worker, "张三（申请人）", "party"),
        (worker, "李四", "party"),
    ]
    assert all(e.scope_code == dispute.scope_code for e in steps)


def test_it_audits_parties_with_masked_name_and_phone(world, dispute):
    kinds.mediation_add_party(
        dispute, actor=world.users["worker"], name="张三丰", phone="13912345678"
    )
    [made] = events("cases.mediation")
    [event] = events("cases.mediationparty")
    assert made.action == event.action == "create"
    assert event.scope_code == dispute.scope_code
    assert event.actor_name == "worker"
    assert event.changes["name"] == [None, "张**"]
    assert event.changes["phone"] == [None, "139****5678"]
    assert "张三丰" not in json.dumps(event.changes, ensure_ascii=False) + event.object_repr


def test_it_links_a_party_to_a_resident_in_the_area(world, dispute):
    resident = world.residents["赵光菊"]
    party = kinds.mediation_add_party(
        dispute, actor=world.users["worker"], name="", resident=resident
    )
    assert (party.resident, party.name) == (resident, "赵光菊")
    other = world.residents["周杰伦"]  # town B
    errors = bad_input(
        kinds.mediation_add_party,
        case=dispute,
        actor=world.users["worker"],
        name="x",
        resident=other.pk,
    )
    assert errors == {"resident": "No such resident in your area"}


def test_it_names_bad_party_input(world, dispute):
    errors = bad_input(
        kinds.mediation_add_party,
        case=dispute,
        actor=world.users["worker"],
        name=" ",
        phone="12345",
        role="x" * 51,
    )
    assert errors == {
        "name": "Give the party's name",
        "phone": "Mobile number must be 11 digits starting with 13 to 19",
        "role": "Longer than 50 characters",
    }
    assert not MediationParty.objects.exists()
    assert not Mediation.objects.exists()


def test_it_records_a_session_with_notes(world, dispute):
    worker = world.users["worker"]
    held = timezone.now() - datetime.timedelta(hours=2)
    session = kinds.mediation_add_session(
        dispute,
        actor=worker,
        held_at=held,
        place="村委会调解室",
        notes="双方同意疏通水沟。\n下周复查。",
    )
    assert (session.mediator, session.place, session.held_at) == (worker, "村委会调解室", held)
    assert session.notes == "双方同意疏通水沟。\n下周复查。"
    [step] = timeline(dispute, "mediation")
    assert step.data["step"] == "session" and step.note == session.notes
    assert [e.action for e in events("cases.mediationsession")] == ["create"]


def test_it_refuses_a_session_in_the_future_or_without_notes(world, dispute):
    errors = bad_input(
        kinds.mediation_add_session,
        case=dispute,
        actor=world.users["worker"],
        held_at=timezone.now() + datetime.timedelta(days=1),
        place="",
        notes="  ",
    )
    assert errors == {
        "held_at": "A session is recorded after it was held: the time is in the future",
        "notes": "Write down what was said",
    }


def test_it_concludes_with_an_agreement(world, dispute):
    worker = world.users["worker"]
    kinds.mediation_add_session(
        dispute, actor=worker, held_at=timezone.now(), place="", notes="调解"
    )
    mediation = kinds.mediation_conclude(
        dispute, actor=worker, outcome="success", agreement="甲方三日内疏通水沟"
    )
    mediation.refresh_from_db()
    assert (mediation.outcome, mediation.agreement) == ("success", "甲方三日内疏通水沟")
    assert mediation.concluded_at is not None
    step = timeline(dispute, "mediation")[-1]
    assert (step.data, step.note) == (
        {"step": "conclude", "outcome": "success"},
        "甲方三日内疏通水沟",
    )
    [update] = [e for e in events("cases.mediation") if e.action == "update"]
    assert update.changes["outcome"] == ["", "success"]


def test_a_failed_mediation_needs_no_agreement(world, dispute):
    worker = world.users["worker"]
    kinds.mediation_add_session(dispute, actor=worker, held_at=timezone.now(), place="", notes="x")
    mediation = kinds.mediation_conclude(dispute, actor=worker, outcome="failed")
    assert (mediation.outcome, mediation.agreement) == ("failed", "")


@pytest.mark.parametrize("outcome", ["success", "partial"])
def test_a_settlement_needs_the_agreement_text(world, dispute, outcome):
    errors = bad_input(
        kinds.mediation_conclude, case=dispute, actor=world.users["worker"], outcome=outcome
    )
    assert errors == {"agreement": "An agreement was reached: give its text"}


def test_it_refuses_an_unknown_outcome(world, dispute):
    errors = bad_input(
        kinds.mediation_conclude, case=dispute, actor=world.users["worker"], outcome="won"
    )
    assert errors == {"outcome": "The outcome is one of success, partial, failed"}


def test_it_concludes_only_after_a_session(world, dispute):
    error = refused(
        kinds.mediation_conclude,
        case=dispute,
        actor=world.users["worker"],
        outcome="failed",
    )
    assert error.message == "Record at least one mediation session before concluding"
    assert error.status == 409


def test_a_concluded_mediation_takes_nothing_more(world, dispute):
    worker = world.users["worker"]
    kinds.mediation_add_session(dispute, actor=worker, held_at=timezone.now(), place="", notes="x")
    kinds.mediation_conclude(dispute, actor=worker, outcome="failed")
    day = timezone.localdate().isoformat()
    message = f"The mediation of case {dispute.tracking_code} was concluded on {day}"
    assert (
        refused(kinds.mediation_add_party, case=dispute, actor=worker, name="王五").message
        == message
    )
    assert (
        refused(
            kinds.mediation_add_session,
            case=dispute,
            actor=worker,
            held_at=timezone.now(),
            place="",
            notes="again",
        ).message
        == message
    )
    assert (
        refused(kinds.mediation_conclude, case=dispute, actor=worker, outcome="failed").message
        == message
    )
    assert MediationSession.objects.count() == 1


def test_mediation_is_only_for_dispute_cases(world, hardship):
    error = refused(
        kinds.mediation_add_party, case=hardship, actor=world.users["worker"], name="甲"
    )
    assert error.message == (
        f"Case {hardship.tracking_code} is a hardship assistance case, not a dispute mediation case"
    )
    assert error.status == 409
    assert not Mediation.objects.exists()


# --- Who may -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "message"),
    [
        ("outsider", "This case lies outside your area"),
        ("worker2", "This case lies outside your area"),
        ("auditor", "Your role may not work on cases"),
    ],
)
def test_it_refuses_people_who_may_not_work_on_the_case(world, dispute, hardship, persona, message):
    actor = world.users[persona]
    for call, case, kw in (
        (kinds.mediation_add_party, dispute, {"name": "甲"}),
        (
            kinds.mediation_add_session,
            dispute,
            {"held_at": timezone.now(), "place": "", "notes": "x"},
        ),
        (kinds.mediation_conclude, dispute, {"outcome": "failed"}),
        (kinds.assistance_plan, hardship, {"plan": "每月走访"}),
        (kinds.assistance_give, hardship, {"what": "米"}),
    ):
        error = refused(call, case=case, actor=actor, **kw)
        assert (error.message, error.status) == (message, 403), call.__name__
    assert not CaseEvent.objects.filter(action__in=["mediation", "assistance"]).exists()
    assert not Mediation.objects.exists() and not Assistance.objects.exists()


def test_it_refuses_staff_of_the_area_above_and_lets_the_secretary_work(world, dispute):
    party = kinds.mediation_add_party(dispute, actor=world.users["secretary"], name="甲")
    assert party.pk
    inactive = world.users["official"]
    inactive.is_active = False
    inactive.save()
    assert (
        refused(kinds.mediation_add_party, case=dispute, actor=inactive, name="乙").message
        == "Only staff may work on a case"
    )


def test_it_refuses_records_on_a_rejected_case(world, report):
    case = report(category="dispute", description="邻里因排水沟堵塞发生纠纷")
    case_reject(case, actor=world.users["worker"], reason="invalid", note="不属实")
    error = refused(kinds.mediation_add_party, case=case, actor=world.users["worker"], name="甲")
    assert error.message == (
        f"Case {case.tracking_code} was rejected: nothing more can be recorded on it"
    )


# --- Assistance ------------------------------------------------------------------------------


def test_it_plans_assistance_for_the_reporters_household(world, hardship):
    secretary = world.users["secretary"]
    follow = timezone.localdate() + datetime.timedelta(days=30)
    assistance = kinds.assistance_plan(
        hardship, actor=secretary, plan="每月送米面油", follow_up_on=follow
    )
    assert (assistance.household.code, assistance.plan, assistance.follow_up_on) == (
        "HA11-1",
        "每月送米面油",
        follow,
    )
    [step] = timeline(hardship, "assistance")
    assert step.data == {"step": "plan", "household": "HA11-1", "follow_up_on": follow.isoformat()}
    [created] = events("cases.assistance")
    assert created.action == "create" and created.scope_code == hardship.scope_code


def test_it_changes_the_plan_and_audits_the_change(world, hardship):
    secretary = world.users["secretary"]
    kinds.assistance_plan(hardship, actor=secretary, plan="每月送米面油")
    other = world.households["HA11-2"]
    kinds.assistance_plan(hardship, actor=secretary, household=other, plan="每周走访一次")
    assert Assistance.objects.get().plan == "每周走访一次"
    update = events("cases.assistance")[-1]
    assert update.action == "update"
    assert update.changes["plan"] == ["每月送米面油", "每周走访一次"]


def test_the_household_must_lie_in_the_area(world, report):
    case = report(category="assistance", description="困难家庭需要帮扶")
    case_accept(case, actor=world.users["secretary"])
    secretary = world.users["secretary"]
    errors = bad_input(kinds.assistance_plan, case=case, actor=secretary, plan="走访")
    assert errors == {"household": "Say which household is helped"}
    errors = bad_input(
        kinds.assistance_plan,
        case=case,
        actor=secretary,
        household=world.households["HA21-1"],  # village A2, not the secretary's
        plan=" ",
        follow_up_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    assert errors == {
        "household": "No such household in your area",
        "plan": "Describe the plan",
        "follow_up_on": "The follow-up date has passed",
    }
    assert not Assistance.objects.exists()


def test_it_records_what_was_given(world, hardship):
    secretary = world.users["secretary"]
    kinds.assistance_plan(hardship, actor=secretary, plan="每月送米面油")
    given = kinds.assistance_give(hardship, actor=secretary, what="大米 25 公斤", amount="120.5")
    assert (given.what, given.amount, given.by, given.given_on) == (
        "大米 25 公斤",
        decimal.Decimal("120.50"),
        secretary,
        timezone.localdate(),
    )
    step = timeline(hardship, "assistance")[-1]
    assert step.data["step"] == "given" and step.data["amount"] == "120.50"
    assert step.note == "大米 25 公斤"
    [created] = events("cases.assistancegiven")
    assert created.changes["amount"] == [None, "120.50"]


def test_it_gives_only_after_the_plan(world, hardship):
    error = refused(kinds.assistance_give, case=hardship, actor=world.users["secretary"], what="米")
    assert error.message == "Record the assistance plan first: it names the household"


def test_it_names_bad_assistance_given(world, hardship):
    secretary = world.users["secretary"]
    kinds.assistance_plan(hardship, actor=secretary, plan="x")
    errors = bad_input(
        kinds.assistance_give,
        case=hardship,
        actor=secretary,
        what="",
        amount="-1",
        given_on=timezone.localdate() + datetime.timedelta(days=2),
    )
    assert errors == {
        "what": "Say what was given",
        "amount": "The amount lies between 0 and 50,000 yuan (ASSISTANCE_MAX_YUAN)",
        "given_on": "The date lies in the future",
    }
    errors = bad_input(
        kinds.assistance_give, case=hardship, actor=secretary, what="米", amount="many"
    )
    assert errors == {"amount": "The amount is a number of yuan"}
    assert not AssistanceGiven.objects.exists()


def test_assistance_is_only_for_hardship_cases(world, dispute):
    error = refused(kinds.assistance_plan, case=dispute, actor=world.users["secretary"], plan="x")
    assert error.message == (
        f"Case {dispute.tracking_code} is a dispute mediation case, not a hardship assistance case"
    )


def test_it_lists_follow_ups_that_are_due_in_scope(world, hardship, report):
    secretary = world.users["secretary"]
    today = timezone.localdate()
    kinds.assistance_plan(
        hardship, actor=secretary, plan="x", follow_up_on=today + datetime.timedelta(days=3)
    )
    elsewhere = report(
        grid=world.grid_b11,
        category="assistance",
        description="困难家庭需要帮扶",
        reporter_household=world.households["HB11-1"],
    )
    case_accept(elsewhere, actor=world.users["outsider"])
    kinds.assistance_plan(elsewhere, actor=world.users["outsider"], plan="y", follow_up_on=today)

    def due(persona, on=None):
        return [
            a.case.tracking_code for a in kinds.assistance_follow_ups_due(world.users[persona], on)
        ]

    assert due("worker") == []
    assert due("worker", today + datetime.timedelta(days=3)) == [hardship.tracking_code]
    assert due("secretary", today + datetime.timedelta(days=5)) == [hardship.tracking_code]
    assert due("worker2", today + datetime.timedelta(days=5)) == []
    assert due("outsider") == [elsewhere.tracking_code]
    assert due("admin", today + datetime.timedelta(days=3)) == [
        elsewhere.tracking_code,
        hardship.tracking_code,
    ]
    # Something given on or after the follow-up date settles it.
    Assistance.objects.filter(case=hardship).update(follow_up_on=today)
    kinds.assistance_give(hardship, actor=secretary, what="慰问金", amount=500)
    assert due("worker") == []


def test_the_follow_up_list_reads_one_query(world, hardship, django_assert_num_queries):
    kinds.assistance_plan(
        hardship, actor=world.users["secretary"], plan="x", follow_up_on=timezone.localdate()
    )
    user = world.users["secretary"]
    with django_assert_num_queries(1):
        rows = list(kinds.assistance_follow_ups_due(user))
        assert [r.household.code for r in rows] == ["HA11-1"]
        assert rows[0].case.category.code == "assistance"


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def call(client, world):
    tokens = {name: ApiToken.issue(user)[1] for name, user in world.users.items()}

    def make(persona, method, path, payload=None):
        headers = {"Authorization": f"Bearer {tokens[persona]}", "Accept-Language": "en"}
        if method == "GET":
            return client.get(API + path, headers=headers)
        return client.post(
            API + path, json.dumps(payload or {}), content_type="application/json", headers=headers
        )

    return make


def test_the_api_runs_a_whole_mediation(world, dispute, call):
    base = f"/cases/{dispute.tracking_code}/mediation"
    response = call("worker", "GET", base)
    assert response.status_code == 200
    assert response.json() == {
        "tracking_code": dispute.tracking_code,
        "outcome": "",
        "agreement": "",
        "concluded_at": None,
        "parties": [],
        "sessions": [],
    }
    response = call(
        "worker",
        "POST",
        base + "/parties",
        {"name": "张三", "phone": "13912345678", "role": "申请人"},
    )
    assert response.status_code == 200, response.content
    [party] = response.json()["parties"]
    assert party["phone"] == "139****5678" and party["name"] == "张三"
    held = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    response = call(
        "worker", "POST", base + "/sessions", {"held_at": held, "place": "调解室", "notes": "调解"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["sessions"][0]["mediator"] == "worker"
    response = call(
        "worker", "POST", base + "/conclude", {"outcome": "partial", "agreement": "部分达成"}
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["outcome"], data["agreement"]) == ("partial", "部分达成")
    assert data["concluded_at"]
    # The auditor reads it; nobody adds to it any more.
    assert call("auditor", "GET", base).json() == data
    response = call("worker", "POST", base + "/parties", {"name": "王五"})
    assert response.status_code == 409
    assert "was concluded on" in response.json()["detail"]


def test_the_api_runs_assistance(world, hardship, call):
    base = f"/cases/{hardship.tracking_code}/assistance"
    assert call("worker", "GET", base).json() == {
        "tracking_code": hardship.tracking_code,
        "household": None,
        "plan": "",
        "follow_up_on": None,
        "given": [],
    }
    follow = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    response = call(
        "secretary", "POST", base + "/plan", {"plan": "每月走访", "follow_up_on": follow}
    )
    assert response.status_code == 200, response.content
    household = world.households["HA11-1"]
    assert response.json()["household"] == {"id": household.pk, "code": "HA11-1"}
    response = call("secretary", "POST", base + "/given", {"what": "大米", "amount": "88.8"})
    assert response.status_code == 200, response.content
    [given] = response.json()["given"]
    assert (given["what"], decimal.Decimal(given["amount"]), given["by"]) == (
        "大米",
        decimal.Decimal("88.80"),
        "secretary",
    )


def test_the_api_answers_404_out_of_scope_403_without_the_role_409_for_the_wrong_kind(
    world, dispute, hardship, call
):
    paths = [
        ("POST", f"/cases/{dispute.tracking_code}/mediation/parties", {"name": "甲"}),
        ("GET", f"/cases/{dispute.tracking_code}/mediation", None),
        ("POST", f"/cases/{hardship.tracking_code}/assistance/plan", {"plan": "x"}),
        ("GET", f"/cases/{hardship.tracking_code}/assistance", None),
    ]
    for method, path, payload in paths:
        response = call("outsider", method, path, payload)
        assert (response.status_code, response.json()) == (404, {"detail": "Not found"}), path
    response = call("auditor", "POST", paths[0][1], {"name": "甲"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role lacks the permission cases.handle_case"}
    response = call("worker", "GET", f"/cases/{hardship.tracking_code}/mediation")
    assert response.status_code == 409
    assert "not a dispute mediation case" in response.json()["detail"]
    response = call(
        "worker", "POST", f"/cases/{dispute.tracking_code}/assistance/given", {"what": "x"}
    )
    assert response.status_code == 409
    assert not CaseEvent.objects.filter(action__in=["mediation", "assistance"]).exists()


def test_the_api_names_bad_input(world, dispute, call):
    response = call(
        "worker",
        "POST",
        f"/cases/{dispute.tracking_code}/mediation/conclude",
        {"outcome": "success"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "agreement", "reason": "An agreement was reached: give its text"}
    ]
    response = call(
        "worker", "POST", f"/cases/{dispute.tracking_code}/mediation/conclude", {"outcome": "won"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "outcome"


def test_the_api_finds_a_case_by_its_code_as_typed(world, dispute, call):
    code = dispute.tracking_code.lower()
    assert call("worker", "GET", f"/cases/{code}/mediation").status_code == 200


def test_other_personas_reach_their_own_cases(world, report, call):
    case = report(grid=world.grid_a12, category="dispute", description="两户因宅基地界线争执")
    case_accept(case, actor=world.users["worker2"])
    response = call(
        "worker2", "POST", f"/cases/{case.tracking_code}/mediation/parties", {"name": "甲"}
    )
    assert response.status_code == 200
    assert call("worker", "GET", f"/cases/{case.tracking_code}/mediation").status_code == 404
