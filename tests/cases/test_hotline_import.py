"""Import of 12345 hotline work orders: placement, row-level problems, all or nothing, once only."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from grassroots.cases.imports import import_hotline, parse_received_at
from grassroots.cases.models import Case, CaseEvent, Notification
from grassroots.cases.services import case_report
from grassroots.core.scoping import Scope

HEADER = "工单编号,受理时间,诉求类别,诉求内容,地址,经度,纬度,所属单位,来电人,联系电话,紧急\n"
# Inside grid A1-1 (118.10-118.11, 26.10-26.11).
IN_A11 = "118.105,26.105"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def good_file(tmp_path, name="orders.csv"):
    return write(
        tmp_path / name,
        HEADER
        + f"GD2026030001,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日无人清理,水东路12号,{IN_A11},,张先生,13912345678,否\n"
        + "GD2026030002,2026/3/2 10:05,safety,西门社区楼道堆放杂物有火灾隐患,西门路3号,,,350426100002,李女士,0598-6321234,是\n"
        + "GD2026030003,2026年3月2日 11:20,市政设施,路灯损坏晚上很黑,城外,118.5,26.5,350426100001,,,0\n",
    )


def problems(result):
    return [(p.row, p.column, p.reason) for p in result.problems]


def test_it_takes_in_a_good_file_placing_each_order(world, tmp_path):
    dispatcher = world.users["dispatcher"]
    result = import_hotline(good_file(tmp_path), actor=dispatcher)
    assert problems(result) == []
    assert (result.rows, result.created, result.kind) == (3, 3, "hotline")
    by_order = {c.external_id: c for c in Case.objects.all()}
    first, second, third = (by_order[f"GD202603000{i}"] for i in (1, 2, 3))
    # By coordinates: the grid holding them.
    assert (first.grid, first.scope_code, first.category.code) == (
        world.grid_a11,
        world.grid_a11.code,
        "environment",
    )
    assert first.reported_at == timezone.make_aware(datetime.datetime(2026, 3, 2, 9, 30))
    assert (first.reporter_name, first.reporter_phone, first.urgent) == (
        "张先生",
        "13912345678",
        False,
    )
    assert (first.address, first.channel, first.reporter_user) == (
        "水东路12号",
        "hotline_import",
        dispatcher,
    )
    # By unit: its queue, at the unit's tier.
    assert (second.grid, second.unit, second.tier) == (None, world.village_a2, "village")
    assert (second.urgent, second.reporter_phone, second.category.code) == (
        True,
        "05986321234",
        "safety",
    )
    # Coordinates in no grid, and a unit: the unit's queue.
    assert (third.grid, third.unit) == (None, world.village_a1)
    assert third.reported_at == timezone.make_aware(datetime.datetime(2026, 3, 2, 11, 20))
    for case in (first, second, third):
        [report] = CaseEvent.objects.filter(case=case)
        assert (report.action, report.actor) == ("report", dispatcher)


def test_it_audits_each_case_and_the_import(world, tmp_path):
    import_hotline(good_file(tmp_path), actor=world.users["dispatcher"])
    assert Event.objects.filter(object_type="cases.case", action="create").count() == 3
    [event] = Event.objects.filter(action="import")
    assert event.object_type == "cases.case" and event.object_repr == "orders.csv"
    assert event.changes == {
        "kind": "hotline",
        "file": "orders.csv",
        "encoding": "utf-8",
        "rows": 3,
        "created": 3,
    }


def test_it_tells_each_person_once_per_tier(world, tmp_path):
    path = write(
        tmp_path / "o.csv",
        HEADER
        + f"A1,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日无人清理,,{IN_A11},,,,否\n"
        + f"A2,2026-03-02 09:40,环境卫生,水东路污水外溢气味难闻,,{IN_A11},,,,否\n",
    )
    import_hotline(path, actor=world.users["dispatcher"])
    told = Notification.objects.filter(recipient=world.users["worker"])
    assert told.count() == 1
    [message] = told
    assert message.subject == "12345 hotline: 2 new work order(s)"
    assert all(c.tracking_code in message.body for c in Case.objects.all())
    assert "垃圾" not in message.body


def test_it_reads_xlsx_with_date_cells(world, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["order_no", "received_at", "category", "description", "lon", "lat", "urgent"])
    sheet.append(
        [
            "X-1",
            datetime.datetime(2026, 3, 2, 8, 15),
            "dispute",
            "两户因排水沟发生纠纷",
            118.105,
            26.105,
            "yes",
        ]
    )
    sheet.append(
        ["X-2", "2026-03-02T08:20:00+08:00", "矛盾纠纷", "邻居噪音扰民", 118.115, 26.105, 0]
    )
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    result = import_hotline(path)
    assert problems(result) == []
    assert result.encoding is None
    one, two = Case.objects.get(external_id="X-1"), Case.objects.get(external_id="X-2")
    assert (one.grid, one.kind, one.urgent) == (world.grid_a11, "mediation", True)
    assert one.reported_at == timezone.make_aware(datetime.datetime(2026, 3, 2, 8, 15))
    assert (two.grid, two.urgent) == (world.grid_a12, False)
    assert one.reporter_user is None


def test_it_names_every_bad_row_by_row_and_column_and_writes_nothing(world, tmp_path):
    future = (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + f"OK-1,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日无人清理,,{IN_A11},,,,\n"  # 2
        + f",2026-03-02 09:30,环境卫生,没有工单编号的工单,,{IN_A11},,,,\n"  # 3
        + f"OK-1,2026-03-02 09:30,环境卫生,重复的工单编号,,{IN_A11},,,,\n"  # 4
        + f"B-5,昨天上午,环境卫生,时间写错了的工单,,{IN_A11},,,,\n"  # 5
        + f"B-6,2026-03-02 09:30,噪音,不认识的类别,,{IN_A11},,,,\n"  # 6
        + f"B-7,2026-03-02 09:30,环境卫生,短,,{IN_A11},,,,\n"  # 7
        + "B-8,2026-03-02 09:30,环境卫生,经度写错了,,东经118,26.1,,,,\n"  # 8
        + "B-9,2026-03-02 09:30,环境卫生,只有经度没有纬度,,118.105,,,,,\n"  # 9
        + "B-10,2026-03-02 09:30,环境卫生,没有坐标也没有单位,,,,,,,\n"  # 10
        + "B-11,2026-03-02 09:30,环境卫生,单位编码位数不对,,,,3504261,,,\n"  # 11
        + "B-12,2026-03-02 09:30,环境卫生,单位不存在的工单,,,,350426100009,,,\n"  # 12
        + f"B-13,2026-03-02 09:30,环境卫生,电话号码写错了,,{IN_A11},,,12345,\n"  # 13
        + f"B-14,2026-03-02 09:30,环境卫生,紧急程度写错了,,{IN_A11},,,,很急\n"  # 14
        + f"B-15,{future},环境卫生,受理时间在将来,,{IN_A11},,,,\n"  # 15
        + "B-16,2026-03-02 09:30,环境卫生,坐标在国外的工单,,10.5,45.1,,,,\n"  # 16
        + ",,,,,,,,,,\n"  # an empty row is skipped
        + "B-18,,,,,,,,,,\n",  # 18
    )
    result = import_hotline(path)
    assert problems(result) == [
        (3, "工单编号", "work order number is empty"),
        (4, "工单编号", "duplicate of row 2"),
        (5, "受理时间", "昨天上午 is not a date and time (use YYYY-MM-DD HH:MM)"),
        (
            6,
            "诉求类别",
            "噪音 is not a known category (use one of 企业服务、其他、困难帮扶、安全隐患、"
            "市政设施、政策咨询、环境卫生、矛盾纠纷)",
        ),
        (7, "诉求内容", "Describe the matter in at least 4 characters"),
        (8, "经度", "longitude 东经118 is not a number"),
        (9, "纬度", "Give both longitude and latitude"),
        (10, "所属单位", "no coordinates: give the unit code (所属单位) the order goes to"),
        (11, "所属单位", "a unit code has 9 (town) or 12 (village) digits"),
        (12, "所属单位", "no town or village with code 350426100009"),
        (13, "联系电话", "Mobile number must be 11 digits starting with 13 to 19"),
        (14, "紧急", "很急 is not yes or no (use 是/否, yes/no or 1/0)"),
        (15, "受理时间", "The report time lies in the future"),
        (16, "经度", "lon 10.5 lies outside China"),
        (18, "受理时间", "time received is empty"),
        (18, "诉求类别", "category is empty"),
        (18, "所属单位", "no coordinates: give the unit code (所属单位) the order goes to"),
        (18, "诉求内容", "Describe the matter in at least 4 characters"),
    ]
    assert result.rows == 16
    assert not Case.objects.exists()
    assert not Event.objects.filter(action="import").exists()


def test_it_refuses_an_order_taken_in_before(world, tmp_path):
    path = good_file(tmp_path)
    assert import_hotline(path).ok
    again = import_hotline(path)
    codes = dict(Case.objects.values_list("external_id", "tracking_code"))
    assert problems(again) == [
        (
            row,
            "工单编号",
            f"work order {no} was already taken in as case {codes[no]}",
        )
        for row, no in ((2, "GD2026030001"), (3, "GD2026030002"), (4, "GD2026030003"))
    ]
    assert Case.objects.count() == 3
    assert Event.objects.filter(action="import").count() == 1


def test_it_refuses_an_order_a_dispatcher_entered_from_the_call(world, tmp_path):
    entered = case_report(
        actor=world.users["dispatcher"],
        channel="hotline",
        external_id="GD2026030001",
        category="environment",
        description="水东路垃圾堆放多日无人清理",
        lon=118.105,
        lat=26.105,
        notify=False,
    )
    result = import_hotline(good_file(tmp_path))
    assert problems(result) == [
        (
            2,
            "工单编号",
            f"work order GD2026030001 was already taken in as case {entered.tracking_code}",
        )
    ]
    assert Case.objects.count() == 1


def test_a_dry_run_writes_nothing(world, tmp_path):
    result = import_hotline(good_file(tmp_path), dry_run=True)
    assert (result.ok, result.dry_run, result.created) == (True, True, 3)
    assert not Case.objects.exists()
    assert not Event.objects.exists()
    assert not Notification.objects.exists()


def test_it_keeps_to_the_importers_scope(world, tmp_path):
    path = write(
        tmp_path / "o.csv",
        HEADER
        + "C-1,2026-03-02 09:30,环境卫生,半山村垃圾堆放多日,,118.205,26.205,,,,\n"
        + "C-2,2026-03-02 09:30,环境卫生,半山村路灯不亮很久,,,,350426101201,,,\n"
        + f"C-3,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日,,{IN_A11},,,,\n",
    )
    result = import_hotline(path, scope=Scope.for_user(world.users["dispatcher"]))
    assert problems(result) == [
        (
            2,
            "经度",
            "the point (118.205, 26.205) lies in grid 350426101201001, outside your area",
        ),
        (3, "所属单位", "no town or village with code 350426101201"),
    ]
    assert not Case.objects.exists()


def test_it_names_missing_columns(world, tmp_path):
    result = import_hotline(
        write(tmp_path / "o.csv", "工单编号,诉求内容,经度,纬度\nX,很长的内容,1,2\n")
    )
    assert problems(result) == [
        (1, "受理时间 (received_at)", "column is missing"),
        (1, "诉求类别 (category)", "column is missing"),
    ]
    result = import_hotline(
        write(
            tmp_path / "p.csv", "工单编号,受理时间,诉求类别,诉求内容\nX,2026-03-02,其他,内容很长\n"
        )
    )
    assert problems(result) == [
        (
            1,
            "经度/纬度 (lon/lat), 所属单位 (unit)",
            "give coordinates or the unit code: without either an order has no place",
        )
    ]


def test_it_reads_gb18030(world, tmp_path):
    path = write(
        tmp_path / "o.csv",
        HEADER + f"G-1,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日无人清理,,{IN_A11},,,,\n",
        encoding="gb18030",
    )
    result = import_hotline(path)
    assert (result.ok, result.encoding) == (True, "gb18030")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02 09:30", (2026, 3, 2, 9, 30)),
        ("2026-03-02 09:30:15", (2026, 3, 2, 9, 30, 15)),
        ("2026/3/2 9:05", (2026, 3, 2, 9, 5)),
        ("2026年3月2日 9:05", (2026, 3, 2, 9, 5)),
        ("2026年3月2日9时5分", (2026, 3, 2, 9, 5)),
        ("2026-03-02", (2026, 3, 2, 0, 0)),
        ("2026-03-02T01:30:00+00:00", (2026, 3, 2, 9, 30)),
    ],
)
def test_it_reads_the_times_exports_write(text, expected):
    value = parse_received_at(text)
    assert timezone.localtime(value) == timezone.make_aware(datetime.datetime(*expected))


@pytest.mark.parametrize("text", ["", "明天", "2026-13-01 09:00", "09:30"])
def test_it_reads_no_time_from_other_text(text):
    assert parse_received_at(text) is None


# --- The command -----------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("hotline", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_the_command_takes_in_a_file(world, tmp_path):
    path = good_file(tmp_path)
    code, out, err = run("import", path, "--dry-run")
    assert code == 0
    assert "dry run, nothing written: would take in 3 work order(s)" in out
    assert not Case.objects.exists()
    code, out, _err = run("import", path, "--as-user", "dispatcher")
    assert (code, out.strip()) == (0, "hotline: took in 3 work order(s)")
    assert set(Case.objects.values_list("reporter_user__username", flat=True)) == {"dispatcher"}
    [event] = Event.objects.filter(action="import")
    assert (event.channel, event.actor_name) == ("import", "dispatcher")


def test_the_command_lists_problems_and_writes_an_error_file(world, tmp_path):
    path = write(
        tmp_path / "o.csv",
        HEADER
        + f"E-1,2026-03-02 09:30,环境卫生,水东路垃圾堆放多日无人清理,,{IN_A11},,,,\n"
        + "E-2,2026-03-02 09:30,噪音,楼上噪音扰民,,,,,,,\n",
    )
    errors = tmp_path / "errors.csv"
    code, out, err = run("import", path, "--errors", errors)
    assert code == 1
    assert "row 3: 诉求类别: 噪音 is not a known category" in out
    assert "row 3: 所属单位: no coordinates" in out
    assert "2 problem(s) in 1 row(s) of 2; nothing was written" in err
    rows = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "row" and rows[0][-1] == "reason"
    assert rows[1][:2] == ["3", "E-2"]
    assert "噪音 is not a known category" in rows[1][-1]
    assert not Case.objects.exists()


def test_the_command_refuses_an_unknown_user_and_a_missing_file(world, tmp_path):
    code, _out, err = run("import", good_file(tmp_path), "--as-user", "nobody")
    assert code == 1 and "--as-user: no active user named nobody" in err
    code, _out, err = run("import", tmp_path / "none.csv")
    assert code == 1 and "does not exist" in err


# --- The API ---------------------------------------------------------------------------------


@pytest.fixture
def upload(client, world):
    tokens = {name: ApiToken.issue(user)[1] for name, user in world.users.items()}

    def post(persona, content, name="orders.csv", **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return client.post(
            "/api/v1/imports/hotline" + (f"?{query}" if query else ""),
            {"file": SimpleUploadedFile(name, content)},
            headers={"Authorization": f"Bearer {tokens[persona]}", "Accept-Language": "en"},
        )

    return post


def test_the_api_checks_then_takes_in(world, tmp_path, upload):
    content = good_file(tmp_path).read_bytes()
    response = upload("dispatcher", content)
    assert response.status_code == 200
    assert response.json() == {
        "kind": "hotline",
        "file": "orders.csv",
        "encoding": "utf-8",
        "dry_run": True,
        "written": False,
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
        "problem_count": 0,
        "problems": [],
    }
    assert not Case.objects.exists()
    data = upload("dispatcher", content, dry_run="false").json()
    assert (data["written"], data["created"]) == (True, 3)
    assert Case.objects.filter(reporter_user=world.users["dispatcher"]).count() == 3
    [event] = Event.objects.filter(action="import")
    assert (event.channel, event.actor_name) == ("api", "dispatcher")
    again = upload("dispatcher", content, dry_run="false").json()
    assert again["written"] is False
    assert [p["row"] for p in again["problems"]] == [2, 3, 4]
    assert again["problems"][0]["column"] == "工单编号"


def test_the_api_needs_the_import_permission(world, tmp_path, upload):
    response = upload("worker", good_file(tmp_path).read_bytes(), dry_run="false")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role lacks the permission cases.import_hotline"}
    assert not Case.objects.exists()


def test_the_api_refuses_an_unreadable_file(world, upload):
    response = upload("dispatcher", b"\x00\x01", name="orders.pdf")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_grassroots_import_hotline_is_the_same_command(world, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import",
        "hotline",
        str(good_file(tmp_path)),
        "--as-user",
        "dispatcher",
        stdout=out,
        stderr=err,
    )
    assert out.getvalue().strip() == "hotline: took in 3 work order(s)"
    assert err.getvalue().endswith("orders.csv as utf-8\n")
    assert set(Case.objects.values_list("reporter_user__username", flat=True)) == {"dispatcher"}
    with pytest.raises(CommandError, match="^--as-user: no active user named nobody$"):
        call_command("import", "hotline", str(good_file(tmp_path)), "--as-user", "nobody")


def test_the_api_answers_409_when_another_import_holds_the_lock_too_long(
    world, tmp_path, upload, monkeypatch
):
    from grassroots.core.imports import ImportBusy
    from grassroots.registry import api_imports

    def busy(*args, **kwargs):
        raise ImportBusy("another import is being written")

    monkeypatch.setattr(api_imports, "run_import", busy)
    response = upload("dispatcher", good_file(tmp_path).read_bytes(), dry_run="false")
    assert response.status_code == 409
    assert response.json() == {"detail": "another import is being written"}
    assert not Case.objects.exists()
