"""The pages the security fixes of issue 11 changed, as their users see them, at 390 px and
1440 px, in Chinese and English (screenshots in var/screenshots/security_pages/):

- the portal: the reporter of a merged duplicate sees their own report and the other request's
  public status, never its description, reporter or address;
- the console import: a file with more problems than the page lists says how many it shows;
- the admin's case page: the reporter's name and phone masked.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from grassroots.cases import services as s
from grassroots.web.models import ImportJob, ImportProblem
from tests.cases.factories import merged_pair

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE = "13912345678"
LANGUAGES = [("zh-hans", "phone"), ("en", "desktop")]


def _centre(grid):
    return ((grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2)


@pytest.mark.parametrize(("language", "width"), LANGUAGES)
def test_a_merged_reporter_sees_only_their_own_report(visit, world, language, width):
    main, dup = merged_pair(world, PHONE)
    resident = visit(width=width, language=language)
    resident.go("/portal/track/")
    resident.page.fill("#id_tracking_code", dup.tracking_code)
    resident.page.fill("#id_phone", PHONE)
    resident.page.click("form.lookup button[type=submit]")
    resident.page.wait_for_selector(f"text={main.tracking_code}")
    text = resident.page.inner_text("main")
    assert dup.tracking_code in text and "这里的路灯不亮" in text
    for other in ("李四", "13800138000", "138****8000", "水东路12号", "路灯坏了"):
        assert other not in text
    resident.no_sideways_scroll()
    resident.shot(f"portal-merged-{language}")
    resident.check_clean()


@pytest.mark.parametrize(("language", "width"), LANGUAGES)
def test_the_import_page_says_how_many_problems_it_lists(visit, world, language, width):
    official = world.users["official"]
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.RESIDENTS,
        status=ImportJob.Status.CHECKED,
        file_name="居民.xlsx",
        size=120_000,
        created_by=official,
        scope_code=official.scope_code,
        rows_total=5000,
        problem_count=4200,
    )
    ImportProblem.objects.bulk_create(
        ImportProblem(
            job=job, row=n, column="户编号", value=f"X{n}", reason="household X does not exist"
        )
        for n in range(2, 52)
    )
    with override_settings(IMPORT_MAX_PROBLEMS_SHOWN=50):
        page = visit(official, width=width, language=language)
        page.go(f"/console/import/{job.pk}/")
        shown = page.page.inner_text("#problems-shown")
    assert "50" in shown and "4200" in shown.replace(",", "")
    page.no_sideways_scroll()
    page.shot(f"import-truncated-{language}")
    page.check_clean()


@pytest.mark.parametrize(("language", "width"), LANGUAGES)
def test_the_admin_case_page_masks_the_reporter(visit, world, language, width):
    lon, lat = _centre(world.grid_a11)
    case = s.case_report(
        actor=None,
        channel="hotline",
        category="environment",
        description="垃圾桶满溢无人清理",
        lon=lon,
        lat=lat,
        reporter_name="欧阳娜娜",
        reporter_phone="13912345678",
    )
    page = visit(world.users["official"], width=width, language=language)
    page.go(f"/admin/cases/case/{case.pk}/change/")
    text = page.page.inner_text("body")
    assert "欧***" in text and "139****5678" in text
    assert "欧阳娜娜" not in text and "13912345678" not in text
    page.shot(f"admin-case-{language}")
