"""The cases API: staff intake and steps, lists, indicators, and the public portal."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grassroots.accounts.models import ApiToken
from grassroots.cases import services as s
from grassroots.cases.models import Case, Stage
from tests.cases.conftest import centre

API = "/api/v1"
PHONE = "13912345678"


@pytest.fixture
def call(client: Any, world: Any) -> Any:
    tokens = {name: ApiToken.issue(user)[1] for name, user in world.users.items()}

    def make(persona: str | None, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Accept-Language": "en"}
        if persona:
            headers["Authorization"] = f"Bearer {tokens[persona]}"
        if method == "GET":
            return client.get(API + path, payload or {}, headers=headers)
        return client.post(
            API + path, json.dumps(payload or {}), content_type="application/json", headers=headers
        )

    return make


def _submit(call: Any, world: Any, **more: Any) -> Any:
    lon, lat = centre(world.grid_a11)
    payload = {
        "category": "environment",
        "description": "小区门口污水外溢",
        "lon": lon,
        "lat": lat,
        "reporter_phone": PHONE,
        **more,
    }
    return call(None, "POST", "/public/cases", payload)


def test_a_resident_submits_and_follows_a_request(call: Any, world: Any) -> None:
    response = _submit(call, world)
    assert response.status_code == 201, response.content
    data = response.json()
    code = data["tracking_code"]
    assert data["status"] == "open" and data["stage"] == "reported"
    assert data["timeline"][0]["action"] == "report"
    found = call(
        None, "POST", "/public/cases/lookup", {"tracking_code": code.lower(), "phone": PHONE}
    )
    assert found.status_code == 200 and found.json()["tracking_code"] == code
    wrong = call(
        None, "POST", "/public/cases/lookup", {"tracking_code": code, "phone": "13900000000"}
    )
    assert wrong.status_code == 404
    assert wrong.json() == {"detail": "No case with this tracking code and phone number"}
    assert PHONE not in found.content.decode()


def test_the_portal_names_bad_fields(call: Any, world: Any) -> None:
    response = _submit(call, world, category="nosuch", reporter_phone="")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "reporter_phone", "reason": "a phone number is needed to follow the case"}
    ]
    response = _submit(call, world, category="nosuch")
    assert response.status_code == 422
    assert {"field": "category", "reason": "Unknown category nosuch"} in response.json()["errors"]
    assert not Case.objects.exists()


def test_a_grid_worker_takes_a_case_through_the_api(call: Any, world: Any) -> None:
    code = _submit(call, world).json()["tracking_code"]
    listed = call(
        "worker", "GET", "/cases", {"grid": world.grid_a11.code, "open": "true", "sort": "due"}
    )
    assert [c["tracking_code"] for c in listed.json()["items"]] == [code]
    assert listed.json()["items"][0]["reporter_phone"] == "139****5678"
    detail = call("worker", "GET", f"/cases/{code}").json()
    assert detail["allowed_actions"] == ["accept", "reject", "escalate"]
    for action, payload in (("accept", {}), ("start", {}), ("handle", {"note": "已疏通"})):
        response = call("worker", "POST", f"/cases/{code}/actions/{action}", payload)
        assert response.status_code == 200, (action, response.content)
    assert response.json()["stage"] == "handled"
    refused = call("worker", "POST", f"/cases/{code}/actions/verify", {})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Your role lacks the permission cases.verify_case"}
    own = call("secretary", "POST", f"/cases/{code}/actions/close", {})
    assert own.status_code == 409
    assert own.json() == {"detail": "A case that is handled cannot be closed"}
    stale = call("secretary", "POST", f"/cases/{code}/actions/verify", {"expected_version": 1})
    assert stale.status_code == 409
    assert "Someone else changed this case" in stale.json()["detail"]


def test_the_reporter_rates_and_rejects_through_the_portal(call: Any, world: Any) -> None:
    code = _submit(call, world).json()["tracking_code"]
    case = Case.objects.get(tracking_code=code)
    u = world.users
    case = s.case_start(s.case_accept(case, actor=u["worker"]), actor=u["worker"])
    case = s.case_handle(case, actor=u["worker"], note="已处理")
    s.case_close(s.case_verify(case, actor=u["secretary"]), actor=u["secretary"])
    rated = call(
        None,
        "POST",
        "/public/cases/rating",
        {"tracking_code": code, "phone": PHONE, "rating": 2, "comment": "一般"},
    )
    assert rated.status_code == 200 and rated.json()["rating"] == 2
    assert rated.json()["can_reject"] is True
    again = call(
        None, "POST", "/public/cases/rating", {"tracking_code": code, "phone": PHONE, "rating": 5}
    )
    assert again.status_code == 409
    rejected = call(
        None,
        "POST",
        "/public/cases/reject",
        {"tracking_code": code, "phone": PHONE, "reason": "又堵了"},
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "open"
    assert Case.objects.get(tracking_code=code).reworks == 1


def test_an_outsider_sees_no_case_of_another_town(call: Any, world: Any) -> None:
    code = _submit(call, world).json()["tracking_code"]
    assert call("outsider", "GET", f"/cases/{code}").status_code == 404
    assert call("outsider", "GET", "/cases").json()["count"] == 0
    response = call("outsider", "POST", f"/cases/{code}/actions/accept", {})
    assert response.status_code == 404


def test_it_adds_photos_only_in_scope(
    client: Any, call: Any, world: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    code = _submit(call, world).json()["tracking_code"]
    case = Case.objects.get(tracking_code=code)
    s.case_start(s.case_accept(case, actor=world.users["worker"]), actor=world.users["worker"])

    def post(persona: str) -> Any:
        token = ApiToken.issue(world.users[persona])[1]
        photo = SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100, "image/jpeg")
        return client.post(
            f"{API}/cases/{code}/photos",
            {"note": "现场照片", "photos": [photo]},
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )

    assert post("outsider").status_code == 404
    response = post("worker")
    assert response.status_code == 200, response.content
    assert response.json()["timeline"][-1]["action"] == "progress"
    (url,) = response.json()["timeline"][-1]["photos"]
    photo = case.photos.get()
    assert url == f"/api/v1/cases/{code}/photos/{photo.pk}"

    def get(persona: str, path: str = url) -> Any:
        token = ApiToken.issue(world.users[persona])[1]
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    shown = get("secretary")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert b"".join(shown.streaming_content).startswith(b"\xff\xd8\xff")
    assert get("outsider").status_code == 404
    other = _submit(call, world).json()["tracking_code"]
    assert get("secretary", f"/api/v1/cases/{other}/photos/{photo.pk}").status_code == 404


def test_staff_report_cases_with_their_channel(call: Any, world: Any) -> None:
    lon, lat = centre(world.grid_a11)
    response = call(
        "worker",
        "POST",
        "/cases",
        {"category": "safety", "description": "电线裸露", "lon": lon, "lat": lat, "urgent": True},
    )
    assert response.status_code == 201, response.content
    assert response.json()["channel"] == "grid_worker" and response.json()["urgent"] is True
    response = call(
        "dispatcher",
        "POST",
        "/cases",
        {
            "category": "policy",
            "description": "咨询养老保险",
            "unit": "350426100",
            "reporter_phone": "13800001111",
        },
    )
    assert response.status_code == 201 and response.json()["channel"] == "hotline"
    assert response.json()["tier"] == "town"
    refused = call(
        "auditor",
        "POST",
        "/cases",
        {"category": "policy", "description": "咨询政策", "unit": "350426100"},
    )
    assert refused.status_code == 403


def test_the_indicators_stay_inside_the_callers_scope(call: Any, world: Any) -> None:
    _submit(call, world)
    mine = call("official", "GET", "/cases/stats", {"scope": "350426"}).json()
    assert mine["cases_total"] == 1
    other = call("outsider", "GET", "/cases/stats", {"scope": "350426"}).json()
    assert other["cases_total"] == 0
    bad = call("official", "GET", "/cases/stats", {"scope": "12"})
    assert bad.status_code == 422
    since = datetime.date.today().isoformat()
    assert call("official", "GET", "/cases/stats", {"since": since}).json()["cases_total"] == 1


def test_the_categories_are_public(call: Any, world: Any) -> None:
    data = call(None, "GET", "/case-categories").json()
    codes = [c["code"] for c in data]
    assert codes == [
        "policy",
        "assistance",
        "environment",
        "dispute",
        "safety",
        "facilities",
        "enterprise",
        "other",
    ]
    safety = data[4]
    assert safety["name"] == "安全隐患" and safety["urgent_hours"]["grid"] == 2
    assert Stage.REPORTED == "reported"


def test_a_dispatcher_lists_the_towns_own_queue(call: Any, world: Any) -> None:
    _submit(call, world)  # placed in a grid
    queued = call(
        None,
        "POST",
        "/public/cases",
        {
            "category": "policy",
            "description": "咨询退休手续办理",
            "unit": "350426100",
            "reporter_phone": PHONE,
            "enterprise": True,
        },
    )
    assert queued.status_code == 201
    listed = call("dispatcher", "GET", "/cases", {"queue": "350426100"}).json()
    assert [c["tracking_code"] for c in listed["items"]] == [queued.json()["tracking_code"]]
    case = Case.objects.get(tracking_code=queued.json()["tracking_code"])
    assert case.events.get().data == {"channel": "portal", "reporter": "enterprise"}
    assert call("dispatcher", "GET", "/cases", {"queue": "35"}).status_code == 422


def test_the_portal_slows_down_one_address_that_asks_too_often(
    call: Any, world: Any, settings: Any
) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.PORTAL_RATE = "3/m"
    asks = [
        call(None, "POST", "/public/cases/lookup", {"tracking_code": "ABCDEFGHJK", "phone": PHONE})
        for _ in range(4)
    ]
    assert [a.status_code for a in asks] == [404, 404, 404, 429]
    assert "detail" in asks[-1].json()
    cache.clear()


def test_the_portal_limit_holds_across_processes(call: Any, world: Any, settings: Any) -> None:
    from django.core.cache import cache

    settings.PORTAL_RATE = "3/m"
    asks = []
    for _ in range(4):
        # Each look-up as if another worker process took it: no cache is shared.
        cache.clear()
        asks.append(
            call(
                None,
                "POST",
                "/public/cases/lookup",
                {"tracking_code": "ABCDEFGHJK", "phone": PHONE},
            )
        )
    assert [a.status_code for a in asks] == [404, 404, 404, 429]
    assert asks[-1].json() == {"detail": "Too many requests."}
    assert 1 <= int(asks[-1]["Retry-After"]) <= 60


def _merged_pair(call: Any, world: Any) -> tuple[Case, Case]:
    """The main case (张三's, with his address and phone) and a duplicate reported with PHONE."""
    main = Case.objects.get(
        tracking_code=_submit(
            call,
            world,
            description="张三家门口污水外溢，电话13800138000",
            address="水东路12号",
            reporter_name="张三",
            reporter_phone="13800138000",
        ).json()["tracking_code"]
    )
    dup = Case.objects.get(tracking_code=_submit(call, world).json()["tracking_code"])
    s.case_merge(dup, actor=world.users["dispatcher"], main=main, note="同一处")
    return main, dup


def test_a_merged_request_shows_its_own_report_and_the_mains_status_only(
    call: Any, world: Any
) -> None:
    main, dup = _merged_pair(call, world)
    found = call(
        None, "POST", "/public/cases/lookup", {"tracking_code": dup.tracking_code, "phone": PHONE}
    )
    assert found.status_code == 200
    data = found.json()
    assert data["tracking_code"] == dup.tracking_code
    assert data["description"] == "小区门口污水外溢"
    assert data["stage"] == "merged" and data["can_rate"] is False and data["can_reject"] is False
    assert data["merged_into"] == {
        "tracking_code": main.tracking_code,
        "stage": "reported",
        "stage_label": "Reported",
        "status": "open",
        "closed_at": None,
    }
    text = found.content.decode()
    for other in ("张三", "13800138000", "138****8000", "水东路12号", "张三家门口"):
        assert other not in text


def test_the_reporter_of_a_merged_request_rates_only_their_own(call: Any, world: Any) -> None:
    main, dup = _merged_pair(call, world)
    ask = {"tracking_code": dup.tracking_code, "phone": PHONE}
    early = call(None, "POST", "/public/cases/rating", {**ask, "rating": 5})
    assert early.status_code == 409
    assert early.json() == {
        "detail": "A merged request can be rated once, after the request it joined is closed"
    }
    u = world.users
    case = s.case_start(s.case_accept(main, actor=u["worker"]), actor=u["worker"])
    case = s.case_handle(case, actor=u["worker"], note="已疏通")
    s.case_close(s.case_verify(case, actor=u["secretary"]), actor=u["secretary"])
    looked = call(None, "POST", "/public/cases/lookup", ask).json()
    assert looked["can_rate"] is True and looked["merged_into"]["status"] == "closed"
    rated = call(None, "POST", "/public/cases/rating", {**ask, "rating": 2, "comment": "慢"})
    assert rated.status_code == 200
    assert rated.json()["rating"] == 2 and rated.json()["stage"] == "merged"
    assert rated.json()["can_rate"] is False
    dup.refresh_from_db()
    main.refresh_from_db()
    assert (dup.stage, dup.rating, dup.rating_comment) == (Stage.MERGED, 2, "慢")
    # The main case is its own reporter's to rate and to reopen.
    assert (main.stage, main.rating) == (Stage.CLOSED, None)
    again = call(None, "POST", "/public/cases/rating", {**ask, "rating": 5})
    assert again.status_code == 409
    reopened = call(None, "POST", "/public/cases/reject", {**ask, "reason": "还是有污水"})
    assert reopened.status_code == 409
    assert reopened.json() == {
        "detail": "A case that is merged into another case cannot be reopened"
    }
    main.refresh_from_db()
    assert main.stage == Stage.CLOSED and main.reworks == 0


def test_the_portal_masks_numbers_in_any_spelling(call: Any, world: Any) -> None:
    code = _submit(
        call, world, description="请回电 １３９ １２３４ ５６７８，身份证 350426-19800101-001X"
    ).json()["tracking_code"]
    case = Case.objects.get(tracking_code=code)
    u = world.users
    case = s.case_start(s.case_accept(case, actor=u["worker"]), actor=u["worker"])
    s.case_handle(case, actor=u["worker"], note="已联系 138-0013-8000 处理完毕")
    found = call(None, "POST", "/public/cases/lookup", {"tracking_code": code, "phone": PHONE})
    data = found.json()
    assert data["description"] == "请回电 139****5678，身份证 3504**********001X"
    handled = next(step for step in data["timeline"] if step["action"] == "handle")
    assert handled["note"] == "已联系 138****8000 处理完毕"
