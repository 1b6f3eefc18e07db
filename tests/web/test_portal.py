"""The public portal: submit a request without an account, follow it by code and phone, rate or
reject the result; the same throttle as the portal API."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from grassroots.cases import services as s
from grassroots.cases.models import Case, CasePhoto, Stage
from tests.cases.factories import merged_pair

PHONE = "13912345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def visitor(world: Any) -> Client:
    """An anonymous visitor reading English."""
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def centre(grid: Any) -> tuple[float, float]:
    return ((grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2)


def request_data(world: Any, **more: Any) -> dict[str, Any]:
    lon, lat = centre(world.grid_a11)
    data = {
        "category": "environment",
        "description": "小区门口污水外溢，气味很大",
        "lon": f"{lon:.6f}",
        "lat": f"{lat:.6f}",
        "address": "",
        "unit": "",
        "reporter_phone": PHONE,
        "reporter_name": "张三",
    }
    data.update(more)
    return {k: v for k, v in data.items() if v is not None}


def field_errors(html: str, field: str) -> list[str]:
    """The error paragraphs rendered next to one field (web/_field.html)."""
    return re.findall(rf'<p class="error" id="id_{field}_error">([^<]*)</p>', html)


def closed_case(world: Any) -> Case:
    lon, lat = centre(world.grid_a11)
    case = s.case_report(
        actor=None,
        channel="portal",
        category="environment",
        description="路灯坏了，晚上很黑",
        lon=lon,
        lat=lat,
        reporter_phone=PHONE,
    )
    u = world.users
    case = s.case_start(s.case_accept(case, actor=u["worker"]), actor=u["worker"])
    case = s.case_handle(case, actor=u["worker"], note="已更换灯泡")
    return s.case_close(s.case_verify(case, actor=u["secretary"]), actor=u["secretary"])


def look_up(client: Client, code: str, phone: str = PHONE) -> Any:
    return client.post(reverse("portal:track"), {"tracking_code": code, "phone": phone})


def test_it_shows_the_request_form_with_the_public_categories_and_the_map(visitor):
    html = visitor.get(reverse("portal:submit")).content.decode()
    assert '<option value="environment">Environment and sanitation</option>' in html
    assert f'data-grids="{reverse("portal:grids")}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'type="tel"' in html and 'name="reporter_phone"' in html
    assert '<optgroup label="城关镇">' in html and '<option value="350426100001">水东社区' in html
    assert "vendor/leaflet/leaflet.js" in html and "web/portal.js" in html


def test_it_submits_a_request_and_shows_its_tracking_code(visitor, world):
    response = visitor.post(reverse("portal:submit"), request_data(world))
    assert response.status_code == 302 and response["Location"] == reverse("portal:submitted")
    case = Case.objects.get()
    assert case.channel == "portal" and case.grid == world.grid_a11
    assert case.stage == Stage.REPORTED and case.reporter_user is None
    assert case.events.get().data == {"channel": "portal", "reporter": "resident"}
    # The phone is kept encrypted, found by its keyed hash; never in the clear in the table.
    assert case.reporter_phone == PHONE and case.reporter_phone_hash == s.phone_key(PHONE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT reporter_phone, reporter_phone_hash FROM {Case._meta.db_table} WHERE id = %s",
            [case.pk],
        )
        stored, hashed = cursor.fetchone()
    assert PHONE not in stored and PHONE not in hashed
    page = visitor.get(response["Location"])
    html = page.content.decode()
    assert f'<output id="tracking-code" aria-live="polite">{case.tracking_code}</output>' in html
    assert "What happens next" in html and reverse("portal:track") in html
    assert PHONE not in html


def test_it_takes_a_typed_address_with_a_village_a_photo_and_an_enterprise(visitor, world):
    data = request_data(
        world, lon="", lat="", address="水东路 12 号", unit=world.village_a1.code, enterprise="on"
    )
    data["photos"] = [SimpleUploadedFile("a.png", PNG, content_type="image/png")]
    response = visitor.post(reverse("portal:submit"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get()
    assert case.grid is None and case.unit == world.village_a1 and case.address == "水东路 12 号"
    assert case.events.get().data["reporter"] == "enterprise"
    photo = CasePhoto.objects.get(case=case)
    assert photo.content_type == "image/png"


def test_it_names_a_missing_phone_and_description_next_to_their_fields_and_writes_nothing(
    visitor, world
):
    response = visitor.post(
        reverse("portal:submit"), request_data(world, description="", reporter_phone="")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert field_errors(html, "reporter_phone") == [
        "A phone number is needed to follow your request"
    ]
    assert field_errors(html, "description") == ["Describe the matter in at least 4 characters"]
    assert "Please correct the problems marked below." in html
    assert "张三" in html  # what was typed stays in the form
    assert not Case.objects.exists()


def test_it_shows_the_services_refusals_next_to_their_fields(visitor, world):
    data = request_data(world, description="脏", reporter_phone="12345", lon="", lat="")
    data["photos"] = [SimpleUploadedFile("a.txt", b"not an image", content_type="image/png")]
    html = visitor.post(reverse("portal:submit"), data).content.decode()
    assert field_errors(html, "description") == ["Describe the matter in at least 4 characters"]
    assert len(field_errors(html, "reporter_phone")) == 1
    assert field_errors(html, "photos") == ["Photo a.txt is not a JPEG, PNG, WebP or HEIC image"]
    assert not Case.objects.exists() and not CasePhoto.objects.exists()


def test_it_asks_for_a_place_when_there_is_no_point_and_no_village(visitor, world):
    data = request_data(world, lon="", lat="", address="城关某处")
    data["photos"] = [SimpleUploadedFile("a.png", PNG, content_type="image/png")]
    html = visitor.post(reverse("portal:submit"), data).content.decode()
    assert field_errors(html, "unit") == [
        "Pick the place on the map inside one of the grids, or choose the village, community "
        "or town to send the request to."
    ]
    assert field_errors(html, "photos") == [
        "Choose your photos again: the browser cannot keep them after an error."
    ]
    assert not Case.objects.exists()


def test_the_submitted_page_needs_a_request_sent_from_this_browser(visitor):
    response = visitor.get(reverse("portal:submitted"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:submit")


def test_it_shows_the_status_and_public_timeline_by_code_and_phone(visitor, world):
    case = closed_case(world)
    response = look_up(visitor, case.tracking_code.lower(), "139 1234 5678")
    assert response.status_code == 302 and response["Location"] == reverse("portal:track")
    html = visitor.get(reverse("portal:track")).content.decode()
    assert case.tracking_code in html and PHONE not in html
    assert '<span class="badge ok">Closed</span>' in html
    timeline = html[html.index('<ol class="timeline">') :]
    labels = re.findall(r"<strong>([^<]+)</strong>", timeline)
    assert labels[0] == "Reported" and len(labels) == case.events.count()
    assert "已更换灯泡" in timeline  # the handling note is public
    assert "Rate the result" in html and 'name="rating"' in html
    assert 'data-confirm="Reject the result and send the request back to work?"' in html


@pytest.mark.parametrize("wrong", ["phone", "code"])
def test_a_wrong_code_or_phone_gets_one_message_that_tells_neither(visitor, world, wrong):
    case = closed_case(world)
    code, phone = case.tracking_code, PHONE
    if wrong == "phone":
        phone = "13900000000"
    else:
        code = "ABCDEFGHJK"
    response = look_up(visitor, code, phone)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No request with this tracking code and phone number. Check both and try again." in html
    assert "Rate the result" not in html and "已更换灯泡" not in html
    assert visitor.session.get("portal_case") is None


def test_the_reporter_rates_a_closed_request(visitor, world):
    case = closed_case(world)
    look_up(visitor, case.tracking_code)
    response = visitor.post(reverse("portal:rate"), {"rating": "4", "comment": "修得很快"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.stage == Stage.RATED and case.rating == 4 and case.rating_comment == "修得很快"
    html = visitor.get(reverse("portal:track")).content.decode()
    assert "Thank you. Your rating has been recorded." in html
    assert "4 stars" in html and 'name="rating"' not in html


def test_a_rating_needs_stars_and_a_looked_up_request(visitor, world):
    case = closed_case(world)
    stranger = Client()
    stranger.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    response = stranger.post(reverse("portal:rate"), {"rating": "1"}, follow=True)
    assert "Please look up your request again with its code and phone." in response.content.decode()
    look_up(visitor, case.tracking_code)
    html = visitor.post(reverse("portal:rate"), {"comment": "?"}).content.decode()
    assert "Choose from 1 to 5 stars" in html
    case.refresh_from_db()
    assert case.stage == Stage.CLOSED and case.rating is None


def test_the_reporter_rejects_the_result_within_seven_days(visitor, world):
    case = closed_case(world)
    look_up(visitor, case.tracking_code)
    html = visitor.post(reverse("portal:reject"), {"reason": ""}).content.decode()
    assert field_errors(html, "reason") == ["Say what is still wrong"]
    response = visitor.post(reverse("portal:reject"), {"reason": "灯又不亮了"}, follow=True)
    html = response.content.decode()
    assert "Your request goes back to work." in html
    case.refresh_from_db()
    assert case.is_open and case.reworks == 1
    assert case.events.order_by("-at", "-id").first().action == "reopen"


def test_forgetting_closes_the_request_on_this_device(visitor, world):
    case = closed_case(world)
    look_up(visitor, case.tracking_code)
    visitor.post(reverse("portal:forget"))
    html = visitor.get(reverse("portal:track")).content.decode()
    assert case.tracking_code not in html and 'name="tracking_code"' in html


def test_the_portal_pages_and_the_api_share_one_throttle(visitor, world, settings):
    settings.PORTAL_RATE = "3/m"
    asks = [look_up(visitor, "ABCDEFGHJK") for _ in range(2)]
    api = visitor.post(
        "/api/v1/public/cases/lookup",
        json.dumps({"tracking_code": "ABCDEFGHJK", "phone": PHONE}),
        content_type="application/json",
    )
    assert [a.status_code for a in asks] == [200, 200] and api.status_code == 404
    refused = look_up(visitor, "ABCDEFGHJK")
    assert refused.status_code == 429
    assert "Too many tries from your connection. Please wait a minute and try again." in (
        refused.content.decode()
    )
    submitted = visitor.post(reverse("portal:submit"), request_data(world))
    assert submitted.status_code == 429 and not Case.objects.exists()
    assert "Too many tries from your connection." in submitted.content.decode()
    # Looking at the pages is not counted.
    assert visitor.get(reverse("portal:submit")).status_code == 200


def test_it_serves_the_grid_outlines_for_the_map(visitor, world):
    response = visitor.get(reverse("portal:grids"))
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    data = json.loads(response.content)
    codes = [f["properties"]["code"] for f in data["features"]]
    assert codes == sorted(
        [world.grid_a11.code, world.grid_a12.code, world.grid_a21.code, world.grid_b11.code]
    )
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert all(len(str(v).split(".")[-1]) <= 5 for point in ring for v in point)


def test_it_names_categories_in_chinese_by_default_and_offers_the_tile_layer(world, settings):
    settings.MAP_TILE_URL = "https://t0.example.cn/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "天地图"
    html = Client().get(reverse("portal:submit")).content.decode()
    assert '<html lang="zh-hans"' in html
    assert '<option value="environment">环境卫生</option>' in html
    assert 'data-tiles="https://t0.example.cn/{z}/{x}/{y}.png"' in html
    assert 'data-attribution="天地图"' in html


def test_the_portal_pages_count_in_one_place_for_every_process(visitor, world, settings):
    from django.core.cache import cache

    settings.PORTAL_RATE = "2/m"
    answers = []
    for _ in range(3):
        cache.clear()  # as if another worker process answered: it has a cache of its own
        answers.append(look_up(visitor, "ABCDEFGHJK"))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Too many tries from your connection." in answers[-1].content.decode()


def test_a_merged_request_shows_its_own_report_and_the_status_of_the_other(visitor, world):
    u = world.users
    main, dup = merged_pair(world, PHONE)
    look_up(visitor, dup.tracking_code)
    html = visitor.get(reverse("portal:track")).content.decode()
    assert dup.tracking_code in html and "这里的路灯不亮" in html
    assert (
        f'<span class="code">{main.tracking_code}</span> <span class="badge warn">Reported' in html
    )
    assert "You can rate the result here once that request is closed." in html
    for other in ("李四", "13800138000", "138****8000", "水东路12号", "路灯坏了"):
        assert other not in html
    assert 'name="rating"' not in html and "Reject the result" not in html
    # Once the main case is closed, the reporter rates their own request; the main stays closed.
    case = s.case_start(s.case_accept(main, actor=u["worker"]), actor=u["worker"])
    case = s.case_handle(case, actor=u["worker"], note="已更换灯泡")
    s.case_close(s.case_verify(case, actor=u["secretary"]), actor=u["secretary"])
    assert 'name="rating"' in visitor.get(reverse("portal:track")).content.decode()
    response = visitor.post(reverse("portal:rate"), {"rating": "5"}, follow=True)
    assert "Thank you. Your rating has been recorded." in response.content.decode()
    dup.refresh_from_db()
    main.refresh_from_db()
    assert (dup.stage, dup.rating) == (Stage.MERGED, 5)
    assert (main.stage, main.rating) == (Stage.CLOSED, None)
    refused = visitor.post(reverse("portal:reject"), {"reason": "还是不亮"}, follow=True)
    assert "A case that is merged into another case cannot be reopened" in (
        refused.content.decode()
    )
    main.refresh_from_db()
    assert main.stage == Stage.CLOSED


def test_the_track_page_masks_numbers_in_any_spelling(visitor, world):
    case = closed_case(world)
    Case.objects.filter(pk=case.pk).update(description="回电 １３９—１２３４—５６７８")
    look_up(visitor, case.tracking_code)
    html = visitor.get(reverse("portal:track")).content.decode()
    assert "回电 139****5678" in html and "１３９" not in html


def test_a_photo_over_the_limit_is_stopped_and_said_so(visitor, world, settings):
    settings.CASE_PHOTO_MAX_BYTES = 1024
    data = request_data(world)
    data["photos"] = [SimpleUploadedFile("big.png", PNG + b"\x00" * 4096, content_type="image/png")]
    response = visitor.post(reverse("portal:submit"), data)
    assert response.status_code == 413
    html = response.content.decode()
    assert (
        "Your photos could not be taken: big.png is larger than 1.0 KiB, the most one photo may "
        "be. Choose smaller ones and fill in the form again."
    ) in html
    assert not Case.objects.exists()
    # The browser checks the sizes before sending (portal.js), with its own message.
    form = visitor.get(reverse("portal:submit")).content.decode()
    assert 'data-max-bytes="1024"' in form
    assert 'data-too-large="Each photo may be at most 1.0 KiB: choose a smaller one."' in form


def test_the_submit_form_still_needs_its_csrf_token(world):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("portal:submit"), request_data(world))
    assert response.status_code == 403
    assert not Case.objects.exists()
