"""Open311 GeoReport v2: every resource in JSON and XML, the filters and window, the errors."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from grassroots.cases.models import Case, CasePhoto, Category
from grassroots.cases.open311 import views
from grassroots.cases.open311.keys import key_issue
from tests import factories as f
from tests.cases import factories as cf

BASE = "/open311/v2"


def get(client: Client, path: str, **params: Any) -> Any:
    return client.get(f"{BASE}/{path}", params, headers={"Accept-Language": "en"})


def as_json(response: Any) -> Any:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def as_xml(response: Any) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(response.content)


def xml_requests(root: ET.Element) -> list[dict[str, str]]:
    assert root.tag == "service_requests"
    return [{child.tag: child.text or "" for child in req} for req in root.findall("request")]


def error_descriptions(response: Any, status: int) -> list[str]:
    """The specification's error list, checked in whichever format came back."""
    assert response.status_code == status
    if response["Content-Type"].startswith("text/xml"):
        root = as_xml(response)
        assert root.tag == "errors"
        items = [
            {"code": int(e.findtext("code") or 0), "description": e.findtext("description")}
            for e in root.findall("error")
        ]
    else:
        items = as_json(response)
    assert items and all(item["code"] == status for item in items)
    return [item["description"] for item in items]


def seconds(value: datetime.datetime) -> datetime.datetime:
    return value.replace(microsecond=0)


def parse_w3c(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text)
    assert value.tzinfo is not None, text
    return value


@pytest.fixture
def cases(world: Any) -> dict[str, Case]:
    """Cases of several stages, kinds and ages across the county."""
    now = timezone.now()
    lamp = cf.case(
        world.grid_a11,
        description="路灯坏了，请联系13912345678，身份证350426198001010012",
        lon=118.1234567,
        lat=26.1011,
        reported_at=now - datetime.timedelta(days=2),
        address="水东路12号",
        reporter_name="张三",
        reporter_phone="13800138000",
        reporter_email="zhang@example.com",
    )
    CasePhoto.objects.create(case=lamp, url="https://img.example.com/lamp.jpg")
    queue = cf.case(
        unit=world.county,
        category="safety",
        tier="county",
        description="桥上栏杆松动",
        address="城关大桥",
        reported_at=now - datetime.timedelta(days=1),
    )
    dispute = cf.case(
        world.grid_a12,
        category="dispute",
        description="邻居王五占用通道",
        address="西门街3号",
        reported_at=now - datetime.timedelta(hours=5),
    )
    rejected = cf.case(
        world.grid_a21,
        description="重复上报的垃圾",
        stage="rejected",
        reject_reason="duplicate",
        is_open=False,
        reported_at=now - datetime.timedelta(days=3),
    )
    closed = cf.case(
        world.grid_b11,
        stage="closed",
        is_open=False,
        closed_on_time=True,
        tier="village",
        reported_at=now - datetime.timedelta(days=10),
    )
    old = cf.case(world.grid_a11, reported_at=now - datetime.timedelta(days=120))
    return {
        "lamp": lamp,
        "queue": queue,
        "dispute": dispute,
        "rejected": rejected,
        "closed": closed,
        "old": old,
    }


# --- discovery and services -------------------------------------------------------------------


