"""Hostile and oversized spreadsheets through the import API: time, memory and answer size.

bench/run.py starts this file (`--only uploads`, and in the default run):

    .venv/bin/python bench/uploads.py --out figures.json

Each upload is a dry run of `POST /api/v1/imports/residents` by a town official, made in a
process of its own so that its peak memory (ru_maxrss) is its own: the figure is what the
request added to a process that had already loaded Django and answered one small import. The
files, made here:

- far corner: an .xlsx of 2 KB holding only A1 and XFD1048576 (the previous reader asked for a
  dense range of 512 GiB and aborted the process);
- sparse: 200,000 rows holding one cell each (124 KB of .xlsx; before the row cap it added about
  half a gigabyte to the server and answered 29 MB);
- at the cap: IMPORT_MAX_ROWS rows of residents whose household does not exist, as .xlsx;
- baseline: the same rows as CSV, the plain reader, through the same endpoint.

Figures go to --out as JSON; bench/report.py renders them. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx(path: Path, rows: Any, dimension: str = "A1") -> None:
    """A minimal .xlsx of inline strings: `rows` yields (row number, [(column, text)])."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + f'<dimension ref="{dimension}"/><sheetData>'.encode()
            )
            for number, cells in rows:
                body = "".join(_cell(f"{col}{number}", text) for col, text in cells)
                sheet.write(f'<row r="{number}">{body}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")


HEADER = ["姓名", "身份证号", "户编号", "与户主关系", "居住类型"]
COLUMNS = "ABCDE"


def _id_number(seq: int) -> str:
    first17 = f"350426198001{seq % 10000:04d}"[:14] + f"{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
    return first17 + check


def resident_rows(count: int) -> list[list[str]]:
    return [
        [f"居民{i}", _id_number(i), f"NOHOUSE-{i}", "户主", "户籍"] for i in range(1, count + 1)
    ]


def make_files(folder: Path, at_cap: int) -> dict[str, Path]:
    files = {}
    files["far_corner"] = folder / "far-corner.xlsx"
    xlsx(
        files["far_corner"],
        [(1, [("A", "姓名")]), (1048576, [("XFD", "x")])],
        dimension="A1:XFD1048576",
    )
    files["sparse"] = folder / "sparse-200k.xlsx"
    xlsx(
        files["sparse"],
        [(1, list(zip(COLUMNS, HEADER, strict=True)))]
        + [(n, [("A", "x")]) for n in range(2, 200_002)],
    )
    rows = resident_rows(at_cap)
    files["at_cap"] = folder / "at-cap.xlsx"
    xlsx(
        files["at_cap"],
        [(1, list(zip(COLUMNS, HEADER, strict=True)))]
        + [(n, list(zip(COLUMNS, row, strict=True))) for n, row in enumerate(rows, start=2)],
    )
    files["baseline_csv"] = folder / "at-cap.csv"
    text = io.StringIO()
    text.write(",".join(HEADER) + "\n")
    for row in rows:
        text.write(",".join(row) + "\n")
    files["baseline_csv"].write_text(text.getvalue(), encoding="utf-8")
    return files


# --- One upload, in a process of its own ----------------------------------------------------


def _setup(workdir: Path) -> None:
    os.environ["VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    os.environ.setdefault("LANGUAGE_CODE", "en")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def build(workdir: Path) -> None:
    """The database: a county, a town, a village, a grid and a town official with a token."""
    _setup(workdir)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from grassroots.accounts.models import ApiToken, User
    from grassroots.territory.models import Grid, Unit

    county = Unit.objects.create(code="350426", name="尤溪县", level="county", kind="county")
    town = Unit.objects.create(
        code="350426100", name="城关镇", level="town", kind="town", parent=county
    )
    village = Unit.objects.create(
        code="350426100001", name="水东社区", level="village", kind="community", parent=town
    )
    square = [[118.1, 26.1], [118.11, 26.1], [118.11, 26.11], [118.1, 26.11], [118.1, 26.1]]
    Grid.objects.create(
        code="350426100001001",
        name="水东一网格",
        unit=village,
        boundary={"type": "Polygon", "coordinates": [square]},
    )
    user = User.objects.create_user(
        "official", "bench-Password-1", role="town_official", scope_code="350426100"
    )
    (workdir / "token").write_text(ApiToken.issue(user)[1])


def upload(workdir: Path, path: Path) -> dict[str, Any]:
    """Time, added peak memory and answer of one dry-run upload (in this process)."""
    _setup(workdir)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    token = (workdir / "token").read_text()
    client = Client()
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    warm = SimpleUploadedFile("warm.csv", (",".join(HEADER) + "\n").encode())
    client.post("/api/v1/imports/residents?dry_run=true", {"file": warm}, headers=headers)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = path.read_bytes()
    start = time.perf_counter()
    response = client.post(
        "/api/v1/imports/residents?dry_run=true",
        {"file": SimpleUploadedFile(path.name, data)},
        headers=headers,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = json.loads(response.content)
    return {
        "file_bytes": len(data),
        "status": response.status_code,
        "seconds": seconds,
        "added_mb": (after - before) / 1024,
        "answer_bytes": len(response.content),
        "problems_listed": len(answer.get("problems") or []),
        "problem_count": answer.get("problem_count"),
        "detail": str(answer.get("detail", ""))[:160],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--one", nargs=2, metavar=("WORKDIR", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        figures = upload(Path(args.one[0]), Path(args.one[1]))
        args.out.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    with tempfile.TemporaryDirectory(prefix="grassroots-bench-uploads-") as tmp:
        workdir = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r});"
                f" import uploads; uploads.build(__import__('pathlib').Path({tmp!r}))",
            ],
            check=True,
        )
        os.environ["VAR_DIR"] = str(workdir / "var")
        sys.path.insert(0, str(ROOT / "src"))
        os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
        import django

        django.setup()
        from django.conf import settings

        at_cap = settings.IMPORT_MAX_ROWS
        files = make_files(workdir, at_cap)
        results: dict[str, Any] = {"at_cap_rows": at_cap}
        for name, path in files.items():
            out = workdir / f"{name}.json"
            done = subprocess.run(
                [sys.executable, __file__, "--out", str(out), "--one", str(workdir), str(path)],
                check=False,
            )
            results[name] = (
                json.loads(out.read_text(encoding="utf-8"))
                if done.returncode == 0 and out.exists()
                else {"failed": done.returncode}
            )
            print(f"  {name}: {results[name]}", flush=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
