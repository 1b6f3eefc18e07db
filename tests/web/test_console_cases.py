"""The console's case queue (filters, sorting, paging, bulk steps) and the case page (facts,
timeline, photos, the steps a user may take, stale pages, field errors), in scope."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from grassroots.cases import services as s
from grassroots.cases.models import Case, CaseEvent, CasePhoto, Stage

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
QUEUE = "/console/cases/"


def centre(grid: Any) -> tuple[float, float]:
    return ((grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2)


@pytest.fixture
def report(world: Any) -> Any:
    """report(grid, **more) -> a case reported on the portal at the grid's centre."""

    def make(grid: Any = None, **more: Any) -> Case:
        lon, lat = centre(grid or world.grid_a11)
        fields: dict[str, Any] = {
            "actor": None,
            "channel": "portal",
            "category": "environment",
            "description": "路灯坏了，晚上很黑",
            "lon": lon,
            "lat": lat,
            "reporter_name": "张三",
            "reporter_phone": "13800138000",
        }
        fields.update(more)
        return s.case_report(**fields)

    return make


def page(code: str) -> str:
    return reverse("console:case", args=[code])


def step(code: str, action: str) -> str:
    return reverse("console:case_step", args=[code, action])


def codes_in(html: str) -> set[str]:
    return set(re.findall(r'<tr id="case-([0-9A-Z]+)">', html))


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The queue -------------------------------------------------------------------------------


def test_it_lists_only_the_cases_in_the_users_scope(world, login, report):
    a11 = report(world.grid_a11)
    a21 = report(world.grid_a21)
    b11 = report(world.grid_b11)
    assert reverse("console:cases") == QUEUE

    response = login("dispatcher").get(QUEUE)
    assert response.status_code == 200
    assert codes_in(response.content.decode()) == {a11.tracking_code, a21.tracking_code}
    assert codes_in(login("outsider").get(QUEUE).content.decode()) == {b11.tracking_code}
    assert codes_in(login("worker").get(QUEUE).content.decode()) == {a11.tracking_code}
    # Asking for another town's area by code shows nothing either.
    html = login("outsider").get(QUEUE, {"scope": "350426100"}).content.decode()
    assert codes_in(html) == set() and "No cases match these filters." in html


