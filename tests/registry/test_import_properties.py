"""Property tests: whatever the cells hold, an import either reports problems and writes
nothing, or writes every row; it never crashes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grassroots.core.tables import Table
from grassroots.registry.imports import import_households, import_residents
from grassroots.registry.models import Household, Resident
from tests import factories as f

HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "'; DROP TABLE registry_resident; --",
            '=HYPERLINK("http://x")',
            "\x00",
            "\u3000",
            "ｘ",
            "NaN",
            "1e308",
            "-0",
            "350426199001011235",
            "户主",
            "低保;;；",
        ]
    ),
)

RESIDENT_HEADERS = ["姓名", "身份证号", "手机号", "户编号", "与户主关系", "居住类型", "标签"]
HOUSEHOLD_HEADERS = ["户编号", "地址", "网格编码", "经度", "纬度", "标签"]


def table(headers, rows):
    return Table(headers=headers, rows=iter((n, r) for n, r in enumerate(rows, start=2)))


def assert_all_or_nothing(importer, model, headers, rows):
    """Problems and nothing written, or no problem and every new row written."""
    before = model.objects.count()
    result = importer(table(headers, rows))
    after = model.objects.count()
    if result.problems:
        assert after == before
        assert all(p.row >= 2 and p.column and p.reason for p in result.problems)
    else:
        assert after - before == result.created


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(HOSTILE, min_size=7, max_size=7), min_size=1, max_size=4))
def test_it_never_crashes_or_half_writes_residents(world, rows):
    assert_all_or_nothing(import_residents, Resident, RESIDENT_HEADERS, rows)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(HOSTILE, min_size=6, max_size=6), min_size=1, max_size=4))
def test_it_never_crashes_or_half_writes_households(world, rows):
    assert_all_or_nothing(import_households, Household, HOUSEHOLD_HEADERS, rows)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=20).filter(lambda s: s.strip()))
def test_it_stores_any_printable_name_with_a_valid_id_number(world, name):
    number = f.id_number()
    result = import_residents(table(["姓名", "身份证号"], [[name, number]]))
    if not result.problems:
        stored = Resident.objects.with_id_number(number).get()
        assert stored.name and len(stored.name) <= 50
        assert "\x00" not in stored.name
