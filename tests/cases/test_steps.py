"""The workflow table (cases/workflow.py): every door follows it, allowed_actions() tells the
truth about what take() accepts, and run_action() names missing inputs. The layers are held by
the import contracts (tests/core/test_layers.py)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.db import transaction

from grassroots.accounts.models import ApiToken
from grassroots.cases import services as s
from grassroots.cases import workflow
from grassroots.cases.errors import CaseInputError, TransitionRefused
from grassroots.cases.models import Case, Stage
from grassroots.cases.queue import DELIVER_NOTIFICATIONS, SWEEP_DEADLINES
from grassroots.cases.workflow import STEPS, allowed_actions, run_action
from tests.cases.conftest import MONDAY

H = datetime.timedelta(hours=1)


class Rollback(Exception):
    pass


def _inputs(step: str, case: Case, world: Any) -> dict[str, Any]:
    """Valid inputs for `step` on `case`, as a door sends them."""
    other = Case.objects.exclude(pk=case.pk).filter(stage=Stage.REPORTED).first()
    return {
        "note": "说明情况",
        "reason": "invalid" if step == "reject" else "需要说明原因",
        "assignee": "worker",
        "days": 2,
        "main": other.tracking_code if other else "",
        "rating": 4,
    }


def _cases_in_every_stage(world: Any, report: Any) -> list[Case]:
    u = world.users
    reported, accepted = report(), s.case_accept(report(), actor=u["worker"], now=MONDAY)
    dispatched = s.case_dispatch(
        s.case_accept(report(), actor=u["dispatcher"], now=MONDAY),
        actor=u["dispatcher"],
        assignee=u["worker"],
        now=MONDAY,
    )
    started = s.case_start(s.case_accept(report(), actor=u["worker"]), actor=u["worker"])
    handled = s.case_handle(
        s.case_start(s.case_accept(report(), actor=u["worker"]), actor=u["worker"]),
        actor=u["worker"],
        note="已处理",
    )
    verified = s.case_verify(
        s.case_handle(
            s.case_start(s.case_accept(report(), actor=u["worker"]), actor=u["worker"]),
            actor=u["worker"],
            note="已处理",
        ),
        actor=u["secretary"],
    )
    closed = s.case_close(
        s.case_verify(
            s.case_handle(
                s.case_start(s.case_accept(report(), actor=u["worker"]), actor=u["worker"]),
                actor=u["worker"],
                note="已处理",
            ),
            actor=u["secretary"],
        ),
        actor=u["secretary"],
    )
    rejected = s.case_reject(report(), actor=u["worker"], reason="invalid")
    escalated = s.case_escalate(report(), actor=u["worker"], reason="需要村里协调")
    return [reported, accepted, dispatched, started, handled, verified, closed, rejected, escalated]


def test_the_doors_follow_the_table(world: Any, client: Any) -> None:
    from grassroots.web.console.cases_forms import BULK_ACTIONS, STEP_FORMS

    assert list(STEP_FORMS) == list(STEPS)
    assert {name for name, _label in BULK_ACTIONS} <= set(STEPS)
    doc = client.get("/api/v1/openapi.json").json()
    act = doc["paths"]["/api/v1/cases/{tracking_code}/actions/{action}"]["post"]
    (action,) = [p for p in act["parameters"] if p["name"] == "action"]
    assert action["schema"]["enum"] == list(STEPS)
    # Every stage but the last ones leads somewhere; the reporter's steps are marked.
    assert {name for name, step in STEPS.items() if step.reporter} == {"rate", "reopen"}
    assert workflow.roles_allowed("accept")["grid_worker"] == frozenset({"grid"})
    assert "grid_worker" not in workflow.roles_allowed("close")


@pytest.mark.parametrize("persona", ["worker", "secretary", "official", "dispatcher", "admin"])
def test_allowed_actions_are_exactly_the_steps_take_accepts(
    world: Any, report: Any, persona: str
) -> None:
    user = world.users[persona]
    for case in _cases_in_every_stage(world, report):
        offered = allowed_actions(case, user)
        for name, step in STEPS.items():
            if not step.listed:
                continue
            try:
                with transaction.atomic():
                    run_action(user, case, name, _inputs(name, case, world))
                    raise Rollback
            except Rollback:
                took = True
            except (TransitionRefused, CaseInputError):
                took = False
            # A dispatch to the grid worker is refused at another tier: the input, not the
            # step (the page offers only the people who may take it).
            if name == "dispatch" and name in offered and not took:
                continue
            assert took == (name in offered), (persona, case.stage, case.tier, name)


@pytest.mark.parametrize(
    ("step", "data", "field", "message"),
    [
        ("dispatch", {"assignee": "nobody"}, "assignee", "no such active user"),
        ("defer", {"reason": "等待配件"}, "days", "give the working days to add"),
        ("merge", {"main": "ZZZZZZZZZZ"}, "main", "no such case in your scope"),
        ("rate", {}, "rating", "give a rating from 1 to 5"),
        ("fly", {}, "action", "Unknown step fly"),
    ],
)
def test_run_action_names_a_missing_input(
    world: Any, report: Any, step: str, data: dict[str, Any], field: str, message: str
) -> None:
    case = s.case_accept(report(), actor=world.users["dispatcher"])
    with pytest.raises(CaseInputError) as caught:
        run_action(world.users["dispatcher"], case, step, data)
    assert caught.value.message_dict == {field: [message]}


def test_the_api_answers_a_missing_input_with_422(world: Any, report: Any, client: Any) -> None:
    case = s.case_accept(report(), actor=world.users["dispatcher"])
    token = ApiToken.issue(world.users["dispatcher"])[1]
    response = client.post(
        f"/api/v1/cases/{case.tracking_code}/actions/dispatch",
        json.dumps({"assignee": "nobody"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "assignee", "reason": "no such active user"}]


def test_the_queue_names_the_tasks_it_asks_for() -> None:
    from django.utils.module_loading import import_string

    from grassroots.cases import tasks

    assert import_string(DELIVER_NOTIFICATIONS) is tasks.deliver_notifications
    assert import_string(SWEEP_DEADLINES) is tasks.sweep_deadlines
