"""The demo county: deterministic, valid, and planted with one of every coverage problem."""

from __future__ import annotations

import datetime
import io
import stat
from typing import Any

import pytest
import shapely
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.accounts.models import GridAssignment, User
from grassroots.accounts.roles import Role
from grassroots.core.scoping import Scope
from grassroots.core.validators import parse_id_number, validate_credit_code, validate_mobile
from grassroots.demo import build_county, write_demo_files
from grassroots.demo.data import COUNTY_OUTLINE, TOWNS
from grassroots.demo.generator import _build_territory, chinese_number, grid_count
from grassroots.demo.load import load_county, wipe
from grassroots.demo.people import demo_password
from grassroots.orgs import shared
from grassroots.orgs.models import Organization, Project, Resource
from grassroots.registry.coverage import PROBLEM_KEYS, coverage_report
from grassroots.registry.models import Enterprise, Household, Resident
from grassroots.territory.geometry import find_overlaps, parse_polygon, points_inside
from grassroots.territory.models import Grid, Unit

SMALL = 250


@pytest.fixture(autouse=True)
def fast_demo_settings(settings: Any, tmp_path: Any) -> None:
    # A real password hash takes 0.3 s; the users file goes to this test's own directory.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path


@pytest.fixture
def county(db: Any) -> Any:
    county = build_county(households=SMALL, seed=7)
    load_county(county)
    return county


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Everything the demo writes, by natural keys, without timestamps, ids and hashes."""
    return {
        "units": list(
            Unit.objects.order_by("code").values_list(
                "code", "name", "level", "kind", "parent__code"
            )
        ),
        "grids": list(
            Grid.objects.order_by("code").values_list(
                "code", "name", "kind", "unit__code", "boundary", "min_lon", "max_lat"
            )
        ),
        "households": list(
            Household.objects.order_by("code").values_list(
                "code",
                "address",
                "building",
                "unit_no",
                "room",
                "lon",
                "lat",
                "grid__code",
                "unit__code",
                "scope_code",
                "tags",
            )
        ),
        "residents": sorted(
            Resident.objects.values_list(
                "name",
                "name_key",
                "name_pinyin",
                "name_initials",
                "id_number",
                "id_tail",
                "sex",
                "birth_date",
                "phone",
                "household__code",
                "relation",
                "residency",
                "moved_out_on",
                "deceased_on",
                "unit__code",
                "scope_code",
                "tags",
            ),
            key=lambda r: (r[4], r[9] or ""),  # ID number (decrypted), household code
        ),
        "enterprises": list(
            Enterprise.objects.order_by("credit_code").values_list(
                "credit_code",
                "name",
                "address",
                "industry",
                "contact_name",
                "contact_phone",
                "lon",
                "lat",
                "grid__code",
                "unit__code",
                "scope_code",
            )
        ),
        "users": list(
            User.objects.order_by("username").values_list(
                "username", "role", "scope_code", "first_name", "last_name", "phone", "is_staff"
            )
        ),
        "assignments": list(
            GridAssignment.objects.order_by("user__username", "grid__code").values_list(
                "user__username", "grid__code"
            )
        ),
    }


def test_it_loads_the_same_county_for_the_same_seed(county):
    first = snapshot()
    assert len(first["residents"]) > 2 * SMALL
    wipe()
    assert not Unit.objects.exists() and not Resident.objects.exists()
    load_county(build_county(households=SMALL, seed=7))
    assert snapshot() == first


def test_another_seed_gives_another_county(db):
    a = build_county(households=SMALL, seed=1)
    b = build_county(households=SMALL, seed=2)
    assert [u.code for u in a.units] == [u.code for u in b.units]
    assert a.resident_rows != b.resident_rows


def test_it_writes_the_same_files_for_the_same_seed(tmp_path):
    first = write_demo_files(tmp_path / "a", households=SMALL, seed=3)
    second = write_demo_files(tmp_path / "b", households=SMALL, seed=3)
    assert sorted(first) == ["grids", "households", "residents", "units"]
    for kind, path in first.items():
        assert path.read_bytes() == second[kind].read_bytes(), kind


def test_its_grids_tile_the_county_without_overlaps(county):
    polygons = [(g.code, parse_polygon(g.boundary)) for g in Grid.objects.all()]
    assert all(p.geom_type == "Polygon" for _c, p in polygons)
    assert find_overlaps(polygons) == []
    outline = shapely.convex_hull(shapely.multipoints(COUNTY_OUTLINE))
    covered = shapely.union_all([p for _c, p in polygons])
    assert covered.symmetric_difference(outline).area < outline.area * 1e-6
    assert all(c == round(c, 6) for _c, p in polygons for c in shapely.get_coordinates(p).flat)


def test_a_whole_county_has_all_towns_and_a_thousand_grids_without_overlaps():
    units, grids = _build_territory(300_000, 1)
    towns = [u for u in units if len(u.code) == 9]
    assert grid_count(300_000) == len(grids) == 1000
    assert sorted(t.name for t in towns) == sorted(t[1] for t in TOWNS)
    assert find_overlaps([(g.code, g.polygon) for g in grids]) == []
    assert len({g.code for g in grids}) == 1000
    assert all(g.code.startswith(g.unit.code) and len(g.code) == 15 for g in grids)


def test_it_models_youxi_with_banshan_and_its_neighbours(county):
    names = dict(Unit.objects.values_list("code", "name"))
    assert names["350426"] == "尤溪县"
    assert names["350426100"] == "城关镇"
    assert names["350426101201"] == "半山村"
    assert {"汶潭村", "坪寨村"} <= {n for c, n in names.items() if c.startswith("350426101")}
    assert Unit.objects.filter(code__startswith="350426100", kind="community").count() >= 2
    assert Grid.objects.filter(name="水东社区第一网格").exists()
    assert Grid.objects.filter(kind="dedicated").count() >= 1
    zhao = Resident.objects.get(name="赵光菊")
    assert zhao.household.code == "35042610120100001" and zhao.sex == "F"
    assert chinese_number(12) == "十二" and chinese_number(20) == "二十"


def test_every_village_has_a_branch_and_banshan_a_joint_branch_with_its_neighbours(county):
    from django.utils import timezone

    from grassroots.orgs import selectors
    from grassroots.orgs.models import Activity, Member, Organization

    villages = Unit.objects.filter(level="village")
    towns = Unit.objects.filter(level="town")
    branches = Organization.objects.filter(kind="branch")
    assert branches.count() == villages.count()
    assert Organization.objects.filter(kind="committee").count() == towns.count()
    joint = Organization.objects.get(name="汶联村党支部")
    names = set(joint.units.values_list("name", flat=True))
    assert names == {"半山村", "汶潭村", "坪寨村"} and joint.members.exists()
    members = Member.objects.all()
    adults = Resident.objects.filter(
        moved_out_on__isnull=True,
        deceased_on__isnull=True,
        birth_date__lte=timezone.localdate().replace(year=timezone.localdate().year - 18),
    ).count()
    assert 0.03 * adults <= members.filter(resident__isnull=False).count() <= 0.08 * adults
    assert members.filter(resident__isnull=True).exists()  # 流动党员
    assert selectors.conversions_overdue(members, timezone.localdate()).exists()
    assert members.filter(status="probationary").count() > 1
    # Every member of the registry is an adult of the village their branch serves.
    for member in members.filter(resident__isnull=False).select_related("resident"):
        assert member.resident.id_number == member.id_number
    # A year of branch life, with gaps for the assessment to find: some branches miss a
    # quarter's member meeting, most hold it.
    from grassroots.orgs.life import life

    today = timezone.localdate()
    year_ago = today.replace(year=today.year - 1)
    lives = [life(b, year_ago, today) for b in branches]
    missing = [x for x in lives if x.kinds["member_meeting"].missing_periods]
    assert 0 < len(missing) < len(lives)
    assert all(0.7 <= x.attendance_rate <= 1 for x in lives)
    # Most branches have a secretary.
    with_secretary = [b for b in branches if selectors.secretary_vacant_since(b) is None]
    assert len(with_secretary) >= branches.count() - 2
    # The joint branch's year of joint activities, its villages' branches taking part.
    activities = Activity.objects.filter(organization=joint)
    assert activities.count() >= 6
    taking_part = set(activities.first().organizations.values_list("code", flat=True))
    assert taking_part == set(selectors.pool_organizations(joint).values_list("code", flat=True))
    assert len(taking_part) == 4  # the joint branch and the branches of its three villages
    assert all(a.attendees.exists() for a in activities)


def test_the_joint_branch_shares_a_venue_and_runs_a_tea_project(county):
    joint = Organization.objects.get(code="WL-LHZB")
    resources = {r.kind: r for r in Resource.objects.filter(organization=joint)}
    assert set(resources) == {"venue", "machinery", "fund"}
    assert resources["venue"].name == "汶联村党群服务中心"
    assert resources["fund"].amount_yuan > 0
    # Bookings ahead by several of its organizations, none overlapping.
    bookings = list(resources["venue"].bookings.order_by("starts_at"))
    assert len(shared.bookings_ahead(resources["venue"])) >= 4
    assert len({b.organization_id for b in bookings}) >= 3
    assert all(a.ends_at <= b.starts_at for a, b in zip(bookings, bookings[1:], strict=False))
    project = Project.objects.get(organization=joint, industry="tea")
    facts = shared.project_facts(project)
    assert facts.done == 2 and facts.overdue == 1
    assert 0 < facts.progress < 1
    assert facts.households > 10
    assert shared.households_outside(list(project.households.all()), facts.organizations) == []
    assert [i.year for i in facts.incomes] == [project.started_on.year, project.started_on.year + 1]


def test_households_lie_inside_their_grid_except_the_planted_ones(county):
    outside = set()
    for grid in Grid.objects.all():
        rows = list(grid.households.filter(lon__isnull=False).values_list("code", "lon", "lat"))
        inside = points_inside(
            parse_polygon(grid.boundary), [r[1] for r in rows], [r[2] for r in rows]
        )
        outside |= {r[0] for r, ok in zip(rows, inside, strict=True) if not ok}
    assert outside == set(county.defects.households_outside_grid)
    assert Household.objects.filter(lon__isnull=True, grid__isnull=False).exists()


def test_every_identifier_validates_and_families_fit_together(county):
    today = datetime.date.today()
    for number, phone in Resident.objects.values_list("id_number", "phone"):
        assert parse_id_number(number).number == number
        if phone:
            assert validate_mobile(phone) == phone
    for code, phone in Enterprise.objects.values_list("credit_code", "contact_phone"):
        assert validate_credit_code(code) == code and validate_mobile(phone) == phone
    assert any(
        not n.startswith("350426") for n in Resident.objects.values_list("id_number", flat=True)
    )
    ages: dict[str, dict[str, list[int]]] = {}
    for code, relation, birth in Resident.objects.filter(household__isnull=False).values_list(
        "household__code", "relation", "birth_date"
    ):
        ages.setdefault(code, {}).setdefault(relation, []).append((today - birth).days // 365)
    for members in ages.values():
        if "head" not in members or len(members["head"]) != 1:
            continue  # the duplicated record sits in a relative's household as "other"
        head = members["head"][0]
        assert head >= 18
        assert all(age < head for age in members.get("child", []))
        assert all(age > head for age in members.get("parent", []))
    assert all(1 <= sum(len(v) for v in m.values()) <= 7 for m in ages.values())
    assert 2.8 < Resident.objects.count() / Household.objects.count() < 3.9


def test_every_role_has_a_user_and_most_grids_a_worker(county, settings):
    users = User.objects.filter(username__startswith="demo_")
    assert set(users.values_list("role", flat=True)) == set(Role.values)
    manned = set(GridAssignment.objects.values_list("grid__code", flat=True))
    assert set(Grid.objects.values_list("code", flat=True)) - manned == set(
        county.defects.grids_without_worker
    )
    admin = User.objects.get(username="demo_admin")
    assert admin.check_password(demo_password(7, "demo_admin"))
    worker = users.filter(role=Role.GRID_WORKER).exclude(username="demo_worker").first()
    assert worker.check_password(demo_password(7, "demo_wg"))
    path = settings.VAR_DIR / "demo-users.txt"
    text = path.read_text(encoding="utf-8")
    assert f"demo_admin\tcounty_admin\t350426\t{demo_password(7, 'demo_admin')}" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_coverage_audit_finds_every_planted_problem(county):
    report = coverage_report(Scope.everything())
    assert all(report.counts[key] > 0 for key in PROBLEM_KEYS), report.counts
    d = county.defects
    assert report.counts["households_without_grid"] == len(d.households_without_grid)
    assert report.counts["households_outside_grid"] == len(d.households_outside_grid)
    assert report.counts["residents_without_household"] == len(d.residents_without_household)
    assert report.counts["empty_households"] == len(d.empty_households)
    assert report.counts["duplicate_id_numbers"] == len(d.duplicate_id_numbers)
    assert report.counts["grids_without_worker"] == len(d.grids_without_worker)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_the_command_refuses_a_database_with_data_unless_forced(db, settings):
    output = run("--households", "60", "--seed", "5")
    assert "demo_admin" in output and "demo-users.txt" in output
    residents = Resident.objects.count()
    with pytest.raises(CommandError, match="The database is not empty .* --force"):
        run("--households", "60")
    assert "demo not loaded" in run("--households", "60", "--if-empty")
    assert Resident.objects.count() == residents
    run("--households", "90", "--seed", "5", "--force")
    assert Household.objects.count() == 90
    assert User.objects.filter(username="demo_admin").count() == 1
