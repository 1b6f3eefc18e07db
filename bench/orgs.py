"""Party organizations at county scale: the organization tree with branch life, and the talent
search of a joint branch and of an alliance.

bench/run.py starts this file once per database engine, in its own process (Django reads
DATABASE_URL once):

    .venv/bin/python bench/orgs.py --engine sqlite --members 30000 --years 5 --out figures.json

It builds the benchmark county the fast way: the territory of the demo county of 300,000
households (15 towns, 251 villages and communities), imported with `import_units`; a committee
per town, a branch per village, a joint branch over 2 or 3 neighbouring villages in each of the
first JOINT_BRANCHES towns and a temporary branch per town (about 290 organizations), each with
its OrganizationUnit rows; `--members` members (default 30,000) shared among them as villages'
sizes go, with valid and unique ID numbers, their derived columns filled per row
(`Member.fill_derived`: keyed hashes) and encrypted on insert; posts (a secretary in most
organizations, some vacant, committee members, a leader per party group of about 10); skills for
about half the members; `--years` years of meetings (default 5, up to today) of the five kinds,
the monthly ones monthly and the quarterly ones quarterly, with gaps (a missed quarter, skipped
meetings); their attendance (member meetings, party lectures and theme days: every member of
the organization; committee meetings: the committee's post holders; group meetings: one party
group of about 10), present, absent with a reason or on leave; a few alliances. Members,
posts, skills and meetings go in with bulk_create, attendance with executemany (SQLite) or COPY
(PostgreSQL), its plain indexes dropped and rebuilt as bench/cases.py does; these bypass
`orgs.services.meeting_record`, so each meeting's attendance counts (present, absent, on leave)
are then filled by one UPDATE from the attendance grouped by meeting, and a sample of meetings is
checked against its rows. PostgreSQL gets the VACUUM ANALYZE autovacuum would run; SQLite no
ANALYZE, as in production.

Then it times, warm (the first call on a new database connection, then the median and the best
of --runs):

- the console page GET /console/orgs/ (the tree for this year) and ?year=<last year>, as a
  county administrator (past two-factor sign-in, as the role requires) and as a town official,
  with Django's test client, server-side as the application answers it; baseline: the plain SQL
  reading the same rows as `org_tree()` (the organizations in scope, their members counted,
  their secretaries, the meetings from the start of the range's first period with the counts each
  keeps), four statements through the database cursor;
- the talent search: GET /api/v1/orgs/talent?group=<joint branch>&skill=种植 with a Bearer token
  when the endpoint exists (it is looked up in the URL patterns), and the selector
  `orgs.selectors.talent(group, "种植")`, its first 50 as a list, for the joint branch and for an
  alliance; baseline: the plain SQL reading the same 50 rows from the pool's organizations
  (given as ids, the skill tested with EXISTS, as the selector does).

For each measure one more call (not timed with the others) times its statements one by one (a
wrapper around the cursor) and explains the slowest three (SQLite: EXPLAIN QUERY PLAN;
PostgreSQL: EXPLAIN ANALYZE), so a missed target names its query.

Figures go to --out as JSON; bench/report.py renders them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases as bench_cases  # noqa: E402 - bench/cases.py, next to this file
import web as bench_web  # noqa: E402 - bench/web.py: signing in with the test client

ROOT = Path(__file__).resolve().parent.parent
FULL_MEMBERS = 30_000
FULL_YEARS = 5
RUNS = 7
SKILL = "种植"
TREE_TARGET, TALENT_TARGET = 0.300, 0.050
# Towns with a joint branch (over 2 or 3 neighbouring villages), alliances, and the share of
# organizations whose secretary post is vacant.
JOINT_BRANCHES = 10
ALLIANCES = 6
VACANT_SHARE = 0.06
# Members of a committee, a joint branch and a temporary branch at full size; the village
# branches share the rest as their villages' sizes (grids) go.
COMMITTEE_MEMBERS, JOINT_MEMBERS, TEMPORARY_MEMBERS = 25, 30, 12
GROUP_SIZE = 10
SKILLS = {"种植": 6, "养殖": 3, "电商": 2, "法律": 1, "医疗": 1, "建筑": 2, "茶叶": 2, "驾驶": 2}
# Branch life gaps: share of organization-years missing a whole quarter, of meetings skipped.
MISSED_QUARTER_SHARE, SKIPPED_SHARE = 0.15, 0.05
ALL_MEMBERS_KINDS = ("member_meeting", "party_lecture", "theme_day")
QUARTERLY = ("member_meeting", "party_lecture")
TOPICS = {
    "member_meeting": "支部党员大会",
    "committee_meeting": "支委会：研究本月工作",
    "group_meeting": "党小组学习",
    "party_lecture": "书记讲党课",
    "theme_day": "主题党日：志愿服务",
}
ABSENCE_REASONS = ("外出务工", "生病", "家中有事")
COMMITTEE_POSTS = ("deputy_secretary", "organization", "publicity", "discipline", "committee")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument(
        "--members",
        type=int,
        default=int(os.environ.get("BENCH_ORGS_MEMBERS", FULL_MEMBERS)),
        help=f"party members (default $BENCH_ORGS_MEMBERS or {FULL_MEMBERS:,})",
    )
    parser.add_argument(
        "--years",
        type=int,
        default=int(os.environ.get("BENCH_ORGS_YEARS", FULL_YEARS)),
        help=f"years of meetings up to today (default $BENCH_ORGS_YEARS or {FULL_YEARS})",
    )
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs (default {RUNS})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database and directory")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="time on a county kept by --keep (the directory it printed) instead of building one",
    )
    return parser.parse_args()


def say(text: str) -> None:
    bench_cases.say(text)


# --- The county ----------------------------------------------------------------------------------


def load_territory(seed: int, workdir: Path) -> dict[str, int]:
    """The demo county's units (no grids: organizations serve units); grids per village."""
    from grassroots.demo.files import write_units
    from grassroots.demo.generator import County as DemoCounty
    from grassroots.demo.generator import _build_territory
    from grassroots.territory.imports import import_units

    units, grids = _build_territory(bench_cases.COUNTY_HOUSEHOLDS, seed)
    demo = DemoCounty(households=bench_cases.COUNTY_HOUSEHOLDS, seed=seed, units=units, grids=grids)
    path = workdir / "units.csv"
    write_units(demo, path)
    result = import_units(path)
    if result.problems:
        raise SystemExit(f"units: the import refused the demo file: {result.problems[:3]}")
    path.unlink()
    return dict(Counter(g.unit.code for g in grids))