def test_an_outsider_gets_404_on_a_case_of_another_town(world, login, report):
    case = report(world.grid_a11)
    outsider = login("outsider")
    assert outsider.get(page(case.tracking_code)).status_code == 404
    response = outsider.post(step(case.tracking_code, "accept"), {"accept-expected_version": 1})
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).stage == Stage.REPORTED
    photo_case = report(world.grid_b11)
    assert login("dispatcher").get(page(photo_case.tracking_code)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(world, client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_it_filters_the_queue(world, login, report):
    plain = report(world.grid_a11)
    urgent = report(world.grid_a12, urgent=True, category="safety", channel="hotline")
    queued = report(
        None, lon=None, lat=None, unit="350426100", channel="hotline", reporter_phone="13900139000"
    )
    closed = report(world.grid_a21)
    s.case_reject(closed, actor=world.users["dispatcher"], reason="invalid")
    accepted = s.case_accept(report(world.grid_a21), actor=world.users["dispatcher"])
    late = report(world.grid_a11)
    Case.objects.filter(pk=late.pk).update(due_at=timezone.now() - datetime.timedelta(hours=2))
    client = login("dispatcher")

    def shown(**query: Any) -> set[str]:
        response = client.get(QUEUE, query)
        assert response.status_code == 200
        return codes_in(response.content.decode())

    open_ones = {plain, urgent, queued, accepted, late}
    assert shown() == {c.tracking_code for c in open_ones}  # open cases by default
    # The parameters of the API's list (cases.filters.CaseFilter): open=false, open= for all.
    assert shown(open="false") == {closed.tracking_code}
    assert shown(open="") == {c.tracking_code for c in (*open_ones, closed)}
    assert shown(scope=world.grid_a11.code, open="") == {plain.tracking_code, late.tracking_code}
    # Links from before the filters were one still open the same lists; `open` wins.
    assert shown(status="all") == {c.tracking_code for c in (*open_ones, closed)}
    assert shown(status="closed") == {closed.tracking_code}
    assert shown(status="open") == {c.tracking_code for c in open_ones}
    assert shown(status="all", open="false") == {closed.tracking_code}
    assert shown(stage="accepted") == {accepted.tracking_code}
    assert shown(category="safety") == {urgent.tracking_code}
    assert shown(urgent="on") == {urgent.tracking_code}
    assert shown(channel="hotline") == {urgent.tracking_code, queued.tracking_code}
    assert shown(overdue="on") == {late.tracking_code}
    assert shown(queue="350426100") == {queued.tracking_code}
    assert shown(scope=world.grid_a11.code) == {plain.tracking_code, late.tracking_code}
    assert shown(tier="town") == {queued.tracking_code}
    assert shown(q=plain.tracking_code.lower()) == {plain.tracking_code}
    today = timezone.localdate()
    assert len(shown(since=today.isoformat(), until=today.isoformat())) == 5
    assert shown(since=(today + datetime.timedelta(days=1)).isoformat()) == set()

    html = client.get(QUEUE).content.decode()
    row = re.search(rf'<tr id="case-{late.tracking_code}">(.*?)</tr>', html, re.S).group(1)
    assert "badge overdue" in row and "data-countdown" in row
    row = re.search(rf'<tr id="case-{urgent.tracking_code}">(.*?)</tr>', html, re.S).group(1)
    assert "badge urgent" in row and "badge overdue" not in row


def test_it_shows_bad_filter_values_next_to_their_fields(world, login, report):
    report(world.grid_a11)
    response = login("dispatcher").get(
        QUEUE, {"scope": "12ab", "since": "2026-03-05", "until": "2026-03-01"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_scope_error">A code has 6/9/12/15 digits' in html
    assert 'id="id_until_error">This date comes before the start date' in html


def test_it_sorts_and_pages_the_queue(world, login, report):
    cases = [report(world.grid_a11) for _ in range(5)]
    s.case_escalate(cases[0], actor=world.users["dispatcher"], reason="需要村里协调")
    now = timezone.now()
    for i, case in enumerate(cases):
        # The first case is due last, the last one first.
        Case.objects.filter(pk=case.pk).update(due_at=now + datetime.timedelta(days=10 - i))
    client = login("dispatcher")

    def order(**query: Any) -> list[str]:
        html = client.get(QUEUE, query).content.decode()
        return re.findall(r'<tr id="case-([0-9A-Z]+)">', html)

    by_due = [c.tracking_code for c in reversed(cases)]
    assert order(sort="due") == by_due
    assert order(sort="-due") == by_due[::-1]
    assert order(sort="tier")[-1] == cases[0].tracking_code  # village after grid
    assert order(sort="-tier")[0] == cases[0].tracking_code

    first = client.get(QUEUE, {"sort": "due", "per_page": 2})
    assert first.context["page_obj"].paginator.num_pages == 3
    assert codes_in(first.content.decode()) == set(by_due[:2])
    html = first.content.decode()
    assert 'rel="next" href="?sort=due&amp;per_page=2&amp;page=2"' in html
    second = client.get(QUEUE, {"sort": "due", "per_page": 2, "page": 2})
    assert codes_in(second.content.decode()) == set(by_due[2:4])
    assert "Page 2 of 3" in second.content.decode()
    assert 'aria-sort="ascending"' in html


def test_an_htmx_request_gets_only_the_results(world, login, report):
    case = report(world.grid_a11)
    response = login("dispatcher").get(
        QUEUE, {"stage": "reported"}, headers={"HX-Request": "true", "HX-Target": "case-results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="case-results"')
    assert "<html" not in html and case.tracking_code in html


def test_the_page_and_the_api_take_the_same_filters(world, login, report):
    u = world.users
    plain = report(world.grid_a11)
    urgent = report(world.grid_a11, urgent=True, category="safety", channel="hotline")
    closed = s.case_reject(report(world.grid_a21), actor=u["dispatcher"], reason="invalid")
    late = report(world.grid_a11)
    Case.objects.filter(pk=late.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    from grassroots.accounts.models import ApiToken

    token = ApiToken.issue(u["dispatcher"])[1]
    page = login("dispatcher")

    def both(**query: str) -> set[str]:
        api = login("dispatcher").get(
            "/api/v1/cases", query, headers={"Authorization": f"Bearer {token}"}
        )
        shown = set(re.findall(r'<tr id="case-([0-9A-Z]+)">', page.get(QUEUE, query).text))
        listed = {c["tracking_code"] for c in api.json()["items"]}
        assert shown == listed, query
        return listed

    assert both(open="") == {c.tracking_code for c in (plain, urgent, closed, late)}
    assert both(open="true", urgent="true") == {urgent.tracking_code}
    assert both(open="", channel="hotline") == {urgent.tracking_code}
    assert both(open="false") == {closed.tracking_code}
    assert both(open="", overdue="on") == {late.tracking_code}
    assert both(open="", q=plain.tracking_code[2:8].lower()) == {plain.tracking_code}
    assert both(open="", grid=world.grid_a21.code) == {closed.tracking_code}


# --- Bulk steps ------------------------------------------------------------------------------


def test_bulk_accept_takes_each_case_and_reports_the_refusals(world, login, report):
    fresh = [report(world.grid_a11), report(world.grid_a12), report(world.grid_a21)]
    taken = s.case_accept(report(world.grid_a11), actor=world.users["dispatcher"])
    outside = report(world.grid_b11)
    codes = [c.tracking_code for c in (*fresh, taken, outside)]
    response = login("dispatcher").post(
        "/console/cases/bulk/",
        {"action": "accept", "codes": codes, "next": "/console/cases/?stage=reported"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/console/cases/?stage=reported"
    (message,) = messages_of(response)
    assert message.startswith("3 done, 2 refused: ")
    assert f"{taken.tracking_code} — A case that is accepted cannot be accepted" in message
    assert f"{outside.tracking_code} — no such case in your area" in message
    assert all(Case.objects.get(pk=c.pk).stage == Stage.ACCEPTED for c in fresh)
    assert Case.objects.get(pk=outside.pk).stage == Stage.REPORTED
    assert CaseEvent.objects.filter(action="accept", actor=world.users["dispatcher"]).count() == 4


def test_bulk_dispatch_and_escalate(world, login, report):
    one = s.case_accept(report(world.grid_a11), actor=world.users["dispatcher"])
    two = s.case_accept(report(world.grid_a12), actor=world.users["dispatcher"])
    client = login("dispatcher")
    page_html = client.get(QUEUE).content.decode()
    assert '<option value="worker">' in page_html and 'data-confirm="' in page_html

    response = client.post(
        "/console/cases/bulk/",
        {
            "action": "dispatch",
            "assignee": "worker",
            "codes": [one.tracking_code, two.tracking_code],
        },
        follow=True,
    )
    (message,) = messages_of(response)
    # worker serves grid A1-1 only: the case in A1-2 cannot go to them.
    assert message.startswith("1 done, 1 refused: ")
    assert f"{two.tracking_code} — worker does not work on cases at this tier" in message
    one.refresh_from_db()
    assert (one.stage, one.assignee) == (Stage.DISPATCHED, world.users["worker"])

    response = client.post(
        "/console/cases/bulk/", {"action": "escalate", "codes": [two.tracking_code]}, follow=True
    )
    assert messages_of(response) == ["Give the reason for escalating"]
    assert Case.objects.get(pk=two.pk).tier == "grid"
    response = client.post(
        "/console/cases/bulk/",
        {"action": "escalate", "reason": "网格无法处理", "codes": [two.tracking_code]},
        follow=True,
    )
    assert messages_of(response) == ["1 done, 0 refused"]
    assert Case.objects.get(pk=two.pk).tier == "village"

    response = client.post("/console/cases/bulk/", {"action": "close"}, follow=True)
    assert messages_of(response) == ["Tick at least one case"]

    response = client.post(
        "/console/cases/bulk/", {"action": "dispatch", "codes": [one.tracking_code]}, follow=True
    )
    assert messages_of(response) == ["Choose who handles the cases"]


def test_bulk_refuses_more_than_a_page_of_cases_at_once(world, login, report):
    case = report(world.grid_a11)
    codes = [case.tracking_code] + [f"X{i:09d}" for i in range(200)]
    response = login("dispatcher").post(
        "/console/cases/bulk/", {"action": "accept", "codes": codes}, follow=True
    )
    assert messages_of(response) == ["At most 200 cases at a time: 201 are ticked."]
    case.refresh_from_db()
    assert case.stage == Stage.REPORTED  # nothing was done


def test_bulk_steps_offered_follow_the_role(world, login, report):
    report(world.grid_a11)
    html = login("worker").get(QUEUE).content.decode()
    offered = re.search(r'<select id="bulk-action" name="action">(.*?)</select>', html, re.S)
    assert re.findall(r'value="(\w+)"', offered.group(1)) == ["accept", "escalate"]
    response = login("worker").post(
        "/console/cases/bulk/", {"action": "close", "codes": ["X"]}, follow=True
    )
    assert Case.objects.filter(stage="closed").count() == 0
    assert "X — no such case in your area" in messages_of(response)[0]


# --- The case page ---------------------------------------------------------------------------


def offered_steps(html: str) -> list[str]:
    return re.findall(r'<details class="step step-(\w+)"', html)


def test_the_case_page_shows_the_facts_with_the_reporter_masked(world, login, report):
    case = report(world.grid_a11, address="水东路12号", urgent=True)
    response = login("dispatcher").get(page(case.tracking_code))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.tracking_code in html and "路灯坏了，晚上很黑" in html and "水东路12号" in html
    assert "张*" in html and "138****8000" in html
    assert "张三" not in html and "13800138000" not in html
    assert "水东一网格 (350426100001001)" in html
    assert "badge urgent" in html and "data-countdown" in html
    assert "Resident/enterprise portal" in html  # the channel
    assert re.search(r'<li class="event-report">.*?reported', html, re.S)


def test_the_case_page_offers_only_the_steps_the_user_may_take(world, login, report):
    case = report(world.grid_a11)
    worker = offered_steps(login("worker").get(page(case.tracking_code)).content.decode())
    assert worker == ["accept", "reject", "escalate", "note"]
    dispatcher = offered_steps(login("dispatcher").get(page(case.tracking_code)).content.decode())
    assert dispatcher == ["accept", "reject", "escalate", "merge", "note"]
    auditor = login("auditor").get(page(case.tracking_code)).content.decode()
    assert offered_steps(auditor) == []
    assert "There is no step you can take on this case now." in auditor

    s.case_accept(case, actor=world.users["dispatcher"])
    worker = offered_steps(login("worker").get(page(case.tracking_code)).content.decode())
    assert worker == ["start", "escalate", "note"]
    html = login("dispatcher").get(page(case.tracking_code)).content.decode()
    assert offered_steps(html) == ["dispatch", "start", "escalate", "merge", "note"]
    # Destructive steps ask first; the dispatch form offers the people who may handle it.
    assert re.search(r'action="[^"]*/escalate/"[^>]*data-confirm="Escalate this case', html)
    assert '<option value="worker">' in html and '<option value="worker2">' not in html
    # A worker of another grid of the town does not see it at all.
    assert login("worker2").get(page(case.tracking_code)).status_code == 404


def test_a_grid_worker_takes_a_case_through_to_handled_with_a_photo(
    world, login, report, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    case = report(world.grid_a11)
    code = case.tracking_code
    client = login("worker")

    def take(action: str, data: dict[str, Any] | None = None, **files: Any) -> Any:
        version = Case.objects.get(pk=case.pk).version
        body = {f"{action}-{k}": v for k, v in (data or {}).items()}
        body[f"{action}-expected_version"] = version
        body.update({f"{action}-{k}": v for k, v in files.items()})
        response = client.post(step(code, action), body)
        assert response.status_code == 302, response.content.decode()[:2000]
        assert response["Location"] == page(code)
        return response

    take("accept")
    take("start", {"note": "马上去现场"})
    photo = SimpleUploadedFile("lamp.jpg", JPEG, "image/jpeg")
    take("progress", {"note": "已联系电工"}, photos=photo)
    case.refresh_from_db()
    assert (case.stage, case.assignee) == (Stage.IN_PROGRESS, world.users["worker"])
    stored = CasePhoto.objects.get(case=case)
    assert stored.event.action == "progress" and stored.content_type == "image/jpeg"
    assert stored.file.read().startswith(b"\xff\xd8\xff")

    take("handle", {"note": "路灯已修好"})
    case.refresh_from_db()
    assert case.stage == Stage.HANDLED and case.handled_at is not None

    response = client.get(page(code))
    html = response.content.decode()
    assert "Case " + code + ": marked handled" in messages_of(response)
    actions = [e["action"] for e in response.context["d"]["timeline"]]
    assert actions == ["report", "accept", "start", "progress", "handle"]
    assert "已联系电工" in html and "路灯已修好" in html
    assert "In progress → Handled" in html
    url = f"/api/v1/cases/{code}/photos/{stored.pk}"
    assert f'<img src="{url}"' in html
    shown = client.get(url)
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert login("outsider").get(url).status_code == 404
    # Handled: the worker may not verify their own work; nothing but a note is left to them.
    assert offered_steps(html) == ["note"]


def test_a_file_that_is_no_photo_is_refused_next_to_the_field(
    world, login, report, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    case = report(world.grid_a11)
    client = login("worker")
    response = client.post(
        step(case.tracking_code, "note"),
        {
            "note-expected_version": case.version,
            "note-note": "现场照片",
            "note-photos": SimpleUploadedFile("x.txt", b"hello world", "text/plain"),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(
        r'id="id_note-photos_error">Photo x.txt is not a JPEG, PNG, WebP or HEIC image', html
    )
    assert not CasePhoto.objects.exists()
    assert not case.events.filter(action="note").exists()


def test_a_dispatcher_escalates_a_case_to_the_next_tier(world, login, report):
    case = report(world.grid_a11)
    client = login("dispatcher")
    response = client.post(
        step(case.tracking_code, "escalate"),
        {"escalate-expected_version": case.version, "escalate-reason": "需要社区协调"},
        follow=True,
    )
    case.refresh_from_db()
    assert case.tier == "village" and case.escalations == 1
    html = response.content.decode()
    assert f"Case {case.tracking_code}: escalated" in messages_of(response)
    assert "tier Grid → Village/community" in html and "需要社区协调" in html


def test_the_case_page_shows_both_deadlines_and_how_late(world, login, report):
    u = world.users
    case = s.case_escalate(report(world.grid_a11), actor=u["dispatcher"], reason="需要社区协调")
    due = timezone.now() - datetime.timedelta(days=1, hours=2, minutes=1)
    Case.objects.filter(pk=case.pk).update(due_at=due)
    html = login("dispatcher").get(page(case.tracking_code)).content.decode()
    assert "badge overdue" in html
    facts = re.search(r'<dl class="facts">(.*?)</dl>', html, re.S).group(1)
    assert "Due date" in facts and "promised at intake" in facts
    assert "overdue by 1\xa0day, 2\xa0hours" in facts  # timesince: no-break spaces
    assert "Deadline at this tier" in facts and "escalated when it passes" in facts
    assert timezone.localtime(case.tier_due_at).strftime("%Y-%m-%d %H:%M") in facts

    for step, who, extra in (
        ("accept", "secretary", {}),
        ("start", "secretary", {}),
        ("handle", "secretary", {"note": "已协调"}),
        ("verify", "official", {}),
        ("close", "official", {}),
    ):
        s.run_action(u[who], Case.objects.get(pk=case.pk), step, extra)
    html = login("dispatcher").get(page(case.tracking_code)).content.decode()
    facts = re.search(r'<dl class="facts">(.*?)</dl>', html, re.S).group(1)
    assert "handled 1\xa0day, 2\xa0hours after the due date" in facts
    assert "Deadline at this tier" not in facts


def test_a_stale_page_is_refused_with_a_message(world, login, report):
    case = report(world.grid_a11)
    seen = case.version
    s.case_note(case, actor=world.users["secretary"], note="已电话回访")
    client = login("dispatcher")
    response = client.post(
        step(case.tracking_code, "accept"), {"accept-expected_version": seen}, follow=True
    )
    assert response.redirect_chain[-1][0] == page(case.tracking_code)
    assert messages_of(response) == [
        "Someone else changed this case meanwhile; reload it and try again"
    ]
    case.refresh_from_db()
    assert case.stage == Stage.REPORTED
    # The reloaded page carries the new version.
    assert f'name="accept-expected_version" value="{case.version}"' in response.content.decode()


def test_reject_without_a_reason_shows_the_error_next_to_the_field(world, login, report):
    case = report(world.grid_a11)
    response = login("dispatcher").post(
        step(case.tracking_code, "reject"), {"reject-expected_version": case.version}
    )
    assert response.status_code == 400
    html = response.content.decode()
    field = re.search(
        r'<div class="field has-error required">\s*<label for="id_reject-reason">.*?</div>',
        html,
        re.S,
    )
    assert field and 'id="id_reject-reason_error">This field is required.' in field.group(0)
    assert '<details class="step step-reject" id="step-reject" open>' in html
    assert Case.objects.get(pk=case.pk).stage == Stage.REPORTED

    response = login("dispatcher").post(
        step(case.tracking_code, "reject"),
        {"reject-expected_version": case.version, "reject-reason": "invalid"},
    )
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).stage == Stage.REJECTED


def test_a_refused_step_comes_back_as_a_message(world, login, report):
    case = report(world.grid_a11)
    response = login("worker").post(
        step(case.tracking_code, "close"), {"close-expected_version": case.version}, follow=True
    )
    assert messages_of(response) == ["A case that is reported cannot be closed"]
    assert Case.objects.get(pk=case.pk).stage == Stage.REPORTED
    assert login("worker").post(step(case.tracking_code, "fly"), {}).status_code == 404


def test_merge_needs_a_case_in_scope(world, login, report):
    main = report(world.grid_a11)
    duplicate = report(world.grid_a11)
    elsewhere = report(world.grid_b11)
    client = login("dispatcher")
    html = client.get(page(duplicate.tracking_code)).content.decode()
    listed = re.search(r'<ul class="duplicates">(.*?)</ul>', html, re.S).group(1)
    assert f'<a href="{page(main.tracking_code)}">{main.tracking_code}</a>' in listed
    response = client.post(
        step(duplicate.tracking_code, "merge"),
        {"merge-expected_version": duplicate.version, "merge-main": elsewhere.tracking_code},
    )
    assert response.status_code == 400
    assert 'id="id_merge-main_error">No case with this tracking code in your area' in (
        response.content.decode()
    )
    response = client.post(
        step(duplicate.tracking_code, "merge"),
        {"merge-expected_version": duplicate.version, "merge-main": main.tracking_code.lower()},
    )
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert (duplicate.stage, duplicate.merged_into) == (Stage.MERGED, main)
    html = client.get(page(main.tracking_code)).content.decode()
    assert "duplicate merged in" in html


def test_the_queue_costs_the_same_queries_for_more_rows(world, login, report):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login("dispatcher")
    for _ in range(2):
        report(world.grid_a11)
    client.get(QUEUE)  # warm the session and the caches
    with CaptureQueriesContext(connection) as few:
        client.get(QUEUE)
    for _ in range(4):
        report(world.grid_a12, urgent=True)
    with CaptureQueriesContext(connection) as more:
        response = client.get(QUEUE)
    assert len(codes_in(response.content.decode())) == 6
    assert len(more) == len(few)


def test_the_handlers_offered_are_who_may_handle_cases_in_one_query(world, login):
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grassroots.accounts.models import User
    from grassroots.web.console.cases_forms import handler_choices, handlers_in_scope

    dispatcher = world.users["dispatcher"]
    handle = Permission.objects.get(content_type__app_label="cases", codename="handle_case")
    granted = User.objects.create(username="granted", role="auditor", scope_code="350426100")
    granted.user_permissions.add(handle)
    grouped = User.objects.create(username="grouped", role="auditor", scope_code="350426100")
    group = Group.objects.create(name="handlers")
    group.permissions.add(handle)
    grouped.groups.add(group)
    User.objects.create(username="viewer", role="auditor", scope_code="350426100")
    User.objects.create(username="gone", role="town_official", scope_code="350426100",
                        is_active=False)  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        offered = handlers_in_scope(dispatcher)
    assert len(queries) == 1
    in_scope = User.objects.visible_to(dispatcher).filter(is_active=True).order_by("username")
    assert offered == handler_choices(in_scope)
    names = [name for name, _label in offered]
    assert {"granted", "grouped", "official", "worker"} <= set(names)
    assert not {"viewer", "gone", "outsider"} & set(names)
