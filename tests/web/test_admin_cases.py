"""The case admin: read-only lists in scope, the timeline inline; the category admin."""

from __future__ import annotations

from typing import Any

from grassroots.audit.models import Event
from grassroots.cases.models import Category
from grassroots.cases.services import case_report


def _case(grid: Any) -> Any:
    return case_report(
        actor=None,
        channel="portal",
        category="environment",
        description="垃圾桶满溢无人清理",
        lon=(grid.min_lon + grid.max_lon) / 2,
        lat=(grid.min_lat + grid.max_lat) / 2,
        reporter_phone="13800138000",
    )


def test_it_lists_only_the_cases_in_scope(world: Any, login: Any) -> None:
    mine = _case(world.grid_a11)
    other = _case(world.grid_b11)
    page = login("official").get("/admin/cases/case/")
    assert page.status_code == 200
    assert mine.tracking_code in page.content.decode()
    assert other.tracking_code not in page.content.decode()
    assert login("official").get(f"/admin/cases/case/{other.pk}/change/").status_code == 404
    detail = login("official").get(f"/admin/cases/case/{mine.pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "reported" in text and "13800138000" not in text


def test_an_administrator_changes_a_time_limit_and_it_is_audited(world: Any, login: Any) -> None:
    category = Category.objects.get(code="environment")
    client = login("admin")
    form = client.get(f"/admin/cases/category/{category.pk}/change/")
    assert form.status_code == 200
    data = {
        f: getattr(category, f)
        for f in (
            "code",
            "name",
            "name_en",
            "kind",
            "position",
            "first_tier",
            "department",
            "grid_days",
            "village_days",
            "town_days",
            "county_days",
            "grid_hours",
            "village_hours",
            "town_hours",
            "county_hours",
        )
    }
    data.update(active="on", grid_days=4)
    response = client.post(f"/admin/cases/category/{category.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    category.refresh_from_db()
    assert category.grid_days == 4
    event = Event.objects.filter(object_type="cases.category").latest("at")
    assert event.changes["grid_days"] == [2, 4]


def test_it_shows_the_reporter_masked_as_the_api_does(world: Any, login: Any) -> None:
    case = case_report(
        actor=None,
        channel="hotline",
        category="environment",
        description="垃圾桶满溢无人清理",
        lon=(world.grid_a11.min_lon + world.grid_a11.max_lon) / 2,
        lat=(world.grid_a11.min_lat + world.grid_a11.max_lat) / 2,
        reporter_name="欧阳娜娜",
        reporter_phone="13912345678",
    )
    for persona in ("official", "admin", "auditor"):
        text = login(persona).get(f"/admin/cases/case/{case.pk}/change/").content.decode()
        assert "欧阳娜娜" not in text and "13912345678" not in text, persona
        assert "欧***" in text and "139****5678" in text, persona
        assert text.count("139****5678") == 1, persona  # in its place, once
    # Nor can the name be found one query-string lookup at a time.
    response = login("admin").get("/admin/cases/case/", {"reporter_name__startswith": "欧阳"})
    assert response.status_code == 400