class Names:
    """Chinese names drawn from the demo's surnames and given names."""

    def __init__(self, r: random.Random) -> None:
        from grassroots.demo import data

        self.r = r
        self.surnames = [s for s, _w in data.SURNAMES]
        self.weights = [w for _s, w in data.SURNAMES]
        self.given = [name for names in data.GIVEN_NAMES.values() for name in names]

    def __call__(self) -> str:
        surname = self.r.choices(self.surnames, self.weights)[0]
        return surname + self.r.choice(self.given)


class Build:
    """Generates and loads the organizations and everything under them."""

    def __init__(self, members: int, years: int, seed: int, grids_per_village: dict[str, int]):
        self.n_members, self.years = members, years
        self.r = random.Random(seed)
        from django.utils import timezone

        self.today = timezone.localdate()
        self.grids = grids_per_village
        self.scale = members / FULL_MEMBERS

    # Organizations -------------------------------------------------------------------------------

    def organizations(self) -> None:
        from grassroots.orgs.models import Organization, OrganizationUnit
        from grassroots.territory.models import Unit

        units = list(Unit.objects.filter(level__in=["town", "village"]).order_by("code"))
        towns = [u for u in units if u.level == "town"]
        villages = {t.code: [u for u in units if u.parent_id == t.pk] for t in towns}
        committees = Organization.objects.bulk_create(
            Organization(code=f"{t.code}-DW", name=f"{t.name}党委", kind="committee") for t in towns
        )
        parent = {t.code: c for t, c in zip(towns, committees, strict=True)}
        rows: list[tuple[Organization, list[Any]]] = [
            (c, [t]) for t, c in zip(towns, committees, strict=True)
        ]
        later: list[tuple[Organization, list[Any]]] = []
        for town in towns:
            for v in villages[town.code]:
                org = Organization(
                    code=f"{v.code}-ZB",
                    name=f"{v.name}党支部",
                    kind="branch",
                    parent=parent[town.code],
                )
                later.append((org, [v]))
        joint_towns = [t for t in towns if len(villages[t.code]) >= 3][:JOINT_BRANCHES]
        for town in joint_towns:
            own = villages[town.code]
            n = self.r.choice((2, 3))
            start = self.r.randrange(0, len(own) - n + 1)
            served = own[start : start + n]
            name = "、".join(v.name for v in served) + "联合党支部"
            org = Organization(
                code=f"{town.code}-LH", name=name, kind="joint_branch", parent=parent[town.code]
            )
            later.append((org, served))
        for town in towns:
            org = Organization(
                code=f"{town.code}-LS",
                name=f"{town.name}重点项目临时党支部",
                kind="temporary_branch",
                parent=parent[town.code],
            )
            later.append((org, [town]))
        Organization.objects.bulk_create([o for o, _u in later])
        rows += later
        OrganizationUnit.objects.bulk_create(
            OrganizationUnit(organization=o, unit=u, unit_code=u.code) for o, us in rows for u in us
        )
        self.orgs = [o for o, _u in rows]
        self.served = {o.pk: [u.code for u in us] for o, us in rows}

    # Members, posts, skills ----------------------------------------------------------------------

    def _sizes(self) -> dict[int, int]:
        fixed = {"committee": COMMITTEE_MEMBERS, "joint_branch": JOINT_MEMBERS}
        fixed["temporary_branch"] = TEMPORARY_MEMBERS
        sizes = {
            o.pk: max(3, round(fixed[o.kind] * self.scale * self.r.uniform(0.7, 1.3)))
            for o in self.orgs
            if o.kind in fixed
        }
        branches = [o for o in self.orgs if o.kind == "branch"]
        weights = {
            o.pk: self.grids.get(self.served[o.pk][0], 1) * self.r.uniform(0.6, 1.4)
            for o in branches
        }
        rest = max(3 * len(branches), self.n_members - sum(sizes.values()))
        total = sum(weights.values())
        for o in branches:
            sizes[o.pk] = max(3, round(rest * weights[o.pk] / total))
        # Rounding: the last branch takes the difference, so the count is exact.
        last = branches[-1].pk
        sizes[last] = max(3, sizes[last] + self.n_members - sum(sizes.values()))
        return sizes

    def members(self) -> None:
        from grassroots.core.validators import id_number_with_check
        from grassroots.orgs.models import Member

        names = Names(self.r)
        r, today = self.r, self.today
        first_birth = datetime.date(1940, 1, 1).toordinal()
        last_birth = today.replace(year=today.year - 19).toordinal()
        taken: set[tuple[int, int]] = set()
        created_at = datetime.datetime.now(datetime.UTC)
        self.roster: dict[int, list[int]] = {}
        rows: list[Member] = []
        pk = 0
        for org_id, size in self._sizes().items():
            ids = self.roster[org_id] = []
            for _ in range(size):
                while True:
                    key = (r.randint(first_birth, last_birth), r.randint(0, 999))
                    if key not in taken:
                        taken.add(key)
                        break
                birth = datetime.date.fromordinal(key[0])
                number = id_number_with_check(f"350426{birth:%Y%m%d}{key[1]:03d}")
                probationary = r.random() < 0.04
                if probationary:
                    # Every other one over a year ago: due for conversion.
                    days = r.randint(400, 700) if r.random() < 0.5 else r.randint(60, 300)
                else:
                    days = r.randint(800, 15_000)
                eighteen = birth.replace(year=birth.year + 18, day=min(birth.day, 28))
                pk += 1
                member = Member(
                    pk=pk,
                    organization_id=org_id,
                    name=names(),
                    id_number=number,
                    phone=f"1{r.choice('3589')}{r.randrange(10**9):09d}",
                    status="probationary" if probationary else "formal",
                    joined_on=max(today - datetime.timedelta(days=days), eighteen),
                    available=r.random() < 0.85,
                    created_at=created_at,
                    updated_at=created_at,
                )
                member.fill_derived()
                rows.append(member)
                ids.append(pk)
        Member.objects.bulk_create(rows, batch_size=2_000)

    def posts_and_skills(self) -> None:
        from grassroots.orgs.models import MemberPost, MemberSkill

        r, today = self.r, self.today
        posts: list[MemberPost] = []
        self.committee: dict[int, list[int]] = {}
        self.groups: dict[int, list[list[int]]] = {}

        def post(org_id: int, member: int, what: str, ended: datetime.date | None = None) -> None:
            started = today - datetime.timedelta(days=r.randint(200, 3_000))
            if ended is not None:
                started = ended - datetime.timedelta(days=900)
            posts.append(
                MemberPost(
                    member_id=member,
                    organization_id=org_id,
                    post=what,
                    started_on=started,
                    ended_on=ended,
                )
            )

        for org_id, ids in self.roster.items():
            holders = ids[: 5 if len(ids) >= 15 else 3]
            if r.random() < VACANT_SHARE:
                if r.random() < 0.5:  # the last secretary left some months ago
                    post(
                        org_id,
                        holders[0],
                        "secretary",
                        today - datetime.timedelta(r.randint(30, 400)),
                    )
                holders = holders[1:]
            else:
                post(org_id, holders[0], "secretary")
            for member, what in zip(holders[1:], COMMITTEE_POSTS[: len(holders) - 1], strict=True):
                post(org_id, member, what)
            self.committee[org_id] = holders
            groups = [ids[i : i + GROUP_SIZE] for i in range(0, len(ids), GROUP_SIZE)]
            self.groups[org_id] = groups
            for group in groups:
                post(org_id, group[-1], "group_leader")
        MemberPost.objects.bulk_create(posts, batch_size=2_000)
        skills, weights = list(SKILLS), list(SKILLS.values())
        rows = []
        for ids in self.roster.values():
            for member in ids:
                if r.random() < 0.5:
                    chosen = set(r.choices(skills, weights, k=r.choice((1, 2))))
                    rows += [MemberSkill(member_id=member, skill=s) for s in sorted(chosen)]
        MemberSkill.objects.bulk_create(rows, batch_size=2_000)

    # Branch life ---------------------------------------------------------------------------------

    def months(self) -> list[datetime.date]:
        """The first day of each of the last `years` × 12 months, this one included."""
        now = self.today.year * 12 + self.today.month - 1
        return [
            datetime.date(i // 12, i % 12 + 1, 1) for i in range(now - self.years * 12 + 1, now + 1)
        ]

    def meetings(self) -> None:
        from grassroots.orgs.models import Meeting

        r, today = self.r, self.today
        months = self.months()
        created_at = datetime.datetime.now(datetime.UTC)
        rows: list[Meeting] = []
        # (meeting id, organization id, kind, index of the month) for the attendance.
        self.held: list[tuple[int, int, str, int]] = []
        for org_id in self.roster:
            missed = {
                year: r.randint(0, 3)
                for year in {m.year for m in months}
                if r.random() < MISSED_QUARTER_SHARE
            }
            # The month of each quarter in which the quarterly meetings fall.
            in_quarter = {kind: r.randint(0, 2) for kind in QUARTERLY}
            for index, first in enumerate(months):
                quarter = (first.month - 1) // 3
                if missed.get(first.year) == quarter:
                    continue
                for kind in TOPICS:
                    if kind in QUARTERLY and (first.month - 1) % 3 != in_quarter[kind]:
                        continue
                    if r.random() < SKIPPED_SHARE:
                        continue
                    day = first.replace(day=r.randint(3, 26))
                    if day > today:
                        continue
                    pk = len(rows) + 1
                    rows.append(
                        Meeting(
                            pk=pk,
                            organization_id=org_id,
                            kind=kind,
                            held_on=day,
                            topic=TOPICS[kind],
                            place="村部会议室",
                            created_at=created_at,
                        )
                    )
                    self.held.append((pk, org_id, kind, index))
        Meeting.objects.bulk_create(rows, batch_size=2_000)

    def attendance_rows(self) -> Iterator[tuple[int, int, str, str]]:
        r = self.r
        for meeting, org_id, kind, month in self.held:
            if kind in ALL_MEMBERS_KINDS:
                present = self.roster[org_id]
            elif kind == "committee_meeting":
                present = self.committee[org_id]
            else:
                groups = self.groups[org_id]
                present = groups[month % len(groups)]
            for member in present:
                draw = r.random()
                if draw < 0.85:
                    yield meeting, member, "present", ""
                elif draw < 0.95:
                    yield meeting, member, "absent", r.choice(ABSENCE_REASONS)
                else:
                    yield meeting, member, "leave", "请假"

    def expected_attendance(self) -> int:
        total = 0
        for _m, org_id, kind, month in self.held:
            if kind in ALL_MEMBERS_KINDS:
                total += len(self.roster[org_id])
            elif kind == "committee_meeting":
                total += len(self.committee[org_id])
            else:
                groups = self.groups[org_id]
                total += len(groups[month % len(groups)])
        return total

    def attendance(self) -> int:
        from django.db import connection, transaction

        from grassroots.core.bulk import insert_raw

        names = ["meeting_id", "member_id", "status", "reason"]
        expected = self.expected_attendance()
        count = 0
        with bench_cases.without_indexes(["orgs_attendance"], expected):
            rows = self.attendance_rows()
            while True:
                batch = [row for _i, row in zip(range(bench_cases.BATCH), rows, strict=False)]
                if not batch:
                    break
                with transaction.atomic():
                    if connection.vendor == "sqlite":
                        insert_raw("orgs_attendance", names, batch)
                    else:
                        with connection.cursor() as cursor:
                            sql = f"COPY orgs_attendance ({', '.join(names)}) FROM STDIN"
                            with cursor.cursor.copy(sql) as copy:
                                for row in batch:
                                    copy.write_row(row)
                count += len(batch)
            say(f"{count:,} attendance rows; rebuilding the indexes")
        self.attendance_count = count
        return count

    def meeting_counts(self) -> int:
        """The attendance counts each meeting keeps (meeting_record writes them; the bulk load
        above bypasses it): one UPDATE from the attendance grouped by meeting, as migration
        orgs 0006 fills them for the meetings recorded before (UPDATE … FROM needs SQLite
        3.33)."""
        from django.db import connection, transaction

        statuses = ["present", "absent", "leave"]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orgs_meeting SET present_count = c.present, absent_count = c.absent,"
                " leave_count = c.on_leave FROM (SELECT meeting_id,"
                " SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) AS present,"
                " SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) AS absent,"
                " SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) AS on_leave"
                " FROM orgs_attendance GROUP BY meeting_id) AS c"
                " WHERE orgs_meeting.id = c.meeting_id",
                statuses,
            )
            return cursor.rowcount

    def check_counts(self, sample: int = 500) -> None:
        """The counts against the attendance rows: their sum over all meetings, and each
        status of a sample of meetings (drawn with its own generator: the county's stays as
        it was)."""
        from django.db.models import Count, Sum

        from grassroots.orgs.models import Attendance, Meeting

        total = Meeting.objects.aggregate(
            p=Sum("present_count"), a=Sum("absent_count"), l=Sum("leave_count")
        )
        summed = sum(v or 0 for v in total.values())
        if summed != self.attendance_count:
            raise SystemExit(
                f"meeting counts: {summed:,} summed, {self.attendance_count:,} attendance rows"
            )
        ids = random.Random(len(self.held)).sample(
            [m for m, *_rest in self.held], min(sample, len(self.held))
        )
        found: dict[int, Counter[str]] = {}
        for meeting, status, n in (
            Attendance.objects.filter(meeting_id__in=ids)
            .order_by()
            .values_list("meeting_id", "status")
            .annotate(n=Count("id"))
        ):
            found.setdefault(meeting, Counter())[status] = n
        wrong = [
            (pk, counts, dict(found.get(pk, {})))
            for pk, *counts in Meeting.objects.filter(pk__in=ids).values_list(
                "pk", "present_count", "absent_count", "leave_count"
            )
            if counts != [found.get(pk, Counter())[s] for s in ("present", "absent", "leave")]
        ]
        if wrong:
            raise SystemExit(f"meeting counts differ from the attendance rows: {wrong[:5]}")
        say(
            f"meeting counts: {summed:,} in all, as the attendance rows; {len(ids)} meetings "
            "checked status by status"
        )

    # Alliances and people ------------------------------------------------------------------------

    def alliances(self) -> None:
        from grassroots.orgs.models import Alliance

        branches = [o for o in self.orgs if o.kind in ("branch", "joint_branch")]
        joint = [o for o in self.orgs if o.kind == "joint_branch"]
        for n in range(ALLIANCES):
            # The first: a joint branch with three branches of other towns; then 2 to 4 of any.
            if n == 0 and joint:
                town = joint[0].code[:9]
                others = [o for o in branches if not o.code.startswith(town)]
                linked = [joint[0], *self.r.sample(others, 3)]
            else:
                linked = self.r.sample(branches, self.r.randint(2, 4))
            alliance = Alliance.objects.create(
                code=f"LJ-{n + 1:02d}", name=f"{linked[0].name}等{len(linked)}个组织联建"
            )
            alliance.organizations.set(linked)


