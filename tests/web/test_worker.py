"""The grid worker's phone pages: my grids, households, one household, report, my tasks."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grassroots.cases.models import Case, CasePhoto, Stage
from grassroots.registry.models import Tag
from grassroots.web.worker.views import case_url
from tests import factories as f
from tests.cases import factories as cf

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def field_errors(html: str, name: str) -> list[str]:
    """The error messages shown next to the form field `name` (inside its .field block)."""
    return re.findall(rf'<p class="error" id="id_{name}_error">(.*?)</p>', html)


def due_in(case: Case, hours: float) -> Case:
    case.due_at = timezone.now() + datetime.timedelta(hours=hours)
    case.save(update_fields=["due_at"])
    return case


# --- Access ----------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, world):
    for name in ("home", "households", "report", "tasks"):
        response = client.get(reverse(f"worker:{name}"))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/w/")


def test_it_refuses_the_report_page_to_a_role_that_may_not_report(world, login):
    response = login("auditor").get(reverse("worker:report"))
    assert response.status_code == 403
    assert "You may not open this page" in response.content.decode()


# --- My grids --------------------------------------------------------------------------------


def test_it_shows_the_worker_only_their_grids_with_counts(world, login):
    f.resident("孙小孙", world.households["HA11-1"], relation="child")
    f.resident("离开了", world.households["HA11-1"], moved_out_on=datetime.date(2025, 1, 1))
    due_in(cf.case(world.grid_a11), -5)  # overdue
    due_in(cf.case(world.grid_a11), 30)  # open, on time
    cf.case(world.grid_a11, stage=Stage.CLOSED, is_open=False)
    cf.case(world.grid_a12)  # another grid

    response = login("worker").get(reverse("worker:home"))
    html = html_of(response)
    grids = list(response.context["page_obj"])
    assert [g.code for g in grids] == ["350426100001001"]
    grid = grids[0]
    assert (grid.household_count, grid.resident_count, grid.open_count, grid.overdue_count) == (
        2,
        3,
        2,
        1,
    )
    assert "水东一网格" in html and "水东二网格" not in html
    assert f'href="{reverse("worker:households")}?grid=350426100001001"' in html
    assert f'href="{reverse("worker:tasks")}?grid=350426100001001"' in html
    # The worker's own tasks: both open cases of the grid wait for them (unassigned).
    assert (response.context["task_count"], response.context["overdue_task_count"]) == (2, 1)


def test_it_pages_the_grids_in_scope_of_other_roles(world, login):
    client = login("official")
    first = client.get(reverse("worker:home"), {"per_page": 2})
    assert [g.code for g in first.context["page_obj"]] == ["350426100001001", "350426100001002"]
    assert "Page 1 of 2" in html_of(first)
    second = client.get(reverse("worker:home"), {"per_page": 2, "page": 2})
    assert [g.code for g in second.context["page_obj"]] == ["350426100002001"]
    # Town B's grid is never listed.
    assert "半山一网格" not in html_of(first) + html_of(second)


# --- Households ------------------------------------------------------------------------------


def codes(response) -> list[str]:
    return [h.code for h in response.context["page_obj"]]


def test_it_lists_only_the_households_of_the_workers_grids(world, login):
    response = login("worker").get(reverse("worker:households"))
    assert codes(response) == ["HA11-1", "HA11-2"]
    html = html_of(response)
    assert "赵光菊" in html and "钱多多" in html and "孙悟空" not in html
    # A grid outside the scope finds nothing, and says nothing about that grid.
    outside = login("worker").get(reverse("worker:households"), {"grid": world.grid_b11.code})
    assert codes(outside) == []
    assert "There is no household here." in html_of(outside)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("钱多多", ["HA11-2"]),  # name
        ("多多", ["HA11-2"]),  # part of the name
        ("qdd", ["HA11-2"]),  # pinyin initials
        ("zhaoguang", ["HA11-1"]),  # start of the full pinyin
        ("HA11-1", ["HA11-1"]),  # household code
        ("地址HA11-2", ["HA11-2"]),  # address
        ("周杰伦", []),  # a resident in another town
    ],
)
def test_it_searches_households_by_member_name_pinyin_code_and_address(
    world, login, query, expected
):
    response = login("worker").get(reverse("worker:households"), {"q": query})
    assert codes(response) == expected


def test_it_searches_households_by_the_last_digits_of_an_id_number(world, login):
    number = world.residents["钱多多"].id_number
    client = login("worker")
    assert codes(client.get(reverse("worker:households"), {"q": number[-6:]})) == ["HA11-2"]
    # The digits of someone outside the worker's grids find nobody.
    outside = world.residents["周杰伦"].id_number
    assert codes(client.get(reverse("worker:households"), {"q": outside[-6:]})) == []


def test_it_sorts_and_pages_households(world, login):
    f.resident("钱一", world.households["HA11-2"], relation="child")
    client = login("secretary")
    by_members = client.get(reverse("worker:households"), {"sort": "-members", "per_page": 2})
    assert codes(by_members) == ["HA11-2", "HA11-1"]
    second = client.get(
        reverse("worker:households"), {"sort": "-members", "per_page": 2, "page": 2}
    )
    assert codes(second) == ["HA12-1"]
    html = html_of(second)
    assert 'rel="prev"' in html and "Page 2 of 2" in html


def test_it_reads_the_lists_in_as_many_queries_for_many_rows_as_for_few(world, login):
    client = login("worker")

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    urls = [reverse("worker:home"), reverse("worker:households"), reverse("worker:tasks")]
    urls.append(reverse("worker:household", args=[world.households["HA11-1"].pk]))
    cf.case(world.grid_a11, household=world.households["HA11-1"])
    tagged = world.households["HA11-2"]
    tagged.tags = "|低保|"  # tags read the vocabulary: once a page
    tagged.save()
    [queries(url) for url in urls]  # warm up the caches of the first requests
    few = [queries(url) for url in urls]
    for i in range(6):
        household = f.household(f"HA11-X{i}", world.grid_a11, tags="|低保|")
        f.resident(f"新户{i}", household, relation="head")
        f.resident(f"新人{i}", world.households["HA11-1"], relation="child")
        cf.case(world.grid_a11, household=world.households["HA11-1"])
    assert [queries(url) for url in urls] == few


def test_it_tells_a_worker_without_grids_to_ask_for_one(world, login):
    client = login(f.user("newbie", "grid_worker"))
    assert "No grid is assigned to you yet." in html_of(client.get(reverse("worker:home")))
    assert list(client.get(reverse("worker:households")).context["page_obj"]) == []


# --- One household ---------------------------------------------------------------------------


def test_it_shows_a_household_with_masked_id_numbers_and_its_cases(world, login):
    household = world.households["HA11-1"]
    spouse = f.resident("赵太太", household, relation="spouse", phone="13912345678")
    case = cf.case(world.grid_a11, household=household, urgent=True)
    cf.case(world.grid_a11)  # not this household's

    html = html_of(login("worker").get(reverse("worker:household", args=[household.pk])))
    head = world.residents["赵光菊"]
    assert "赵光菊" in html and "赵太太" in html
    assert "Head of household" in html and "Spouse" in html
    for resident in (head, spouse):
        assert resident.id_number not in html
        assert resident.id_number_masked in html
    assert "13912345678" not in html and "139****5678" in html
    assert "ID and mobile numbers are masked." in html
    # Its cases, linked to the shared case page, and a report for it.
    assert html.count('class="case-item') == 1
    assert f'href="{case_url(case.tracking_code)}"' in html and "Urgent" in html
    assert f'href="{reverse("worker:report")}?household={household.pk}"' in html


def test_it_answers_404_for_a_household_outside_the_scope(world, login):
    elsewhere = world.households["HB11-1"]
    for who in ("outsider", "worker"):
        target = world.households["HA11-1"] if who == "outsider" else elsewhere
        response = login(who).get(reverse("worker:household", args=[target.pk]))
        assert response.status_code == 404
        assert target.address not in response.content.decode()
    # A neighbouring grid of the same village is outside the worker's scope too.
    neighbour = world.households["HA12-1"]
    assert login("worker").get(reverse("worker:household", args=[neighbour.pk])).status_code == 404
    assert (
        login("worker").get(reverse("worker:report"), {"household": neighbour.pk}).status_code
        == 404
    )


def test_it_shows_sensitive_tags_only_with_the_grant(world, login):
    Tag.objects.get_or_create(name="社区矫正", defaults={"kind": Tag.Kind.SENSITIVE})
    Tag.objects.get_or_create(name="低保", defaults={"kind": Tag.Kind.CARE})
    resident = world.residents["赵光菊"]
    resident.tags = "|低保|社区矫正|"
    resident.save()
    url = reverse("worker:household", args=[world.households["HA11-1"].pk])

    html = html_of(login("worker").get(url))
    assert "低保" in html and "社区矫正" not in html

    granted = world.users["worker"]
    granted.user_permissions.add(
        Permission.objects.get(codename="view_sensitive_tags", content_type__app_label="registry")
    )
    assert "社区矫正" in html_of(login(granted).get(url))


# --- Report ----------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_it_reports_a_case_for_a_household_with_a_photo(world, login, media):
    household = world.households["HA11-1"]
    client = login("worker")
    form = html_of(client.get(reverse("worker:report"), {"household": household.pk}))
    assert 'value="HA11-1"' in form and 'capture="environment"' in form and "data-locate" in form

    response = client.post(
        reverse("worker:report"),
        {
            "category": "environment",
            "description": "楼道里堆满杂物，有火灾隐患",
            "urgent": "on",
            "address": household.address,
            "lon": "",
            "lat": "",
            "household": "HA11-1",
            "photos": [SimpleUploadedFile("a.png", PNG, content_type="image/png")],
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == case_url(case.tracking_code)
    assert case.channel == Case.Channel.GRID_WORKER
    assert case.reporter_household == household and case.reporter_user == world.users["worker"]
    assert case.grid == world.grid_a11 and case.urgent  # placed through the household
    photo = CasePhoto.objects.get(case=case)
    assert photo.content_type == "image/png" and photo.file
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [f"Case {case.tracking_code} reported. Its deadline runs from now."]


def test_it_places_a_report_at_the_browsers_position(world, login, media):
    grid = world.grid_a11
    client = login("worker")
    response = client.post(
        reverse("worker:report"),
        {
            "category": "facilities",
            "description": "路灯坏了，晚上很黑",
            "lon": f"{grid.min_lon + 0.005:.6f}",
            "lat": f"{grid.min_lat + 0.005:.6f}",
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.grid == grid and case.lon == pytest.approx(grid.min_lon + 0.005)


def test_it_sends_a_report_at_a_point_in_another_grid_there_and_says_so(world, login, media):
    other = world.grid_a12  # worker serves A1-1 only
    response = login("worker").post(
        reverse("worker:report"),
        {
            "category": "facilities",
            "description": "路灯坏了，晚上很黑",
            "lon": f"{other.min_lon + 0.005:.6f}",
            "lat": f"{other.min_lat + 0.005:.6f}",
        },
        follow=True,
    )
    case = Case.objects.get()
    assert case.grid == other and case.channel == "grid_worker"
    assert response.redirect_chain[-1][0] == reverse("worker:tasks")
    assert [str(m) for m in response.context["messages"]] == [
        f"Case {case.tracking_code} reported. It lies outside your area and went to its grid."
    ]


def test_it_shows_missing_category_and_description_next_to_the_fields(world, login, media):
    client = login("worker")
    html = html_of(client.post(reverse("worker:report"), {"category": "", "description": ""}))
    assert field_errors(html, "category") == ["This field is required."]
    assert field_errors(html, "description") == ["This field is required."]
    assert "Please correct the problems marked below." in html
    assert not Case.objects.exists()


def test_it_shows_the_intake_services_errors_next_to_the_fields(world, login, media):
    client = login("worker")
    html = html_of(
        client.post(
            reverse("worker:report"),
            {
                "category": "environment",
                "description": "脏",
                "photos": [SimpleUploadedFile("a.txt", b"not an image", content_type="image/png")],
            },
        )
    )
    assert field_errors(html, "description") == ["Describe the matter in at least 4 characters"]
    assert field_errors(html, "photos") == ["Photo a.txt is not a JPEG, PNG, WebP or HEIC image"]
    assert not Case.objects.exists() and not CasePhoto.objects.exists()


def test_it_refuses_a_household_outside_the_scope_and_a_report_without_a_place(world, login, media):
    client = login("worker2")  # two grids in two villages: no queue is chosen for them
    html = html_of(
        client.post(
            reverse("worker:report"),
            {"category": "environment", "description": "垃圾没人清理", "household": "HA11-1"},
        )
    )
    assert field_errors(html, "household") == ["There is no household with this code in your area."]
    html = html_of(
        client.post(
            reverse("worker:report"), {"category": "environment", "description": "垃圾没人清理"}
        )
    )
    assert field_errors(html, "unit") == [
        "Give coordinates inside a grid, the reporter&#x27;s household or the unit to send the "
        "case to"
    ]
    assert not Case.objects.exists()


# --- My tasks --------------------------------------------------------------------------------


def test_it_lists_my_tasks_overdue_first_then_by_deadline(world, login):
    later = due_in(cf.case(world.grid_a11, description="later"), 48)
    soon = due_in(cf.case(world.grid_a11, description="soon"), 2)
    overdue = due_in(cf.case(world.grid_a11, description="overdue"), -3)
    long_overdue = due_in(cf.case(world.grid_a11, description="long overdue"), -30)
    closed = cf.case(world.grid_a11, stage=Stage.CLOSED, is_open=False)
    due_in(cf.case(world.grid_a12), -50)  # worker2's grid
    mine = due_in(cf.case(world.grid_a11, assignee=world.users["worker"]), 100)
    due_in(cf.case(world.grid_a11, assignee=world.users["secretary"]), -40)  # someone else's

    client = login("worker")
    response = client.get(reverse("worker:tasks"))
    order = [c.pk for c in response.context["page_obj"]]
    assert order == [long_overdue.pk, overdue.pk, soon.pk, later.pk, mine.pk]
    html = html_of(response)
    assert html.count('<span class="badge overdue">Overdue</span>') == 2
    assert html.count("data-countdown") == 5
    assert f'datetime="{timezone.localtime(soon.due_at).isoformat()}"' in html
    assert f'href="{case_url(later.tracking_code)}"' in html

    everything = client.get(reverse("worker:tasks"), {"show": "all"})
    assert [c.pk for c in everything.context["page_obj"]][-1] == closed.pk


def test_it_pages_and_filters_my_tasks(world, login):
    cases = [due_in(cf.case(world.grid_a11), hours) for hours in (5, 1, 3)]
    client = login("worker")
    first = client.get(reverse("worker:tasks"), {"per_page": 2})
    assert [c.pk for c in first.context["page_obj"]] == [cases[1].pk, cases[2].pk]
    second = client.get(reverse("worker:tasks"), {"per_page": 2, "page": 2})
    assert [c.pk for c in second.context["page_obj"]] == [cases[0].pk]
    newest = client.get(reverse("worker:tasks"), {"sort": "-reported"})
    assert [c.pk for c in newest.context["page_obj"]] == [cases[2].pk, cases[1].pk, cases[0].pk]
    other_grid = client.get(reverse("worker:tasks"), {"grid": world.grid_a12.code})
    assert list(other_grid.context["page_obj"]) == []
    assert "Nothing waits for you." in html_of(other_grid)
