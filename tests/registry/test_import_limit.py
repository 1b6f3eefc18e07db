"""grassroots import refuses a file larger than IMPORT_MAX_BYTES before reading it."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.core import tables
from grassroots.registry.models import Household
from grassroots.territory.models import Grid, Unit
from tests.core.test_settings_and_cli import grassroots


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def unread(monkeypatch):
    """Fails the test if any reader opens the file."""

    def fail(*args, **kwargs):
        raise AssertionError("the file must not be read")

    monkeypatch.setattr(tables, "_detect_encoding", fail)
    monkeypatch.setattr(tables, "_xlsx_rows", fail)


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("households", "h.csv", "户编号,地址,网格编码\n" + "H1,某地址,350426100001001\n" * 20),
        ("residents", "r.xlsx", "x" * 700),
        ("units", "u.csv", "code,name\n" + "350426100009,某村\n" * 40),
    ],
)
def test_it_refuses_a_file_over_the_limit_naming_file_size_and_limit(
    world, tmp_path, settings, unread, kind, name, content
):
    settings.IMPORT_MAX_BYTES = 512
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    size = path.stat().st_size
    code, out, err = run(kind, path)
    assert code == 1 and out == ""
    assert err == f"{name} is {size} B, more than the import limit of 512 B (IMPORT_MAX_BYTES)"
    assert Household.objects.count() == 5 and Unit.objects.count() == 6


def test_it_refuses_a_grid_file_over_the_limit(world, tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 2048
    path = tmp_path / "g.geojson"
    features = [{"type": "Feature", "properties": {"code": "x" * 100}} for _i in range(30)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    code, _out, err = run("grids", path)
    assert code == 1
    assert err == (
        f"g.geojson is {path.stat().st_size / 1024:.1f} KiB, more than the import limit of "
        "2.0 KiB (IMPORT_MAX_BYTES)"
    )
    assert Grid.objects.count() == 4


def test_it_reads_the_limit_from_the_environment_on_the_real_command_line(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("code,name\n" + "350426100009,某村\n" * 10, encoding="utf-8")
    result = grassroots(tmp_path, "import", "units", str(path), env={"IMPORT_MAX_BYTES": "100"})
    assert result.returncode == 1
    assert (
        f"u.csv is {path.stat().st_size} B, more than the import limit of 100 B (IMPORT_MAX_BYTES)"
        in result.stderr
    )