def after_load() -> None:
    """What a running database would have done by itself: statistics, a checkpoint."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in (
                "orgs_organization",
                "orgs_organizationunit",
                "orgs_member",
                "orgs_memberpost",
                "orgs_memberskill",
                "orgs_meeting",
                "orgs_attendance",
                "orgs_alliance",
                "orgs_alliance_organizations",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def reset_sequences() -> None:
    """PostgreSQL: the identity sequences past the ids given explicitly."""
    from django.core.management.color import no_style
    from django.db import connection

    from grassroots.orgs.models import Meeting, Member

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Member, Meeting]):
            cursor.execute(sql)


def build(args: argparse.Namespace, workdir: Path, timer: Any) -> None:
    from django.core.management import call_command

    timer.run("migrate", lambda: call_command("migrate", verbosity=0))
    grids = timer.run(
        "territory (15 towns, 251 villages)", lambda: load_territory(args.seed, workdir)
    )
    b = Build(args.members, args.years, args.seed, grids)
    timer.run("organizations", b.organizations)
    timer.run(f"members ({args.members:,}): ID numbers, hashes, encryption", b.members)
    timer.run("posts and skills", b.posts_and_skills)
    timer.run(f"meetings ({args.years} years)", b.meetings)
    reset_sequences()
    timer.run("attendance", b.attendance)
    timer.run("meeting counts (one UPDATE)", b.meeting_counts)
    b.check_counts()
    timer.run("alliances", b.alliances)
    timer.run(
        "vacuum/analyze/checkpoint" if args.engine == "postgresql" else "checkpoint", after_load
    )


class People:
    """The county administrator and a town official, and what the searches are run on."""

    def __init__(self) -> None:
        from django.db.models import Count

        from grassroots.accounts.models import ApiToken, User
        from grassroots.accounts.services import user_create
        from grassroots.orgs.models import Alliance, Organization
        from grassroots.territory.models import Unit

        self.county = Unit.objects.filter(parent__isnull=True).values_list("code", flat=True)[0]
        self.joint = Organization.objects.filter(kind="joint_branch").order_by("code").first()
        assert self.joint is not None
        self.town = self.joint.code[:9]
        self.alliance = (
            Alliance.objects.annotate(n=Count("organizations")).order_by("-n", "code").first()
        )
        assert self.alliance is not None

        def create(username: str, role: str, code: str) -> Any:
            found = User.objects.filter(username=username).first()
            if found is not None:  # a county kept by --keep
                return found
            return user_create(
                username=username,
                role=role,
                scope_codes=[code],
                password="bench-not-a-password",
                check_password=False,
            )

        self.admin = create("orgs_county_admin", "county_admin", self.county)
        self.official = create("orgs_town_official", "town_official", self.town)
        _row, self.token = ApiToken.issue(self.admin)


# --- Measurements --------------------------------------------------------------------------------


def timed_runs(action: Callable[[], Any], runs: int) -> dict[str, Any]:
    """First call on a new connection, then the median and best of `runs`; and the median CPU
    time of this process (the machine is shared: on SQLite, where the queries run in this
    process, it is what a call costs without the other work on the machine; on PostgreSQL it
    leaves out the server's)."""
    bench_cases.fresh_connection()
    first, value = bench_cases.timed(action)
    times, cpu = [], []
    for _ in range(runs):
        start = time.process_time()
        times.append(bench_cases.timed(action)[0])
        cpu.append(time.process_time() - start)
    return {
        "first": first,
        "median": statistics.median(times),
        "best": min(times),
        "cpu": statistics.median(cpu),
        "runs": times,
        "value": value,
    }


def explain(sql: str, params: Any) -> str:
    """SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE (the plan it ran, with times)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return bench_cases.explain(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def statements(action: Callable[[], Any]) -> dict[str, Any]:
    """One more call with each statement timed; the slowest three explained."""
    from django.db import connection

    log = bench_cases.Statements()
    with connection.execute_wrapper(log):
        action()
    slowest = sorted(log.log, key=lambda s: -s[3])[:3]
    return {
        "queries": len(log.log),
        "sql_seconds": sum(s[3] for s in log.log),
        "slowest": [
            {
                "seconds": seconds,
                "sql": bench_cases.short(sql, 400),
                "key": hashlib.sha256(sql.encode()).hexdigest()[:16],
                "plan": explain(sql, params) if sql.lstrip().upper().startswith("SELECT") else "",
            }
            for sql, params, _many, seconds in slowest
        ],
    }


def measure(
    name: str,
    who: str,
    what: str,
    action: Callable[[], Any],
    baseline: tuple[str, Callable[[], Any]],
    target: float,
    runs: int,
) -> dict[str, Any]:
    timed = timed_runs(action, runs)
    value = timed.pop("value")
    row: dict[str, Any] = {"name": name, "who": who, "what": what, "target": target, **timed}
    if hasattr(value, "content"):
        row["bytes"] = len(value.content)
    elif isinstance(value, list):
        row["rows"] = len(value)
    row.update(statements(action))
    label, base_action = baseline
    base = timed_runs(base_action, runs)
    rows = base.pop("value")
    row["baseline"] = {"label": label, **base, "rows": rows}
    say(
        f"{name}: first {row['first'] * 1000:.0f} ms, median {row['median'] * 1000:.1f} ms, "
        f"best {row['best'] * 1000:.1f} ms, CPU {row['cpu'] * 1000:.1f} ms, "
        f"{row['queries']} queries ({row['sql_seconds'] * 1000:.1f} ms in SQL); plain SQL "
        f"{base['median'] * 1000:.1f} ms, {row['median'] / max(base['median'], 1e-9):.1f}×"
    )
    return row


def get(client: Any, url: str, **headers: str) -> Callable[[], Any]:
    def action() -> Any:
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code} {response.content[:300]!r}")
        return response

    return action


def _in(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def tree_statements(
    code: str, since: datetime.date, until: datetime.date
) -> list[tuple[str, Callable[[list[int]], tuple[str, list[Any]]]]]:
    """The plain SQL reading the rows `org_tree()` reads for `code` and [since, until]: the
    organizations in scope, then three statements over their ids (members counted, secretaries,
    the meetings with the attendance counts each keeps, from the start of the range's first
    period as `life_overview()` reads them)."""
    from django.db import connection
    from django.utils import timezone

    from grassroots.core.scoping import Scope, ancestors, code_upper_bound
    from grassroots.orgs.life import periods, requirements
    from grassroots.orgs.models import MeetingKind, add_years

    assert code_upper_bound(code) is not None
    above = ancestors(code, longest=12)
    scope_sql, scope_params = Scope.of(code).sql("unit_code")
    adapt = connection.ops.adapt_datefield_value
    overdue = adapt(add_years(timezone.localdate(), -1))
    rules = requirements()
    start = min(
        (p.start for kind in MeetingKind.values for p in periods(rules[kind][0], since, until)),
        default=since,
    )
    dates = [adapt(start), adapt(until)]
    return [
        (
            "organizations in scope",
            lambda ids: (
                "SELECT id, code, name, kind, parent_id FROM orgs_organization WHERE id IN"
                " (SELECT organization_id FROM orgs_organizationunit"
                f" WHERE {scope_sql} OR unit_code IN ({_in(above)})) ORDER BY code",
                [*scope_params, *above],
            ),
        ),
        (
            "members counted",
            lambda ids: (
                "SELECT organization_id, COUNT(*),"
                " SUM(CASE WHEN status = 'probationary' THEN 1 ELSE 0 END),"
                " SUM(CASE WHEN status = 'probationary' AND joined_on <= %s THEN 1 ELSE 0 END)"
                f" FROM orgs_member WHERE organization_id IN ({_in(ids)}) GROUP BY organization_id",
                [overdue, *ids],
            ),
        ),
        (
            "secretaries",
            lambda ids: (
                "SELECT DISTINCT organization_id FROM orgs_memberpost WHERE post = 'secretary'"
                f" AND ended_on IS NULL AND organization_id IN ({_in(ids)})",
                ids,
            ),
        ),
        (
            "the meetings with their attendance counts",
            lambda ids: (
                "SELECT organization_id, kind, held_on, present_count, absent_count, leave_count"
                f" FROM orgs_meeting WHERE organization_id IN ({_in(ids)})"
                " AND held_on >= %s AND held_on <= %s",
                [*ids, *dates],
            ),
        ),
    ]


def tree_sql(code: str, since: datetime.date, until: datetime.date) -> Callable[[], int]:
    """Baseline of the tree: its statements in a row; returns the rows read."""
    from django.db import connection

    statements = tree_statements(code, since, until)

    def action() -> int:
        n, ids = 0, []
        with connection.cursor() as cursor:
            for i, (_label, statement) in enumerate(statements):
                cursor.execute(*statement(ids))
                rows = cursor.fetchall()
                if i == 0:
                    ids = [row[0] for row in rows]
                n += len(rows)
        return n

    return action


def tree_breakdown(
    code: str, since: datetime.date, until: datetime.date, runs: int
) -> dict[str, float]:
    """The median of each statement of the tree's baseline alone."""
    from django.db import connection

    statements = tree_statements(code, since, until)
    with connection.cursor() as cursor:
        cursor.execute(*statements[0][1]([]))
        ids = [row[0] for row in cursor.fetchall()]

    def run(sql: str, params: list[Any]) -> Callable[[], int]:
        def action() -> int:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return len(cursor.fetchall())

        return action

    return {label: timed_runs(run(*st(ids)), runs)["median"] for label, st in statements}


def talent_sql(pool: list[int], skill: str) -> Callable[[], int]:
    """Baseline of the talent search: the plain SQL reading the first 50 members of the pool's
    organizations (their ids given) with the skill, tested per member as the selector does,
    available first, with their organization."""
    from django.db import connection

    def action() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.id, m.name, m.id_number, m.phone, m.status, m.joined_on, m.available,"
                " o.id, o.code, o.name, o.kind FROM orgs_member m"
                " JOIN orgs_organization o ON o.id = m.organization_id"
                f" WHERE m.organization_id IN ({_in(pool)}) AND EXISTS"
                " (SELECT 1 FROM orgs_memberskill s WHERE s.member_id = m.id AND s.skill = %s)"
                " ORDER BY m.available DESC, m.name, m.id LIMIT 50",
                [*pool, skill],
            )
            return len(cursor.fetchall())

    return action


