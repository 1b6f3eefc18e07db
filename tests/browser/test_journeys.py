"""The main journeys end to end, in Chromium against a live server:

a resident submits a request on a phone and tracks it; the grid worker accepts it, adds
progress with a note and a photo, and marks it handled; a dispatcher escalates another request;
the town official's dashboard counts both; an official of another town cannot open them.
Screenshots at 390 px and 1440 px go to var/screenshots/journeys/.
"""

from __future__ import annotations

import base64
import re

import pytest
from django.utils import translation

from grassroots.cases.models import Case, Stage, Tier
from tests.cases.conftest import centre

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# A 1×1 PNG: what a phone camera sends, in miniature.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PHONE_NUMBER = "13912345678"


def submit_request(visitor, world, description):
    """The resident's part: the portal form with the browser's position, then the code."""
    lon, lat = centre(world.grid_a11)
    visitor.context.grant_permissions(["geolocation"])
    visitor.context.set_geolocation({"longitude": lon, "latitude": lat})
    visitor.go("/portal/")
    visitor.no_sideways_scroll()
    visitor.page.select_option("#id_category", "environment")
    visitor.page.fill("#id_description", description)
    visitor.page.click("button[data-locate]")
    visitor.page.wait_for_function("document.getElementById('id_lat').value !== ''", timeout=10_000)
    visitor.page.fill("#id_reporter_phone", PHONE_NUMBER)
    visitor.page.set_input_files(
        "input[type=file]", files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PNG}]
    )
    visitor.shot("1-resident-form")
    visitor.page.click("form.stack button[type=submit]")
    visitor.page.wait_for_selector("#tracking-code")
    code = visitor.page.inner_text("#tracking-code").strip()
    assert re.fullmatch(r"[A-Z2-9]{10}", code), code
    visitor.shot("2-resident-code")
    return code


def open_step(visitor, action):
    visitor.page.click(f"#step-{action} summary")


def test_a_request_goes_from_the_portal_to_the_dashboard(visit, world):
    # 1. A resident on a phone submits a request and gets a tracking code.
    resident = visit(width="phone")
    code = submit_request(resident, world, "小区门口路灯坏了一个星期，晚上很黑")
    case = Case.objects.get(tracking_code=code)
    assert case.channel == "portal" and case.grid == world.grid_a11 and case.photos.count() == 1

    # … and, another day on another phone, looks it up with the code and the phone number.
    resident = visit(width="phone")
    resident.go("/portal/track/")
    resident.page.fill("#id_tracking_code", code.lower())
    resident.page.fill("#id_phone", PHONE_NUMBER)
    resident.page.click("form.lookup button[type=submit]")
    resident.page.wait_for_selector(".timeline li")
    assert code in resident.page.content()
    steps_seen = resident.page.locator(".timeline li").count()
    resident.no_sideways_scroll()
    resident.shot("3-resident-tracks")
    resident.check_clean()

    # 2. The grid worker sees it among their tasks, accepts it, adds progress with a photo,
    #    and marks it handled — on a phone.
    worker = visit(world.users["worker"], width="phone")
    worker.go("/w/tasks/")
    assert code in worker.page.inner_text("main")
    worker.shot("4-worker-tasks")
    worker.page.click(f"a[href*='{code}']")
    worker.page.wait_for_selector("#step-accept")
    worker.no_sideways_scroll()
    worker.shot("5-worker-case")
    open_step(worker, "accept")
    worker.page.click("#step-accept button[type=submit]")
    worker.page.wait_for_selector("#step-handle, #step-start")
    if worker.page.locator("#step-start").count():
        open_step(worker, "start")
        worker.page.click("#step-start button[type=submit]")
        worker.page.wait_for_selector("#step-progress")
    open_step(worker, "progress")
    worker.page.fill("#id_progress-note", "已联系供电所，明天上午来换灯泡")
    worker.page.set_input_files(
        "#step-progress input[type=file]",
        files=[{"name": "repair.png", "mimeType": "image/png", "buffer": PNG}],
    )
    worker.page.click("#step-progress button[type=submit]")
    worker.page.wait_for_selector("#step-handle")
    assert "已联系供电所" in worker.page.inner_text("main")
    open_step(worker, "handle")
    worker.page.fill("#id_handle-note", "灯泡已更换，晚上亮了")
    worker.page.click("#step-handle button[type=submit]")
    worker.page.wait_for_load_state("load")
    case.refresh_from_db()
    assert case.stage == Stage.HANDLED and case.handled_tier == Tier.GRID
    assert case.photos.count() == 2
    worker.no_sideways_scroll()
    worker.shot("6-worker-handled")
    worker.check_clean()

    # The resident, still on the tracking page, sees the new steps after a reload.
    resident.go("/portal/track/")
    assert resident.page.locator(".timeline li").count() > steps_seen
    with translation.override("zh-hans"):
        assert str(Stage.HANDLED.label) in resident.page.inner_text("main")
    resident.shot("6-resident-sees-handled")

    # 3. A second request; the dispatcher escalates it to the village from the desktop console.
    other_code = submit_request(visit(width="desktop"), world, "河道里有人倾倒建筑垃圾，需要清理")
    dispatcher = visit(world.users["dispatcher"], width="desktop")
    dispatcher.go("/console/cases/")
    assert code in dispatcher.page.inner_text("main")
    assert other_code in dispatcher.page.inner_text("main")
    dispatcher.shot("7-dispatcher-queue")
    dispatcher.page.click(f"a[href*='{other_code}']")
    dispatcher.page.wait_for_selector("#step-escalate")
    open_step(dispatcher, "escalate")
    dispatcher.page.fill("#id_escalate-reason", "涉及多个村，需要社区协调")
    dispatcher.page.once("dialog", lambda dialog: dialog.accept())
    dispatcher.page.click("#step-escalate button[type=submit]")
    dispatcher.page.wait_for_load_state("load")
    other = Case.objects.get(tracking_code=other_code)
    assert other.tier == Tier.VILLAGE and other.escalations == 1
    assert "涉及多个村" in dispatcher.page.inner_text("main")
    dispatcher.shot("8-dispatcher-escalated")
    dispatcher.check_clean()

    # 4. The town official's dashboard counts both requests, one handled at grid tier.
    official = visit(world.users["official"], width="desktop")
    official.go("/console/")
    official.page.wait_for_selector("#chart-stage canvas")
    assert official.page.inner_text("#figure-received .value").strip() == "2"
    assert official.page.inner_text("#figure-open .value").strip() == "2"
    with translation.override("zh-hans"):
        handled_label = str(Stage.HANDLED.label)
    stage_rows = official.page.eval_on_selector_all(
        "#chart-stage-table tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))",
    )
    assert any(row[0] == handled_label and row[1] == "1" for row in stage_rows), stage_rows
    official.shot("9-official-dashboard")
    phone_official = visit(world.users["official"], width="phone")
    phone_official.go("/console/")
    phone_official.page.wait_for_selector("#chart-stage canvas")
    phone_official.no_sideways_scroll()
    phone_official.shot("9-official-dashboard")
    official.check_clean()

    # 5. An official of another town cannot open either case, nor find them in the queue.
    outsider = visit(world.users["outsider"], width="desktop")
    for tracking_code in (code, other_code):
        response = outsider.go(f"/console/cases/{tracking_code}/")
        assert response.status == 404
    outsider.shot("10-outsider-refused")
    outsider.go("/console/cases/?open=all")
    text = outsider.page.inner_text("main")
    assert code not in text and other_code not in text
    outsider.check_clean()