def test_it_describes_itself_in_discovery(client: Client, world: Any) -> None:
    body = as_json(get(client, "discovery.json"))
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert body["jurisdictions"] == [{"jurisdiction_id": "350426", "name": "尤溪县"}]
    parse_w3c(body["changeset"])

    root = as_xml(get(client, "discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2"
    assert [e.text for e in root.findall("endpoints/endpoint/formats/format")] == [
        "application/json",
        "text/xml",
    ]
    assert root.findtext("jurisdictions/jurisdiction/jurisdiction_id") == "350426"


def test_it_lists_active_categories_as_services(client: Client, world: Any) -> None:
    Category.objects.filter(code="other").update(active=False)
    services = as_json(get(client, "services.json"))
    codes = [s["service_code"] for s in services]
    assert codes == [
        "policy",
        "assistance",
        "environment",
        "dispute",
        "safety",
        "facilities",
        "enterprise",
    ]
    env = services[2]
    assert env["service_name"] == "Environment and sanitation"
    assert env["metadata"] is False
    assert env["type"] == "realtime"
    assert env["group"] == "General request"
    assert "环境卫生" in env["keywords"] and "environment" in env["keywords"]
    assert env["description"] == (
        "First handled at the grid tier within 2 working days (urgent: 4 hours (urgent))"
    )
    assert services[3]["group"] == "Dispute mediation"

    root = as_xml(get(client, "services.xml"))
    assert root.tag == "services"
    xml_services = root.findall("service")
    assert [s.findtext("service_code") for s in xml_services] == codes
    assert xml_services[2].findtext("metadata") == "false"
    assert xml_services[2].findtext("service_name") == "Environment and sanitation"


def test_it_names_services_in_the_language_asked(client: Client, world: Any) -> None:
    by_header = client.get(f"{BASE}/services.json", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert as_json(by_header)[2]["service_name"] == "环境卫生"
    by_locale = get(client, "services.json", locale="zh_CN")
    assert as_json(by_locale)[2]["service_name"] == "环境卫生"
    english = client.get(f"{BASE}/services.json", {"locale": "en_US"})
    assert as_json(english)[2]["service_name"] == "Environment and sanitation"


def test_it_defines_a_service(client: Client, world: Any) -> None:
    body = as_json(get(client, "services/safety.json"))
    assert body == {"service_code": "safety", "attributes": []}
    root = as_xml(get(client, "services/safety.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "safety"


def test_it_answers_404_for_an_unknown_or_inactive_service(client: Client, world: Any) -> None:
    Category.objects.filter(code="other").update(active=False)
    for path in ("services/nosuch.json", "services/other.json"):
        (message,) = error_descriptions(get(client, path), 404)
        assert "was not found" in message
    (message,) = error_descriptions(get(client, "services/nosuch.xml"), 404)
    assert message == "service_code nosuch was not found"


# --- reading requests -------------------------------------------------------------------------


def test_it_lists_recent_requests_newest_first(client: Client, cases: dict[str, Case]) -> None:
    body = as_json(get(client, "requests.json"))
    ids = [r["service_request_id"] for r in body]
    assert ids == [
        cases[k].tracking_code for k in ("dispute", "queue", "lamp", "rejected", "closed")
    ]
    assert all(isinstance(r["service_request_id"], str) for r in body)
    lamp = body[2]
    assert lamp["status"] == "open"
    assert lamp["status_notes"] == "Reported"
    assert lamp["service_code"] == "environment"
    assert lamp["service_name"] == "Environment and sanitation"
    assert lamp["agency_responsible"] == "水东一网格"
    # A coarse place: the grid, and the point at the centre of its cell of 0.002 degrees.
    assert lamp["address"] == "水东一网格"
    assert (lamp["long"], lamp["lat"]) == (118.123, 26.101)
    assert lamp["description"] is None
    assert lamp["media_url"] == "https://img.example.com/lamp.jpg"
    assert lamp["service_notice"] == "Time limit at the grid tier: 2 working days"
    assert parse_w3c(lamp["requested_datetime"]) == seconds(cases["lamp"].reported_at)
    assert parse_w3c(lamp["expected_datetime"]) == seconds(cases["lamp"].due_at)
    assert parse_w3c(lamp["updated_datetime"]) <= timezone.now()
    assert lamp["requested_datetime"].endswith("+08:00")


def test_it_shows_no_personal_data(client: Client, cases: dict[str, Case]) -> None:
    response = get(client, "requests.json")
    text = response.content.decode()
    for secret in ("张三", "13800138000", "zhang@example.com", "reporter"):
        assert secret not in text
    # Nor the reporters' words, which hold names and numbers in any spelling, nor the typed
    # addresses, nor an exact point.
    for words in ("路灯坏了", "13912345678", "139****5678", "350426198001010012", "桥上栏杆"):
        assert words not in text
    for address in ("水东路12号", "城关大桥", "西门街3号"):
        assert address not in text
    assert all(r["description"] is None for r in as_json(response))
    assert "118.1234567" not in text and "26.1011" not in text
    xml = get(client, "requests.xml").content.decode()
    assert "路灯坏了" not in xml and "水东路12号" not in xml and "118.1234567" not in xml


def test_it_snaps_points_to_the_centre_of_their_cell() -> None:
    assert views._snapped(None) is None
    assert views._snapped(118.1234567) == 118.123
    assert views._snapped(118.1239999) == 118.123
    assert views._snapped(118.1240001) == 118.125
    assert views._snapped(-0.0001) == -0.001


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=73.0, max_value=136.0, allow_nan=False))
def test_a_snapped_point_tells_only_its_cell(value: float) -> None:
    snapped = views._snapped(value)
    assert snapped is not None
    assert abs(snapped - value) <= views.SNAP_DEGREES / 2 + 1e-9
    # Every point of the cell gives the same answer.
    assert views._snapped(snapped - views.SNAP_DEGREES * 0.49) == snapped
    assert views._snapped(snapped + views.SNAP_DEGREES * 0.49) == snapped


def test_it_keeps_mediation_content_inside(client: Client, cases: dict[str, Case]) -> None:
    dispute = as_json(get(client, f"requests/{cases['dispute'].tracking_code}.json"))[0]
    assert dispute["status"] == "open"
    assert dispute["service_code"] == "dispute"
    assert dispute["description"] is None
    assert dispute["address"] is None
    assert dispute["lat"] is None and dispute["long"] is None
    assert "王五" not in json.dumps(dispute, ensure_ascii=False)


def test_it_maps_stages_to_open_and_closed(client: Client, cases: dict[str, Case]) -> None:
    body = {r["service_request_id"]: r for r in as_json(get(client, "requests.json"))}
    rejected = body[cases["rejected"].tracking_code]
    assert rejected["status"] == "closed"
    assert rejected["status_notes"] == "Rejected: duplicate"
    assert rejected["expected_datetime"] is None
    closed = body[cases["closed"].tracking_code]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "Closed"
    assert closed["service_notice"] == "Closed on time"
    assert closed["agency_responsible"] == "半山村"  # village tier: the village


def test_it_names_the_department_at_county_tier(client: Client, cases: dict[str, Case]) -> None:
    queue = as_json(get(client, f"requests/{cases['queue'].tracking_code}.json"))[0]
    assert queue["agency_responsible"] == "县应急管理局"
    # In the county's queue, without a point: the county is its place.
    assert queue["lat"] is None and queue["address"] == "尤溪县"


def test_it_notes_where_a_merged_case_went(client: Client, cases: dict[str, Case]) -> None:
    Case.objects.filter(pk=cases["dispute"].pk).update(
        stage="merged", is_open=False, merged_into=cases["lamp"]
    )
    merged = as_json(get(client, f"requests/{cases['dispute'].tracking_code}.json"))[0]
    assert merged["status"] == "closed"
    assert merged["status_notes"] == f"Merged into request {cases['lamp'].tracking_code}"


def test_it_lists_requests_in_xml(client: Client, cases: dict[str, Case]) -> None:
    requests = xml_requests(as_xml(get(client, "requests.xml")))
    assert [r["service_request_id"] for r in requests] == [
        cases[k].tracking_code for k in ("dispute", "queue", "lamp", "rejected", "closed")
    ]
    lamp = requests[2]
    assert lamp["status"] == "open"
    assert lamp["agency_responsible"] == "水东一网格"
    assert lamp["address"] == "水东一网格" and lamp["description"] == ""
    assert float(lamp["lat"]) == 26.101
    assert parse_w3c(lamp["requested_datetime"]) == seconds(cases["lamp"].reported_at)
    assert lamp["media_url"] == "https://img.example.com/lamp.jpg"
    assert requests[3]["status"] == "closed"
    assert requests[3]["expected_datetime"] == ""
    assert "13800138000" not in get(client, "requests.xml").content.decode()


def test_it_filters_by_status(client: Client, cases: dict[str, Case]) -> None:
    open_ = {r["service_request_id"] for r in as_json(get(client, "requests.json", status="open"))}
    assert open_ == {cases[k].tracking_code for k in ("dispute", "queue", "lamp")}
    closed = as_json(get(client, "requests.json", status="closed"))
    assert {r["service_request_id"] for r in closed} == {
        cases["rejected"].tracking_code,
        cases["closed"].tracking_code,
    }
    assert len(as_json(get(client, "requests.json", status="open,closed"))) == 5
    (message,) = error_descriptions(get(client, "requests.json", status="pending"), 400)
    assert message == "status must be open or closed, not pending"


def test_it_filters_by_service_code(client: Client, cases: dict[str, Case]) -> None:
    body = as_json(get(client, "requests.json", service_code="safety,dispute"))
    assert {r["service_code"] for r in body} == {"safety", "dispute"}
    (message,) = error_descriptions(get(client, "requests.xml", service_code="potholes"), 400)
    assert message == "service_code potholes is not a known service"


def test_it_answers_several_ids_at_once(client: Client, cases: dict[str, Case]) -> None:
    wanted = [cases["lamp"].tracking_code, cases["old"].tracking_code]
    body = as_json(get(client, "requests.json", service_request_id=",".join(wanted)))
    # The ids override the window: the 120-day-old case is there too.
    assert [r["service_request_id"] for r in body] == wanted
    root = as_xml(get(client, "requests.xml", service_request_id=" , ".join(wanted)))
    assert [r["service_request_id"] for r in xml_requests(root)] == wanted


def test_the_default_window_is_the_last_90_days(client: Client, cases: dict[str, Case]) -> None:
    ids = {r["service_request_id"] for r in as_json(get(client, "requests.json"))}
    assert cases["old"].tracking_code not in ids
    old_at = cases["old"].reported_at
    within = as_json(
        get(
            client,
            "requests.json",
            start_date=(old_at - datetime.timedelta(days=1)).isoformat(),
            end_date=(old_at + datetime.timedelta(days=1)).isoformat(),
        )
    )
    assert [r["service_request_id"] for r in within] == [cases["old"].tracking_code]
    # One end given: 90 days from it.
    after = as_json(
        get(client, "requests.json", start_date=(old_at - datetime.timedelta(days=1)).isoformat())
    )
    assert [r["service_request_id"] for r in after] == [cases["old"].tracking_code]


def test_dates_with_offset_or_z_or_none(client: Client, cases: dict[str, Case]) -> None:
    lamp_day = timezone.localtime(cases["lamp"].reported_at)
    start = lamp_day - datetime.timedelta(hours=1)
    end = lamp_day + datetime.timedelta(hours=1)
    variants = [
        (start.isoformat(), end.isoformat()),
        (
            start.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            end.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
        (start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")),
    ]
    for s, e in variants:
        body = as_json(get(client, "requests.json", start_date=s, end_date=e))
        assert [r["service_request_id"] for r in body] == [cases["lamp"].tracking_code], (s, e)
    # "+08:00" sent without URL encoding arrives as " 08:00".
    raw = client.get(
        f"{BASE}/requests.json?start_date={start.isoformat()}&end_date={end.isoformat()}"
    )
    assert [r["service_request_id"] for r in as_json(raw)] == [cases["lamp"].tracking_code]


def test_it_refuses_bad_dates_naming_the_parameter(client: Client, world: Any) -> None:
    (message,) = error_descriptions(get(client, "requests.json", start_date="yesterday"), 400)
    assert message == (
        "start_date: yesterday is not a W3C date and time such as 2026-05-01T08:00:00+08:00"
    )
    messages = error_descriptions(
        get(client, "requests.xml", start_date="2026-13-01", end_date="2026-02-30"), 400
    )
    assert [m.split(":")[0] for m in messages] == ["start_date", "end_date"]
    (message,) = error_descriptions(
        get(client, "requests.json", start_date="2026-01-01", end_date="2026-06-01"), 400
    )
    assert message == "start_date and end_date may not span more than 90 days"
    (message,) = error_descriptions(
        get(client, "requests.json", start_date="2026-03-01", end_date="2026-02-01"), 400
    )
    assert message == "end_date lies before start_date"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_the_date_parser_answers_a_datetime_or_a_400(text: str) -> None:
    from django.http import QueryDict

    params = QueryDict(mutable=True)
    params["end_date"] = text
    try:
        value = views.parse_w3c(params, "end_date")
    except views.Open311Error as exc:
        assert exc.status == 400
        assert exc.descriptions[0].startswith("end_date: ")
    else:
        assert value is None or value.tzinfo is not None


def test_it_answers_at_most_1000_requests(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    template = cf.case(world.grid_a11)
    now = timezone.now()
    rows = []
    for i in range(1005):
        at = now - datetime.timedelta(minutes=i + 1)
        rows.append(
            Case(
                tracking_code=f"B{i:09d}",
                kind=template.kind,
                category_id=template.category_id,
                channel="portal",
                description=f"第{i}号",
                unit_id=template.unit_id,
                grid_id=template.grid_id,
                scope_code=template.scope_code,
                tier="grid",
                tier_started_at=at,
                due_at=at + datetime.timedelta(days=3),
                tier_due_at=at + datetime.timedelta(days=3),
                reported_at=at,
                reported_on=timezone.localdate(at),
            )
        )
    Case.objects.bulk_create(rows)
    with django_assert_max_num_queries(6):
        body = as_json(get(client, "requests.json"))
    assert len(body) == 1000
    assert body[0]["service_request_id"] == template.tracking_code
    assert body[1]["service_request_id"] == "B000000000"
    assert body[-1]["service_request_id"] == "B000000998"


def test_it_answers_one_request(client: Client, cases: dict[str, Case]) -> None:
    code = cases["lamp"].tracking_code
    (one,) = as_json(get(client, f"requests/{code}.json"))
    assert one["service_request_id"] == code
    assert one["status"] == "open"
    (xml_one,) = xml_requests(as_xml(get(client, f"requests/{code}.xml")))
    assert xml_one["service_request_id"] == code
    assert xml_one["agency_responsible"] == "水东一网格"
    # Tracking codes are read case-insensitively, as on the portal.
    assert as_json(get(client, f"requests/{code.lower()}.json"))[0]["service_request_id"] == code


def test_it_answers_404_for_an_unknown_request(client: Client, world: Any) -> None:
    (message,) = error_descriptions(get(client, "requests/NOSUCH.json"), 404)
    assert message == "service_request_id NOSUCH was not found"
    (message,) = error_descriptions(get(client, "requests/NOSUCH.xml"), 404)
    assert message == "service_request_id NOSUCH was not found"
    error_descriptions(get(client, "tokens/NOSUCH.xml"), 404)


def test_a_token_answers_its_request_id(client: Client, cases: dict[str, Case]) -> None:
    code = cases["lamp"].tracking_code
    assert as_json(get(client, f"tokens/{code}.json")) == [
        {"service_request_id": code, "token": code}
    ]
    (item,) = xml_requests(as_xml(get(client, f"tokens/{code}.xml")))
    assert item == {"service_request_id": code, "token": code}


def test_unknown_formats_and_paths_answer_404(client: Client, world: Any) -> None:
    for path in ("services.html", "requests.csv", "discovery", "services", "nothing.json", ""):
        (message,) = error_descriptions(get(client, path), 404)
        assert ".json or .xml" in message, path


def test_a_wrong_method_answers_405(client: Client, world: Any) -> None:
    response = client.post(f"{BASE}/services.xml", headers={"Accept-Language": "en"})
    (message,) = error_descriptions(response, 405)
    assert message == "Method POST is not allowed here"
    assert response["Allow"] == "GET, HEAD"
    head = client.head(f"{BASE}/services.json")
    assert head.status_code == 200 and head.content == b""


def test_jurisdictions(client: Client, cases: dict[str, Case]) -> None:
    (message,) = error_descriptions(get(client, "services.json", jurisdiction_id="110101"), 400)
    assert message == "jurisdiction_id 110101 is not served here"
    assert len(as_json(get(client, "requests.json", jurisdiction_id="350426"))) == 5
    # A second county: the jurisdiction must be named, and each sees only its own requests.
    other = f.unit("350427", "沙县")
    f.unit("350427100", "凤岗街道")
    f.unit("350427100001", "府西社区", "community")
    other_grid = f.grid("350427100001001", 117.80, 26.40)
    theirs = cf.case(other_grid)
    (message,) = error_descriptions(get(client, "requests.json"), 400)
    assert message == "jurisdiction_id is required: this endpoint serves several counties"
    ours = as_json(get(client, "requests.json", jurisdiction_id="350426"))
    assert theirs.tracking_code not in {r["service_request_id"] for r in ours}
    assert [
        r["service_request_id"]
        for r in as_json(get(client, "requests.json", jurisdiction_id=other.code))
    ] == [theirs.tracking_code]
    error_descriptions(
        get(client, f"requests/{theirs.tracking_code}.json", jurisdiction_id="350426"), 404
    )
    body = as_json(get(client, "discovery.json"))
    assert [j["jurisdiction_id"] for j in body["jurisdictions"]] == ["350426", "350427"]


def test_xml_is_well_formed_whatever_the_text(client: Client, world: Any) -> None:
    from grassroots.territory.models import Grid

    Grid.objects.filter(pk=world.grid_a11.pk).update(name='<b>&amp; "引号" ]]> \x0b end')
    weird = cf.case(world.grid_a11)
    body = get(client, f"requests/{weird.tracking_code}.xml").content
    (item,) = xml_requests(ET.fromstring(body))
    assert item["address"] == '<b>&amp; "引号" ]]>  end'


# --- creating requests ------------------------------------------------------------------------


@pytest.fixture
def api_key(world: Any) -> str:
    return key_issue(name="fixmystreet")[1]


def post(client: Client, fmt: str = "json", **data: Any) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data, headers={"Accept-Language": "en"})


def test_it_creates_a_request_at_a_point(client: Client, world: Any, api_key: str) -> None:
    response = post(
        client,
        api_key=api_key,
        jurisdiction_id="350426",
        service_code="environment",
        lat="26.105",
        long="118.105",
        description="垃圾桶满了，三天没人清",
        email="li@example.com",
        phone="13900001111",
        first_name="四",
        last_name="李",
        media_url="https://img.example.com/bin.jpg",
        address_string="水东路1号",
    )
    assert response.status_code == 200
    (item,) = as_json(response)
    assert set(item) == {"service_request_id", "service_notice", "account_id"}
    assert item["account_id"] is None
    case = Case.objects.get(tracking_code=item["service_request_id"])
    assert case.channel == "open311"
    assert case.grid == world.grid_a11
    assert (case.lon, case.lat) == (118.105, 26.105)
    assert case.address == "水东路1号"
    assert case.reporter_name == "李四"
    assert case.reporter_phone == "13900001111"
    assert case.reporter_email == "li@example.com"
    assert [p.url for p in case.photos.all()] == ["https://img.example.com/bin.jpg"]
    assert item["service_notice"] == (
        f"Received as case {case.tracking_code}. 水东一网格 handles it; time limit 2 working"
        " days. The reporter follows it on the portal with this code and their phone number."
    )
    # The client is named in the audit trail.
    from grassroots.audit.models import Event

    event = Event.objects.get(object_type="cases.case", object_id=str(case.pk))
    assert event.actor_name == "open311:fixmystreet"


def test_an_address_alone_goes_to_the_county_queue(
    client: Client, world: Any, api_key: str
) -> None:
    (item,) = as_json(
        post(
            client,
            api_key=api_key,
            service_code="safety",
            address_string="城关大桥北侧",
            description="桥上栏杆松动，有危险",
        )
    )
    case = Case.objects.get(tracking_code=item["service_request_id"])
    assert case.grid is None
    assert case.unit == world.county
    assert case.tier == "county"
    assert "县应急管理局 handles it" in item["service_notice"]


def test_it_refuses_without_a_valid_key(client: Client, world: Any, api_key: str) -> None:
    data = {"service_code": "environment", "address_string": "某处", "description": "有垃圾堆放"}
    (message,) = error_descriptions(post(client, **data), 403)
    assert message == "api_key is required to create a service request"
    (message,) = error_descriptions(post(client, "xml", api_key="o311_guess", **data), 403)
    assert message == "Invalid api_key received: unknown or revoked"
    from grassroots.cases.open311.keys import key_revoke

    key_revoke(name="fixmystreet")
    (message,) = error_descriptions(post(client, api_key=api_key, **data), 403)
    assert message == "Invalid api_key received: unknown or revoked"
    assert not Case.objects.exists()


def test_it_lists_every_missing_parameter(client: Client, world: Any, api_key: str) -> None:
    messages = error_descriptions(post(client, "xml", api_key=api_key), 400)
    assert messages == [
        "service_code is required",
        "description is required",
        "A location is required: lat and long, or address_string",
    ]
    messages = error_descriptions(
        post(
            client,
            api_key=api_key,
            service_code="potholes",
            description="x" * 4001,
            lat="26.1",
            phone="12345",
        ),
        400,
    )
    assert messages[:2] == [
        "service_code potholes is not a known service",
        "description: at most 4,000 characters",
    ]
    assert "long: Give both longitude and latitude" in messages
    assert "phone: Mobile number must be 11 digits starting with 13 to 19" in messages
    assert not Case.objects.exists()


def test_intake_errors_name_the_open311_parameter(client: Client, world: Any, api_key: str) -> None:
    messages = error_descriptions(
        post(
            client,
            api_key=api_key,
            service_code="environment",
            description="垃圾堆放",
            lat="95",
            long="118.1",
            email="not-an-email",
            media_url="ftp://example.com/x.jpg",
        ),
        400,
    )
    assert sorted(messages) == [
        "email: Not an email address",
        "lat: lat 95 lies outside China",
        "media_url: Not a web address: ftp://example.com/x.jpg",
    ]
    assert not Case.objects.exists()


def test_a_repeated_report_opens_no_second_case(client: Client, world: Any, api_key: str) -> None:
    data = {
        "api_key": api_key,
        "service_code": "environment",
        "address_string": "水东路5号",
        "description": "污水横流",
        "attribute[fixmystreet_id]": "4711",
        "attribute[title]": "污水",
    }
    (first,) = as_json(post(client, **data))
    (again,) = as_json(post(client, **data))
    assert again["service_request_id"] == first["service_request_id"]
    assert again["service_notice"] == f"Already received as case {first['service_request_id']}."
    assert Case.objects.count() == 1
    # Another client's id 4711 is another report.
    other = key_issue(name="other-app")[1]
    (theirs,) = as_json(post(client, **{**data, "api_key": other}))
    assert theirs["service_request_id"] != first["service_request_id"]
    assert Case.objects.count() == 2


def test_the_post_needs_no_csrf_token(world: Any, api_key: str) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        f"{BASE}/requests.json",
        {
            "api_key": api_key,
            "service_code": "policy",
            "address_string": "县政府",
            "description": "低保怎么申请？",
        },
    )
    assert response.status_code == 200
    assert Case.objects.filter(tracking_code=as_json(response)[0]["service_request_id"]).exists()


# --- keys: only in the POST body, limited, never logged ---------------------------------------

REPORT = {"service_code": "environment", "address_string": "水东路5号", "description": "污水横流"}


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_a_key_in_the_address_and_does_nothing(
    client: Client, world: Any, api_key: str, method: str
) -> None:
    if method == "post":
        response = client.post(
            f"{BASE}/requests.json?api_key={api_key}", REPORT, headers={"Accept-Language": "en"}
        )
    else:
        response = get(client, "requests.xml", api_key=api_key)
    (message,) = error_descriptions(response, 400)
    assert message == (
        "api_key may not be sent in the address, where logs keep it: send it in the body of the "
        "POST. Consider this key exposed and ask for a new one."
    )
    assert api_key not in response.content.decode()
    assert not Case.objects.exists()


def test_it_never_writes_a_key_to_a_log(
    client: Client, world: Any, api_key: str, caplog: Any, monkeypatch: Any, settings: Any
) -> None:
    import logging

    from django.core import mail

    from grassroots.cases.open311 import views as open311_views

    settings.ADMINS = [("Admin", "admin@example.com")]
    settings.DEBUG = False
    caplog.set_level(logging.DEBUG)
    get(client, "requests.json", api_key=api_key)
    post(client, api_key=api_key + "x", **REPORT)

    def crash(**kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(open311_views, "case_report", crash)
    quiet = Client(raise_request_exception=False)
    response = quiet.post(f"{BASE}/requests.json", {"api_key": api_key, **REPORT})
    assert response.status_code == 500
    assert {r.status_code for r in caplog.records if hasattr(r, "status_code")} == {400, 403, 500}
    logged = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [caplog.text]
        + [str(getattr(r, "request", "")) for r in caplog.records]
    )
    assert api_key[:12] not in logged
    # The error report mailed to the administrators hides it too (POST data, local variables).
    (report,) = mail.outbox
    assert "Internal Server Error" in report.subject
    assert api_key[:12] not in report.body
    assert api_key[:12] not in str(report.alternatives)


def test_a_key_creates_at_most_its_rate(
    client: Client, world: Any, api_key: str, settings: Any
) -> None:
    settings.OPEN311_KEY_RATE = "2/m"
    answers = [post(client, api_key=api_key, **REPORT) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    (message,) = error_descriptions(answers[-1], 429)
    assert message == (
        "This api_key has sent as many service requests as it may for now: try again later"
    )
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert Case.objects.count() == 2
    # Another client's key has its own count.
    other = key_issue(name="other-app")[1]
    assert post(client, api_key=other, **REPORT).status_code == 200


def test_an_address_that_tries_wrong_keys_is_stopped(
    client: Client, world: Any, api_key: str, settings: Any
) -> None:
    from django.core.cache import cache

    settings.OPEN311_BAD_KEY_RATE = "3/h"
    for attempt in range(3):
        cache.clear()  # another worker process: the count is in the database
        (message,) = error_descriptions(post(client, api_key=f"o311_guess{attempt}", **REPORT), 403)
        assert message == "Invalid api_key received: unknown or revoked"
    stopped = post(client, "xml", api_key=api_key, **REPORT)
    (message,) = error_descriptions(stopped, 429)
    assert message == "Too many wrong api_key values from your address: try again later"
    assert int(stopped["Retry-After"]) > 60
    assert not Case.objects.exists()
    # Another address is not stopped.
    elsewhere = client.post(
        f"{BASE}/requests.json", {"api_key": api_key, **REPORT}, REMOTE_ADDR="10.0.0.9"
    )
    assert elsewhere.status_code == 200