def talent_api_exists() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/orgs/talent")
    except Resolver404:
        return False
    return True


def run_measures(p: People, runs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from django.test import Client
    from django.utils import timezone

    from grassroots.orgs.overview import org_tree, year_range
    from grassroots.orgs.selectors import organizations_for, pool_organizations, talent

    admin, official = bench_web.client_for(p.admin), bench_web.client_for(p.official)
    today = timezone.localdate()
    this, last = year_range(today.year, today), year_range(today.year - 1, today)
    tree_label = f"plain SQL, the same rows ({len(tree_statements(p.county, *this))} statements)"
    rows = []
    for label, client, who, code in (
        ("organization tree, county", admin, "county admin", p.county),
        ("organization tree, town", official, "town official", p.town),
    ):
        for url, (since, until), when in (
            ("/console/orgs/", this, f"this year ({this[0]:%m-%d} to {this[1]:%m-%d})"),
            (f"/console/orgs/?year={today.year - 1}", last, f"{today.year - 1}"),
        ):
            rows.append(
                measure(
                    f"{label}, {when}",
                    who,
                    f"GET {url}",
                    get(client, url),
                    (tree_label, tree_sql(code, since, until)),
                    TREE_TARGET,
                    runs,
                )
            )
    # The data of the county's page without the page: what the template and the middleware add.
    rows.insert(
        1,
        measure(
            "org_tree() alone, county, this year",
            "county admin",
            "org_tree(organizations_for(user), …): the rows of the page, not rendered",
            lambda: org_tree(organizations_for(p.admin), *this, today),
            (tree_label, tree_sql(p.county, *this)),
            TREE_TARGET,
            runs,
        ),
    )
    info: dict[str, Any] = {"tree_breakdown": tree_breakdown(p.county, *this, runs)}
    say(
        "plain SQL of the county's tree, this year, statement by statement: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in info["tree_breakdown"].items())
    )
    api = info["talent_api"] = talent_api_exists()
    bearer = Client()
    for kind, group in (("joint branch", p.joint), ("alliance", p.alliance)):
        pool = sorted(pool_organizations(group).values_list("pk", flat=True))
        base = (
            f"plain SQL, the first 50 of the pool's {len(pool)} organizations",
            talent_sql(pool, SKILL),
        )
        info[f"pool_{kind.replace(' ', '_')}"] = {
            "code": group.code,
            "organizations": len(pool),
            "members": talent(group).count(),
            "with_skill": talent(group, SKILL).count(),
        }
        if api:
            url = f"/api/v1/orgs/talent?group={group.code}&skill={SKILL}"
            try:
                rows.append(
                    measure(
                        f"talent search, {kind} {group.code}",
                        "county admin (Bearer token)",
                        f"GET {url}",
                        get(bearer, url, authorization=f"Bearer {p.token}"),
                        base,
                        TALENT_TARGET,
                        runs,
                    )
                )
            except SystemExit as exc:  # an alliance code the endpoint may not take
                say(f"talent API, {kind}: {exc}")
                info[f"api_{kind.replace(' ', '_')}"] = str(exc)
        rows.append(
            measure(
                f"talent selector, {kind} {group.code}",
                "",
                f'list(talent({kind}, "{SKILL}")[:50])',
                lambda group=group: list(talent(group, SKILL)[:50]),
                base,
                TALENT_TARGET,
                runs,
            )
        )
    return rows, info


def world() -> dict[str, Any]:
    from django.db.models import Count

    from grassroots.orgs.models import (
        Alliance,
        Attendance,
        Meeting,
        Member,
        MemberPost,
        MemberSkill,
        Organization,
    )
    from grassroots.territory.models import Unit

    return {
        "units": dict(Counter(Unit.objects.values_list("level", flat=True))),
        "organizations": Organization.objects.count(),
        "by_kind": dict(
            Organization.objects.order_by().values_list("kind").annotate(n=Count("id"))
        ),
        "members": Member.objects.count(),
        "probationary": Member.objects.filter(status="probationary").count(),
        "posts": MemberPost.objects.count(),
        "vacant": Organization.objects.exclude(
            pk__in=MemberPost.objects.filter(post="secretary", ended_on__isnull=True).values(
                "organization_id"
            )
        ).count(),
        "skills": MemberSkill.objects.count(),
        "with_skill": MemberSkill.objects.filter(skill=SKILL).count(),
        "meetings": Meeting.objects.count(),
        "first_meeting": str(
            Meeting.objects.order_by("held_on").values_list("held_on", flat=True)[0]
        ),
        "attendance": Attendance.objects.count(),
        "alliances": Alliance.objects.count(),
    }


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    bench_cases.setup_django(workdir, database_url)
    timer = bench_cases.Timer()
    figures: dict[str, Any] = {
        "engine": args.engine,
        "members_requested": args.members,
        "years": args.years,
        "runs": args.runs,
    }
    if args.reuse:
        say(f"reusing the county in {database_url}")
    else:
        build(args, workdir, timer)
    p = People()
    figures["world"] = {
        **world(),
        "county": p.county,
        "town": p.town,
        "joint": f"{p.joint.name} ({p.joint.code})",
        "alliance": f"{p.alliance.name} ({p.alliance.code})",
    }
    figures["server"] = bench_cases.server_version()
    say(f"world: {figures['world']}")
    # The machine may be shared: the load around the measures says how quiet it was.
    load = os.getloadavg()[0]
    figures["measures"], info = run_measures(p, args.runs)
    figures["load"] = [load, os.getloadavg()[0]]
    figures["world"].update(info)
    figures["timings"] = timer.figures
    return figures


def main() -> int:
    args = parse_args()
    bench_cases.ENGINE = "SQLite" if args.engine == "sqlite" else "PostgreSQL"
    figures: dict[str, Any]
    if args.reuse:
        workdir = Path(args.reuse).resolve()
        saved = workdir / "database_url"
        url = (
            saved.read_text().strip() if saved.exists() else f"sqlite:///{workdir / 'orgs.sqlite3'}"
        )
        figures = run(args, workdir, url)
        args.out.write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix=f"grassroots-bench-orgs-{args.engine}-"))
    database = f"gr_bench_orgs_{os.getpid()}"
    try:
        if args.engine == "sqlite":
            url = f"sqlite:///{workdir / 'orgs.sqlite3'}"
        else:
            try:
                url = bench_cases.pg_database(database, create=True)
            except Exception as exc:  # noqa: BLE001 - any failure to reach the server
                say(f"not reachable at {bench_cases.PG_ADMIN_URL}: {exc}; skipped")
                args.out.write_text(json.dumps({"engine": args.engine, "skipped": str(exc)}))
                return 0
        say(f"{args.members:,} members, {args.years} years of meetings in {workdir}")
        if args.keep:
            (workdir / "database_url").write_text(url)
        figures = run(args, workdir, url)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep:
            say(f"kept {workdir}" + (f" and database {database}" if args.engine != "sqlite"
                                     else ""))  # fmt: skip
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.engine == "postgresql":
                with contextlib.suppress(Exception):
                    bench_cases.pg_database(database, create=False)
    args.out.write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
