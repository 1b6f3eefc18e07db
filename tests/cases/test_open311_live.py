"""Open311 against a live server, through clients we did not write.

The `georeport` package (PyPI) reads services and requests in JSON and XML; the POST is sent the
way FixMyStreet's Open311 module sends it: form-encoded to requests.xml with attribute[...] and
media_url, the service_request_id (or a token) read back from the XML answer.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from django.utils import timezone
from georeport import GeoReport

from grassroots.cases.models import Case
from grassroots.cases.open311.keys import key_issue
from tests.cases import factories as cf
from tests.live import audit_events_flushed_too, database_as_migrated_afterwards  # noqa: F401

# Live-server requests run in another thread: the data must be committed. The serialized
# rollback brings back what the migrations filled in (the default categories) for each test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def root(live_server: Any) -> str:
    return f"{live_server.url}/open311/v2"


def test_georeport_reads_the_services(root: str, world: Any) -> None:
    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction="350426", output_format=fmt)
        services = client.get_service_list()
        by_code = {s["service_code"]: s for s in services}
        assert len(by_code) == 8, fmt
        # No Accept-Language from this client: the default language, Chinese.
        assert by_code["environment"]["service_name"] == "环境卫生", fmt
        assert by_code["dispute"]["group"] != by_code["environment"]["group"], fmt
        assert str(by_code["safety"]["metadata"]).lower() == "false", fmt
        definition = client.get_service_definition("safety")
        assert definition["service_code"] == "safety", fmt
        assert not definition["attributes"], fmt


def test_georeport_reads_requests(root: str, world: Any) -> None:
    now = timezone.now()
    lamp = cf.case(
        world.grid_a11,
        description="路灯不亮",
        address="水东路8号",
        reporter_phone="13800138000",
        reported_at=now - datetime.timedelta(days=1),
    )
    done = cf.case(
        world.grid_a12,
        stage="closed",
        is_open=False,
        closed_on_time=True,
        reported_at=now - datetime.timedelta(days=2),
    )
    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction="350426", output_format=fmt)
        listed = client.get_service_requests()
        assert [r["service_request_id"] for r in listed] == [
            lamp.tracking_code,
            done.tracking_code,
        ], fmt
        assert [r["status"] for r in listed] == ["open", "closed"], fmt
        open_ = client.get_service_requests(status="open")
        # xmltodict gives one request as a dict, several as a list.
        open_ = [open_] if isinstance(open_, dict) else open_
        assert [r["service_request_id"] for r in open_] == [lamp.tracking_code], fmt
        start = (now - datetime.timedelta(days=3)).isoformat()
        end = now.isoformat()
        dated = client.get_service_requests(
            start_date=start, end_date=end, service_code="environment"
        )
        dated = [dated] if isinstance(dated, dict) else dated
        assert {r["service_request_id"] for r in dated} == {
            lamp.tracking_code,
            done.tracking_code,
        }, fmt
        one = client.get_service_request(lamp.tracking_code)
        assert one["service_request_id"] == lamp.tracking_code, fmt
        # The public sees the grid, not the reporter's words or the typed address.
        assert one["description"] is None, fmt
        assert one["address"] == "水东一网格", fmt
        assert one["agency_responsible"] == "水东一网格", fmt
        requested = datetime.datetime.fromisoformat(one["requested_datetime"])
        assert requested.tzinfo is not None and requested == lamp.reported_at.replace(
            microsecond=0
        ), fmt
        assert "13800138000" not in str(one), fmt


def test_georeport_sees_a_404_for_an_unknown_request(root: str, world: Any) -> None:
    client = GeoReport(root, output_format="xml")
    with pytest.raises(requests.HTTPError) as raised:
        client.get_service_request("NOSUCH")
    assert raised.value.response.status_code == 404
    error = ET.fromstring(raised.value.response.content)
    assert error.findtext("error/code") == "404"


def fixmystreet_post(root: str, **data: Any) -> requests.Response:
    """POST as FixMyStreet's Open311 sender does: form-encoded, XML answer."""
    return requests.post(f"{root}/requests.xml", data=data, timeout=10)


def service_request_id(root: str, response: requests.Response) -> str:
    """Read back as FixMyStreet does: the id, or else the token to look the id up with."""
    assert response.status_code == 200, response.text
    request = ET.fromstring(response.content).find("request")
    assert request is not None
    found = request.findtext("service_request_id") or ""
    if not found:
        token = request.findtext("token") or ""
        assert token
        answer = requests.get(f"{root}/tokens/{token}.xml", timeout=10)
        found = ET.fromstring(answer.content).findtext("request/service_request_id") or ""
    return found


def test_a_fixmystreet_style_report_round_trips(root: str, world: Any) -> None:
    key = key_issue(name="fixmystreet")[1]
    data = {
        "api_key": key,
        "jurisdiction_id": "350426",
        "service_code": "environment",
        "lat": "26.105",
        "long": "118.105",
        "email": "resident@example.com",
        "description": "垃圾堆放: 水东路口的垃圾三天没有清运",
        "first_name": "Wei",
        "last_name": "Chen",
        "phone": "13900001111",
        "media_url": "https://fms.example.com/photo/123.0.full.jpeg",
        "attribute[fixmystreet_id]": "123",
        "attribute[title]": "垃圾堆放",
        "attribute[report_url]": "https://fms.example.com/report/123",
        "attribute[closest_address]": "水东路",
    }
    response = fixmystreet_post(root, **data)
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    code = service_request_id(root, response)
    answer = ET.fromstring(response.content)
    assert code in (answer.findtext("request/service_notice") or "")
    case = Case.objects.get(tracking_code=code)
    assert case.channel == "open311"
    assert case.grid == world.grid_a11
    assert case.reporter_name == "Wei Chen"
    assert case.reporter_email == "resident@example.com"
    assert case.external_id.endswith(":123")
    assert [p.url for p in case.photos.all()] == [data["media_url"]]

    # FixMyStreet retries a send it thinks failed: the same report is not taken in twice.
    assert service_request_id(root, fixmystreet_post(root, **data)) == code
    assert Case.objects.count() == 1

    # It then follows the report through the public reads.
    for fmt in ("xml", "json"):
        one = GeoReport(root, jurisdiction="350426", output_format=fmt).get_service_request(code)
        assert one["status"] == "open", fmt
        assert one["service_code"] == "environment", fmt
        assert one["media_url"] == data["media_url"], fmt
        assert "resident@example.com" not in str(one) and "Chen" not in str(one), fmt


def test_a_fixmystreet_style_post_with_a_bad_key_reads_a_403(root: str, world: Any) -> None:
    response = fixmystreet_post(
        root,
        api_key="wrong",
        service_code="environment",
        address_string="某处",
        description="有垃圾",
    )
    assert response.status_code == 403
    error = ET.fromstring(response.content)
    assert error.tag == "errors"
    assert error.findtext("error/code") == "403"
    assert "api_key" in (error.findtext("error/description") or "")
    assert not Case.objects.exists()
