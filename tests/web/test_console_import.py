"""Registry import from the browser: upload, the background check with every problem in a
table, confirm, the import with its progress, and who may see a job."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from grassroots.audit.models import Event
from grassroots.registry.models import Household
from grassroots.web.console.imports_files import PROGRESS_FILE, progress_of, write_progress
from grassroots.web.models import ImportJob, ImportProblem
from tests.core.xlsx_files import far_corner

HOUSEHOLD_HEADER = "户编号,地址,网格编码,经度,纬度,标签\n"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
START = reverse("console:import")


@pytest.fixture(autouse=True)
def jobs_inline(settings: Any, tmp_path: Any) -> None:
    """Jobs run inline (the immediate backend); their files go to a temporary VAR_DIR."""
    settings.TASKS = IMMEDIATE
    settings.VAR_DIR = tmp_path


def csv_file(text: str, name: str = "h.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def upload(client: Any, text: str, kind: str = "households", **extra: Any) -> Any:
    data = {"kind": kind, "file": csv_file(text, **extra.pop("file", {})), **extra}
    return client.post(START, data)


@pytest.fixture
def official(login: Any) -> Any:
    return login("official")


def job_url(job: ImportJob, name: str = "import_job") -> str:
    return reverse(f"console:{name}", args=[job.pk])


def test_it_checks_an_upload_and_shows_every_problem_by_row_and_column(world, official):
    client = official
    before = Household.objects.count()
    response = upload(
        client,
        HOUSEHOLD_HEADER
        + "OK1,好地址,350426100001001,,,\n"
        + ",没有编号,350426100001001,,,\n"
        + "OK3,,350426100001001,,,\n"
        + "OK4,地址,999999999999999,,,\n"
        + "OK5,地址,,200,26.1,\n"
        + "OK6,地址,,119.9,20.1,\n",
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert job.status == "checked" and job.rows_total == 6 and job.problem_count == 5
    page = client.get(job_url(job))
    html = page.content.decode()
    rows = [
        (p.row, p.column, p.value, p.reason) for p in ImportProblem.objects.order_by("row", "pk")
    ]
    assert rows == [
        (3, "户编号", "", "household code is empty"),
        (4, "地址", "", "address is empty"),
        (5, "网格编码", "999999999999999", "grid 999999999999999 does not exist"),
        (6, "经度", "200", "longitude 200 is outside -180 to 180"),
        (7, "经度", "119.9", "the point (119.9, 20.1) lies in no grid"),
    ]
    for row, column, value, reason in rows:
        assert (
            f'<tr><td class="number">{row}</td><td>{column}</td><td class="value" '
            f'data-label="Value">{value}</td><td class="reason">{reason}</td></tr>' in html
        )
    assert "5 problems were found. Nothing was written" in html
    assert "the import is all or nothing" in html
    assert reverse("console:import_confirm", args=[job.pk]) not in html
    assert "Confirm the import" not in html
    assert Household.objects.count() == before
    assert not Household.objects.filter(code="OK1").exists()
    # A file with problems can never be imported: its copy is gone, a confirmation is refused.
    assert not job.folder.exists()
    response = client.post(job_url(job, "import_confirm"), follow=True)
    assert "This file has problems and cannot be imported" in response.content.decode()
    assert ImportJob.objects.get().status == "checked"
    assert not Household.objects.filter(code="OK1").exists()


def test_it_imports_a_valid_file_after_the_check_and_confirmation(world, official):
    g = world.grid_a21
    response = upload(
        official,
        HOUSEHOLD_HEADER
        + f"N1,西门路1号,{g.code},,,低保\n"
        + f"N2,西门路2号,,{g.min_lon + 0.005},{g.min_lat + 0.005},\n"
        + "HA11-1,新地址,350426100001001,,,\n",
    )
    job = ImportJob.objects.get()
    assert (job.status, job.rows_total, job.created, job.updated, job.problem_count) == (
        "checked",
        3,
        2,
        1,
        0,
    )
    assert not Household.objects.filter(code__in=["N1", "N2"]).exists()  # a dry run
    html = official.get(job_url(job)).content.decode()
    assert '<div class="value">2</div><div class="label">would be created</div>' in html
    assert '<div class="value">1</div><div class="label">would be updated</div>' in html
    assert 'data-confirm="Import 3 rows into the registry now?"' in html
    assert job.path.exists()

    response = official.post(job_url(job, "import_confirm"), follow=True)
    html = response.content.decode()
    job.refresh_from_db()
    assert job.status == "done" and (job.created, job.updated) == (2, 1)
    assert job.confirmed_by == world.users["official"]
    assert "The file was imported: 2 created, 1 updated." in html
    n1, n2 = Household.objects.get(code="N1"), Household.objects.get(code="N2")
    assert n1.grid == g and n1.scope_code == g.code and n1.tag_list == ["低保"]
    assert n2.grid == g  # placed by its coordinates
    assert Household.objects.get(code="HA11-1").address == "新地址"
    # The audit trail names the person who confirmed it.
    event = Event.objects.filter(action="import").get()
    assert event.actor_name == "official" and event.channel == "task"
    assert not job.folder.exists()  # the copy is gone once imported
    # A second confirmation does nothing.
    response = official.post(job_url(job, "import_confirm"), follow=True)
    assert "already imported" in response.content.decode()
    assert Household.objects.filter(code="N1").count() == 1


def test_it_refuses_rows_outside_the_uploaders_scope(world, login):
    client = login("secretary")  # village A1
    upload(
        client,
        HOUSEHOLD_HEADER
        + "N1,水东路1号,350426100001001,,,\n"
        + "N2,半山1号,350426101201001,,,\n"  # grid B1-1, another town
        + "N3,西门路1号,350426100002001,,,\n",  # grid A2-1, the neighbouring village
    )
    job = ImportJob.objects.get()
    assert list(job.problems.values_list("row", "column", "reason")) == [
        (3, "网格编码", "grid 350426101201001 does not exist"),
        (4, "网格编码", "grid 350426100002001 does not exist"),
    ]
    assert not job.confirmable
    assert not Household.objects.filter(code__in=["N1", "N2", "N3"]).exists()


def test_a_household_outside_the_scope_cannot_be_taken_over_by_its_code(world, login):
    client = login("secretary")
    upload(client, HOUSEHOLD_HEADER + "HB11-1,改地址,350426100001001,,,\n")
    job = ImportJob.objects.get()
    assert job.problem_count == 1 and job.updated == 0
    assert Household.objects.get(code="HB11-1").address != "改地址"


def test_the_default_unit_must_lie_in_the_uploaders_scope(world, login):
    client = login("secretary")
    response = upload(client, HOUSEHOLD_HEADER + "N1,某地,,,,\n", unit_code="350426101201")
    assert response.status_code == 422
    html = response.content.decode()
    assert "There is no village or community 350426101201 in your area." in html
    assert not ImportJob.objects.exists()
    response = upload(client, HOUSEHOLD_HEADER + "N1,某地,,,,\n", unit_code="350426100001")
    job = ImportJob.objects.get()
    assert job.unit_code == "350426100001" and job.created == 1 and not job.problem_count
    official_confirm = client.post(job_url(job, "import_confirm"))
    assert official_confirm.status_code == 302
    assert Household.objects.get(code="N1").unit == world.village_a1


def test_the_progress_partial_renders_the_bar(world, official, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    assert job.status == "queued"
    url = job_url(job, "import_progress")
    html = official.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{url}"' in html
    assert "Waiting for the background worker" in html and "<progress" in html

    ImportJob.objects.filter(pk=job.pk).update(status="checking", rows_total=4000)
    job.refresh_from_db()
    write_progress(job, "reading", 1000, 4000)
    assert json.loads((job.folder / PROGRESS_FILE).read_text())["done"] == 1000
    html = official.get(url).content.decode()
    assert '<progress aria-labelledby="import-progress-label" max="4000" value="1000">' in html
    assert "1000 of 4000 rows" in html and "(25 %)" in html
    assert "Checking every row…" in html
    # The job page shows the same bar, which polls.
    assert 'hx-trigger="every 1s"' in official.get(job_url(job)).content.decode()

    # The write is one transaction: the bar shows activity, without a value.
    ImportJob.objects.filter(pk=job.pk).update(status="importing")
    write_progress(job, "writing", 3990, 4000)
    html = official.get(url).content.decode()
    assert '<progress aria-labelledby="import-progress-label"></progress>' in html
    assert "Writing to the registry…" in html and "3990 rows to write." in html

    # Once the job ends, the poll stops and HTMX reloads the page.
    ImportJob.objects.filter(pk=job.pk).update(status="checked")
    response = official.get(url, HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()


def test_progress_while_writing_has_no_value(world):
    job = ImportJob(pk=1, status="importing", rows_total=10)
    job.folder.mkdir(parents=True)
    write_progress(job, "writing", 10, 10)
    assert progress_of(job) == {"stage": "writing", "done": 10, "total": 10, "percent": None}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("secretary", 404),  # may import, inside the uploader's town, but not their job
        ("outsider", 404),  # may import, in another town
        ("auditor", 403),  # may not import at all
    ],
)
def test_another_user_cannot_see_or_touch_the_job(world, official, login, who, status):
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    other = login(who)
    for name in ("import_job", "import_progress"):
        assert other.get(job_url(job, name)).status_code == status
    for name in ("import_confirm", "import_delete"):
        assert other.post(job_url(job, name)).status_code == status
    if status == 404:
        assert "h.csv" not in other.get(START).content.decode()
    assert ImportJob.objects.get().status == "checked" and job.path.exists()
    assert not Household.objects.filter(code="N1").exists()


def test_a_county_administrator_sees_the_jobs_of_their_county(world, official, login):
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    admin = login("admin")
    assert admin.get(job_url(job)).status_code == 200
    assert "h.csv" in admin.get(START).content.decode()


def test_the_worker_and_grid_workers_without_the_permission_are_refused(world, login):
    assert login("worker").get(START).status_code == 403
    assert login("dispatcher").get(START).status_code == 403


def test_it_refuses_a_file_over_the_size_limit_with_a_clear_message(world, official, settings):
    settings.IMPORT_MAX_BYTES = 100
    response = upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n" * 20)
    assert response.status_code == 413
    html = response.content.decode()
    assert "The file is larger than the import limit of 100 B." in html
    assert 'class="field has-error required"' in html
    assert not ImportJob.objects.exists()
    assert not (settings.VAR_DIR / "imports").exists()
    # The browser checks the size before sending (import.js), with the same message.
    form = official.get(START).content.decode()
    assert 'data-max-bytes="100"' in form
    assert 'data-too-large="The file is larger than the import limit of 100 B.' in form


def test_it_refuses_other_file_types_next_to_the_field(world, official):
    response = official.post(START, {"kind": "households", "file": csv_file("x", name="h.pdf")})
    assert response.status_code == 422
    assert "Choose a .csv, .xlsx or .xls file." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_that_cannot_be_read_fails_with_the_reason(world, official):
    upload(official, "姓名,手机号\n张三,13800138000\n", kind="residents")
    job = ImportJob.objects.get()
    assert job.status == "checked" and job.problem_count == 1
    assert job.problems.get().reason == "column is missing"
    official.post(START, {"kind": "households", "file": csv_file("\xff\xfe", encoding="latin-1")})
    failed = ImportJob.objects.latest("pk")
    assert failed.status == "failed"
    html = official.get(job_url(failed)).content.decode()
    assert "is neither UTF-8 nor GB18030 text" in html
    assert "Confirm the import" not in html


def test_problems_are_paginated_and_sortable_by_row_and_column(world, official):
    lines = "".join(f"X{i},,350426100001001,,,\n" for i in range(30))  # no address
    lines += "Y1,地址,999999999999999,,,\n"
    upload(official, HOUSEHOLD_HEADER + lines)
    job = ImportJob.objects.get()
    assert job.problem_count == 31
    first = official.get(job_url(job)).content.decode()
    assert "Page 1 of 2" in first and "<td>地址</td>" in first
    assert '<td class="number">2</td>' in first and '<td class="number">32</td>' not in first
    last = official.get(job_url(job) + "?page=2").content.decode()
    assert '<td class="number">32</td>' in last
    by_column = official.get(job_url(job) + "?sort=-column").content.decode()
    # 网格编码 sorts after 地址: descending, the grid problem of row 32 comes first.
    assert by_column.index("999999999999999") < by_column.index("address is empty")


def test_it_keeps_the_first_problems_and_says_how_many_there_are(world, official, settings):
    settings.IMPORT_MAX_PROBLEMS_SHOWN = 3
    lines = "Y1,地址,999999999999999,,,\n" + "".join(
        f"X{i},,350426100001001,,,\n" for i in range(5)
    )
    upload(official, HOUSEHOLD_HEADER + lines)
    job = ImportJob.objects.get()
    assert (job.status, job.problem_count) == ("checked", 6)
    assert [(p.row, p.value) for p in job.problems.order_by("row")] == [
        (2, "999999999999999"),
        (3, ""),
        (4, ""),
    ]
    html = official.get(job_url(job)).content.decode()
    assert "6 problems were found." in html
    assert (
        "The first 3 of the 6 problems, by row, are listed here. Correct them and upload the "
        "file again to see the rest." in html
    )
    settings.IMPORT_MAX_PROBLEMS_SHOWN = 1000
    upload(official, HOUSEHOLD_HEADER + lines)
    html = official.get(job_url(ImportJob.objects.latest("pk"))).content.decode()
    assert "6 problems were found." in html and "The first" not in html


def test_a_file_past_the_row_limit_fails_with_the_reason(world, official, settings):
    settings.IMPORT_MAX_ROWS = 2
    upload(
        official, HOUSEHOLD_HEADER + "".join(f"N{i},某地,350426100001001,,,\n" for i in range(3))
    )
    job = ImportJob.objects.get()
    assert job.status == "failed" and not job.folder.exists()
    assert job.error == (
        "h.csv: row 4 is past the limit of 2 rows per file (IMPORT_MAX_ROWS); split the file"
    )
    assert job.error in official.get(job_url(job)).content.decode()
    assert not Household.objects.filter(code="N0").exists()


def test_the_far_corner_xlsx_fails_its_job_and_the_worker_goes_on(world, official, tmp_path):
    # 2 KB that made the previous reader abort the worker (SIGABRT), the job stuck "checking".
    data = far_corner(tmp_path / "far.xlsx").read_bytes()
    official.post(START, {"kind": "residents", "file": SimpleUploadedFile("far.xlsx", data)})
    job = ImportJob.objects.get()
    assert (job.status, job.error) == (
        "failed",
        "far.xlsx: row 1048576 has a value in column XFD, past the limit of 256 columns "
        "(IMPORT_MAX_COLUMNS)",
    )
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    assert ImportJob.objects.latest("pk").status == "checked"


def test_deleting_a_job_removes_its_file(world, official):
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    assert job.path.exists()
    response = official.post(job_url(job, "import_delete"), follow=True)
    assert "h.csv and its check were deleted." in response.content.decode()
    assert not ImportJob.objects.exists() and not job.folder.exists()


def test_a_running_job_cannot_be_deleted(world, official):
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="importing")
    response = official.post(job_url(job, "import_delete"), follow=True)
    assert "cannot be stopped" in response.content.decode()
    assert ImportJob.objects.exists() and job.path.exists()


@pytest.fixture
def database_queue(settings: Any, monkeypatch: Any) -> None:
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    # db_worker closes "old" connections between tasks, which would end the test's transaction.
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    settings.NOTIFICATION_BACKENDS = ["console"]


def test_with_the_database_queue_the_job_waits_for_the_worker(world, official, database_queue):
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    assert job.status == "queued"
    assert DBTaskResult.objects.filter(task_path="grassroots.web.tasks.check_import").exists()
    assert "Waiting for the background worker" in official.get(job_url(job)).content.decode()

    call_command("worker", "--once", verbosity=0, stdout=StringIO())
    job.refresh_from_db()
    assert job.status == "checked" and job.created == 1

    official.post(job_url(job, "import_confirm"))
    job.refresh_from_db()
    assert job.status == "queued" and job.confirmed_at is not None
    assert not Household.objects.filter(code="N1").exists()
    call_command("worker", "--once", verbosity=0, stdout=StringIO())
    job.refresh_from_db()
    assert job.status == "done"
    assert Household.objects.get(code="N1").grid == world.grid_a11


def test_it_imports_residents_from_an_xlsx_file(world, official):
    import io

    import openpyxl

    from grassroots.registry.models import Resident
    from tests import factories as f

    number = f.id_number()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "户编号", "与户主关系"])
    sheet.append(["张三", number, "HA11-1", "配偶"])
    sheet.append(["李四", "123", "HA11-1", "子女"])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()

    def xlsx() -> SimpleUploadedFile:
        return SimpleUploadedFile("r.xlsx", data)

    official.post(START, {"kind": "residents", "file": xlsx()})
    job = ImportJob.objects.get()
    assert job.kind == "residents" and job.problem_count == 1
    problem = job.problems.get()
    assert (problem.row, problem.column, problem.value) == (3, "身份证号", "123")

    sheet.delete_rows(3)
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    official.post(START, {"kind": "residents", "file": xlsx()})
    job = ImportJob.objects.latest("pk")
    assert (job.status, job.created, job.problem_count) == ("checked", 1, 0)
    official.post(job_url(job, "import_confirm"))
    resident = Resident.objects.get(name="张三")
    assert resident.household == world.households["HA11-1"] and resident.relation == "spouse"


def test_the_importers_report_progress_outside_the_write(world, tmp_path, monkeypatch):
    from grassroots.core import imports as pipeline
    from grassroots.registry import imports

    # The pipeline reports the progress of every kind (core/imports.py).
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY", 2)
    path = tmp_path / "h.csv"
    path.write_text(
        HOUSEHOLD_HEADER + "".join(f"N{i},某地,350426100001001,,,\n" for i in range(5)),
        encoding="utf-8",
    )
    calls: list[tuple[str, int]] = []
    imports.import_households(path, dry_run=True, progress=lambda *a: calls.append(a))
    assert calls == [("reading", 2), ("reading", 4), ("reading", 5)]
    calls.clear()
    imports.import_households(path, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("writing", 5)
    assert Household.objects.filter(code__startswith="N").count() == 5


def test_the_poll_updates_the_status_badge_too(world, official, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    page = official.get(job_url(job)).content.decode()
    assert page.count('id="import-status"') == 1
    partial = official.get(job_url(job, "import_progress")).content.decode()
    assert '<span id="import-status" hx-swap-oob="true">' in partial and "Queued" in partial


def test_a_stalled_job_can_be_deleted(world, official):
    import os
    import time

    upload(official, HOUSEHOLD_HEADER + "N1,某地,350426100001001,,,\n")
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="checking")
    job.refresh_from_db()
    write_progress(job, "reading", 1, 1)
    assert "Cancel and delete the file" not in official.get(job_url(job)).content.decode()
    # The worker died an hour ago: the job may go.
    an_hour_ago = time.time() - 3600
    os.utime(job.folder / PROGRESS_FILE, (an_hour_ago, an_hour_ago))
    assert "Cancel and delete the file" in official.get(job_url(job)).content.decode()
    official.post(job_url(job, "import_delete"))
    assert not ImportJob.objects.exists() and not job.folder.exists()


def test_it_checks_an_old_binary_xls_upload_too(world, official, tmp_path):
    from tests.core.test_xlsx import write_xls

    path = write_xls(
        tmp_path / "h.xls",
        [["户编号", "地址", "网格编码"], ["X1", "某地", "350426100001001"], ["", "没有编号", ""]],
    )
    upload_file = SimpleUploadedFile("h.xls", path.read_bytes())
    official.post(START, {"kind": "households", "file": upload_file})
    job = ImportJob.objects.get()
    assert (job.status, job.rows_total, job.created, job.problem_count) == ("checked", 2, 0, 1)
    problem = job.problems.get()
    assert (problem.row, problem.column, problem.reason) == (3, "户编号", "household code is empty")
