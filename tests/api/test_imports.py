"""POST /api/v1/imports/{kind}: spreadsheet imports through the API, and the upload limit."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import LimitedStream
from django.test import RequestFactory

from grassroots.core.uploads import LimitedUploadHandler, UploadTooLarge
from grassroots.registry import api_imports
from grassroots.registry.models import Household, Resident
from tests import factories as f
from tests.core.xlsx_files import far_corner
from tests.factories import CountingStream

from .conftest import API, body

RESIDENT_HEADER = "姓名,身份证号,手机号,户编号,与户主关系,居住类型,标签\n"
HOUSEHOLD_HEADER = "户编号,地址,网格编码\n"


@pytest.fixture
def upload(client, tokens):
    """`upload("official", "residents", b"...", name="r.csv", dry_run="false")`."""

    def post(persona, kind, content, *, name="r.csv", field="file", **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        headers = {"Authorization": f"Bearer {tokens[persona]}"} if persona else {}
        return client.post(
            f"{API}/imports/{kind}" + (f"?{query}" if query else ""),
            {field: SimpleUploadedFile(name, content)},
            headers={**headers, "Accept-Language": "en"},
        )

    return post


def test_it_checks_a_file_and_writes_nothing_by_default(world, upload):
    number = f.id_number()
    content = (RESIDENT_HEADER + f"新人,{number},,HA11-1,子女,户籍,\n").encode()
    response = upload("official", "residents", content)
    assert response.status_code == 200
    assert body(response) == {
        "kind": "residents",
        "file": "r.csv",
        "encoding": "utf-8",
        "dry_run": True,
        "written": False,
        "rows": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
        "problem_count": 0,
        "problems": [],
    }
    assert not Resident.objects.with_id_number(number).exists()


def test_it_writes_a_valid_file_when_asked(world, upload):
    number = f.id_number()
    content = (RESIDENT_HEADER + f"新人,{number},13900139000,HA11-1,子女,户籍,\n").encode()
    data = body(upload("official", "residents", content, dry_run="false"))
    assert (data["written"], data["created"], data["problems"]) == (True, 1, [])
    assert Resident.objects.with_id_number(number).get().household.code == "HA11-1"
    # The same file again changes nothing.
    data = body(upload("official", "residents", content, dry_run="false"))
    assert (data["created"], data["unchanged"]) == (0, 1)


def test_it_names_every_problem_by_row_and_column_and_writes_nothing(world, upload):
    content = (
        HOUSEHOLD_HEADER
        + "HA11-9,好地址,350426100001001\n"
        + ",空编号,350426100001001\n"
        + "HA11-10,,350426100009009\n"
    ).encode()
    data = body(upload("official", "households", content, dry_run="false", name="h.csv"))
    assert (data["written"], data["rows"]) == (False, 3)
    assert data["problems"] == [
        {"row": 3, "column": "户编号", "reason": "household code is empty"},
        {"row": 4, "column": "地址", "reason": "address is empty"},
        {"row": 4, "column": "网格编码", "reason": "grid 350426100009009 does not exist"},
    ]
    assert not Household.objects.filter(code="HA11-9").exists()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_it_says_which_encoding_it_read(world, upload, encoding):
    content = (RESIDENT_HEADER + f"张三,{f.id_number()},,HA11-1,户主,,\n").encode(encoding)
    assert body(upload("official", "residents", content))["encoding"] == encoding


def test_it_reads_xlsx(world, upload, tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["户编号", "地址", "网格编码"])
    workbook.active.append(["HA11-9", "好地址", "350426100001001"])
    workbook.save(tmp_path / "h.xlsx")
    data = body(upload("official", "households", (tmp_path / "h.xlsx").read_bytes(), name="h.xlsx"))
    assert (data["encoding"], data["created"], data["problems"]) == (None, 1, [])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "r.csv",
            RESIDENT_HEADER.encode("utf-16"),
            "r.csv is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 or as .xlsx",
        ),
        ("r.pdf", b"%PDF-1.4", "r.pdf: only .csv, .xlsx and .xls files can be imported"),
        ("r.csv", b"", "r.csv is empty"),
        ("r.xlsx", b"not a zip", None),
        (
            "r.xls",
            b"not an xls",
            "r.xls is not a readable .xls file: XLRDError: Unsupported format, or corrupt file: "
            "Expected BOF record; found b'not an x'",
        ),
    ],
)
def test_it_refuses_a_file_it_cannot_read_with_422(world, upload, name, content, reason):
    response = upload("official", "residents", content, name=name)
    assert response.status_code == 422
    error = body(response)["errors"][0]
    assert error["field"] == "file"
    if reason:
        assert error["reason"] == reason
    else:
        assert error["reason"].startswith(f"{name} is not a readable .xlsx file")


def test_it_keeps_only_the_uploaded_name_without_folders(world, upload):
    content = (HOUSEHOLD_HEADER + "HA11-9,好地址,350426100001001\n").encode()
    data = body(upload("official", "households", content, name="../../etc/h.csv"))
    assert data["file"] == "h.csv"


def test_it_refuses_rows_outside_the_callers_scope(world, upload):
    content = (RESIDENT_HEADER + f"甲,{f.id_number()},,HB11-1,户主,,\n").encode()
    data = body(upload("secretary", "residents", content, dry_run="false"))
    assert data["problems"] == [
        {"row": 2, "column": "户编号", "reason": "household HB11-1 does not exist"}
    ]
    assert data["written"] is False


def test_it_refuses_to_take_over_a_household_outside_the_callers_scope(world, upload):
    content = (HOUSEHOLD_HEADER + "HB11-1,改地址,350426100001001\n").encode()
    data = body(upload("secretary", "households", content, dry_run="false", name="h.csv"))
    assert data["problems"] == [
        {"row": 2, "column": "户编号", "reason": "household HB11-1 is outside your area"}
    ]
    assert (data["written"], data["updated"]) == (False, 0)
    assert Household.objects.get(code="HB11-1").grid == world.grid_b11


def test_it_refuses_to_move_a_resident_outside_the_callers_scope(world, upload):
    number = world.residents["周杰伦"].id_number
    content = (RESIDENT_HEADER + f"周杰伦,{number},13700137000,HA11-1,户主,,\n").encode()
    data = body(upload("secretary", "residents", content, dry_run="false"))
    assert data["problems"] == [
        {
            "row": 2,
            "column": "身份证号",
            "reason": "the resident with this ID number lives outside your area",
        }
    ]
    assert data["written"] is False
    assert Resident.objects.with_id_number(number).get().household.code == "HB11-1"


def test_it_refuses_a_unit_outside_the_callers_scope_like_one_that_does_not_exist(world, upload):
    content = (RESIDENT_HEADER + f"流动丙,{f.id_number()},,,,流动,\n").encode()
    for unit in (world.village_b1.code, "350426100099"):
        response = upload("secretary", "residents", content, unit=unit, dry_run="false")
        assert response.status_code == 422
        assert body(response)["errors"] == [
            {"field": "unit", "reason": f"no unit with code {unit}"}
        ]
    response = upload("secretary", "residents", content, unit="3504261")
    assert body(response)["errors"][0]["field"] == "unit"
    data = body(upload("secretary", "residents", content, unit=world.village_a1.code))
    assert (data["problems"], data["created"]) == ([], 1)


@pytest.mark.parametrize("persona", ["worker", "dispatcher", "auditor"])
def test_it_needs_the_import_permission(world, upload, persona):
    content = (HOUSEHOLD_HEADER + "HA11-9,好地址,350426100001001\n").encode()
    response = upload(persona, "households", content, dry_run="false", name="h.csv")
    assert response.status_code == 403
    assert body(response) == {"detail": "Your role lacks the permission registry.import_registry"}
    assert not Household.objects.filter(code="HA11-9").exists()


def test_it_needs_credentials(world, upload):
    response = upload(None, "households", b"x", name="h.csv")
    assert response.status_code == 401


@pytest.mark.parametrize("kind", ["units", "grids", "enterprises", "HOUSEHOLDS"])
def test_it_refuses_a_kind_it_does_not_import(world, upload, kind):
    response = upload("official", kind, b"code,name\n", name="u.csv")
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "kind"


def test_it_needs_a_file(world, upload):
    response = upload("official", "residents", b"x", field="other")
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "file"


# Large and crafted files: the row limit, the first problems, the far corner cell

HOTLINE_HEADER = "工单编号,受理时间,诉求类别,诉求内容,地址,经度,纬度,所属单位\n"


def test_it_lists_the_first_problems_and_counts_them_all(world, upload, settings):
    settings.IMPORT_MAX_PROBLEMS_SHOWN = 2
    content = (
        HOUSEHOLD_HEADER + "HA11-9,,350426100001001\n" + ",甲,350426100001001\n" * 3
    ).encode()
    data = body(upload("official", "households", content, dry_run="false", name="h.csv"))
    assert (data["written"], data["rows"], data["problem_count"]) == (False, 4, 4)
    assert data["problems"] == [
        {"row": 2, "column": "地址", "reason": "address is empty"},
        {"row": 3, "column": "户编号", "reason": "household code is empty"},
    ]


@pytest.mark.parametrize(
    ("persona", "kind", "content"),
    [
        (
            "official",
            "residents",
            RESIDENT_HEADER + f"新人,{f.id_number()},,HA11-1,子女,户籍,\n" * 3,
        ),
        (
            "dispatcher",
            "hotline",
            HOTLINE_HEADER + "GD1,2026-03-02,环境卫生,垃圾,水东路,,,350426100001\n" * 3,
        ),
    ],
)
def test_it_refuses_a_file_past_the_row_limit_with_422(
    world, upload, settings, persona, kind, content
):
    settings.IMPORT_MAX_ROWS = 2
    response = upload(persona, kind, content.encode(), dry_run="false")
    assert response.status_code == 422
    assert body(response)["errors"] == [
        {
            "field": "file",
            "reason": "r.csv: row 4 is past the limit of 2 rows per file (IMPORT_MAX_ROWS); "
            "split the file",
        }
    ]
    settings.IMPORT_MAX_ROWS = 3
    assert upload(persona, kind, content.encode()).status_code == 200


def test_it_refuses_the_far_corner_xlsx_with_422_and_goes_on(world, upload, tmp_path):
    # 2 KB that made the previous reader abort the server process (SIGABRT).
    content = far_corner(tmp_path / "far.xlsx").read_bytes()
    response = upload("official", "residents", content, name="far.xlsx")
    assert response.status_code == 422
    assert body(response)["errors"] == [
        {
            "field": "file",
            "reason": "far.xlsx: row 1048576 has a value in column XFD, past the limit of 256 "
            "columns (IMPORT_MAX_COLUMNS)",
        }
    ]
    content = (HOUSEHOLD_HEADER + "HA11-9,好地址,350426100001001\n").encode()
    assert body(upload("official", "households", content, name="h.csv"))["created"] == 1


# The upload limit


def test_it_refuses_an_oversize_upload_with_413_and_writes_nothing(
    world, upload, settings, monkeypatch
):
    settings.IMPORT_MAX_BYTES = 1000

    def unreached(*args, **kwargs):
        raise AssertionError("the upload handler stops the request before the operation")

    monkeypatch.setattr(api_imports, "require_perm", unreached)
    rows = "".join(f"大{i},{f.id_number()},,HA11-1,子女,户籍,\n" for i in range(60))
    content = (RESIDENT_HEADER + rows).encode()
    assert len(content) > 2000
    before = Resident.objects.count()
    response = upload("official", "residents", content, dry_run="false")
    assert response.status_code == 413
    assert body(response) == {
        "detail": "The upload is larger than the import limit of 1000 B (IMPORT_MAX_BYTES)"
    }
    assert Resident.objects.count() == before


def test_it_refuses_an_oversize_file_that_another_upload_handler_let_through(
    world, upload, settings
):
    settings.IMPORT_MAX_BYTES = 1000
    settings.FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
    content = (RESIDENT_HEADER + f"大,{f.id_number()},,HA11-1,子女,户籍,\n" * 40).encode()
    response = upload("official", "residents", content, dry_run="false")
    assert response.status_code == 413
    assert body(response) == {
        "detail": "The upload is larger than the import limit of 1000 B (IMPORT_MAX_BYTES)"
    }


def request_with_upload(size: int):
    request = RequestFactory().post("/upload", {"file": SimpleUploadedFile("big.csv", b"x" * size)})
    length = int(request.META["CONTENT_LENGTH"])
    stream = CountingStream(request.environ["wsgi.input"].read(length))
    request._stream = LimitedStream(stream, length)
    return request, stream, length


def test_it_stops_reading_an_upload_once_it_passes_the_limit(settings):
    settings.IMPORT_MAX_BYTES = 100 * 1024
    # Within the limit plus the room left for the multipart envelope: read, then stopped.
    request, stream, length = request_with_upload(150 * 1024)
    with pytest.raises(UploadTooLarge):
        request.FILES  # noqa: B018
    assert stream.read_bytes < length
    assert stream.read_bytes <= settings.IMPORT_MAX_BYTES + 2 * LimitedUploadHandler.chunk_size


def test_it_refuses_a_declared_length_far_past_the_limit_without_reading(settings):
    settings.IMPORT_MAX_BYTES = 100 * 1024
    request, stream, _length = request_with_upload(1024 * 1024)
    with pytest.raises(UploadTooLarge):
        request.FILES  # noqa: B018
    assert stream.read_bytes == 0


def test_it_accepts_an_upload_of_exactly_the_limit(settings):
    settings.IMPORT_MAX_BYTES = 100 * 1024
    request, _stream, _length = request_with_upload(100 * 1024)
    assert request.FILES["file"].size == 100 * 1024


def test_it_answers_400_for_an_oversize_upload_outside_the_api(db, client, settings):
    settings.IMPORT_MAX_BYTES = 1000
    response = client.post("/admin/login/", {"file": SimpleUploadedFile("x.csv", b"x" * 5000)})
    assert response.status_code == 400
