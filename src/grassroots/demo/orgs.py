"""The demo county's party organizations and members, loaded through `grassroots import orgs`
and `grassroots import members` like a county's own files: a committee for every town, a branch
for every village and community, the joint branch 汶联村党支部 over 半山村 and its neighbours
汶潭村 and 坪寨村 (with members of its own), and about 4% of each village's adults as members —
with a secretary in most branches (a few posts left vacant), committee members, skills for the
talent pool, probationary members (some overdue for conversion) and a few 流动党员 whose ID
numbers are not in the registry; then a year of branch life (三会一课, 主题党日) for every branch
through orgs.services.meeting_record, with the gaps real branches have (a missed quarter, a
skipped meeting) for the assessment to find."""

from __future__ import annotations

import datetime
import decimal

from django.utils import timezone

from grassroots.core.tables import Table
from grassroots.core.validators import id_number_with_check
from grassroots.orgs.activities import activity_record
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.imports_members import import_members
from grassroots.orgs.models import Member, Organization
from grassroots.orgs.selectors import pool_organizations
from grassroots.orgs.services import meeting_record
from grassroots.orgs.shared import (
    booking_create,
    income_record,
    milestone_add,
    milestone_done,
    project_create,
    resource_create,
)
from grassroots.registry.models import Household, Resident
from grassroots.territory.models import Unit

from .generator import DemoRandom

ORG_HEADERS = ["组织编码", "名称", "类型", "上级组织", "所属单位"]
MEMBER_HEADERS = ["姓名", "身份证号", "组织编码", "类别", "入党日期", "职务", "技能", "手机号"]
SKILLS = ("种植", "电商", "法律", "医疗", "建筑", "养殖", "茶叶", "驾驶", "财会", "电工")
JOINT_CODE, JOINT_NAME = "WL-LHZB", "汶联村党支部"
JOINT_VILLAGES = ("半山村", "汶潭村", "坪寨村")
# Members per adult, and the share of branches whose secretary post is vacant.
MEMBER_SHARE = 0.04
VACANT_SHARE = 0.06
FLOATING_NAMES = ("林远航", "陈外出", "黄务工", "吴在外")


def org_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    units = list(Unit.objects.filter(level__in=["town", "village"]).order_by("code"))
    for town in (u for u in units if u.level == "town"):
        rows.append([f"{town.code}-DW", f"{town.name}党委", "党委", "", town.code])
    joint: list[str] = []
    for village in (u for u in units if u.level == "village"):
        town_code = village.code[:9]
        parent = f"{town_code}-DW"
        rows.append([f"{village.code}-ZB", f"{village.name}党支部", "党支部", parent, village.code])
        if village.name in JOINT_VILLAGES and town_code == "350426101":
            joint.append(village.code)
    if len(joint) >= 2:
        rows.append([JOINT_CODE, JOINT_NAME, "联合党支部", "350426101-DW", "、".join(joint)])
    return rows


def member_rows(seed: int, today: datetime.date, joint: bool) -> list[list[str]]:
    r = DemoRandom(f"{seed}:orgs")
    adult = today.replace(year=today.year - 18)
    by_village: dict[str, list[Resident]] = {}
    residents = Resident.objects.filter(
        moved_out_on__isnull=True, deceased_on__isnull=True, birth_date__lte=adult
    ).order_by("pk")
    numbers: set[str] = set()
    for resident in residents.iterator(chunk_size=2000):
        # The registry may hold an ID number twice (merged registers, planted for the coverage
        # audit); one person is one member.
        if resident.id_number not in numbers:
            numbers.add(resident.id_number)
            by_village.setdefault(resident.scope_code[:12], []).append(resident)
    rows: list[list[str]] = []
    joint_taken = 0
    for v, (village, people) in enumerate(sorted(by_village.items())):
        chosen = r.sample(
            people, max(3, round(len(people) * MEMBER_SHARE)) if len(people) >= 3 else len(people)
        )
        vacant = r.random() < VACANT_SHARE
        for i, person in enumerate(chosen):
            org = f"{village}-ZB"
            if (
                joint
                and village.startswith("350426101")
                and joint_taken < 6
                and i == len(chosen) - 1
            ):
                org, joint_taken = JOINT_CODE, joint_taken + 1
            posts = []
            if i == 0 and not vacant:
                posts = ["书记"]
            elif i in (1, 2):
                posts = [r.choice(["组织委员", "宣传委员", "纪检委员", "委员"])]
            if org == JOINT_CODE and joint_taken == 1:
                posts = ["书记"]
            # The fourth member of every branch, and a few others, are probationary: joined
            # within two years, every other branch's over a year ago (due for conversion).
            probationary = i == 3 or r.random() < 0.04
            if i == 3:
                days = r.randint(400, 700) if v % 2 == 0 else r.randint(60, 300)
            else:
                days = r.randint(60, 700) if probationary else r.randint(800, 9000)
            # Formal members joined years ago, never before the age of 18.
            eighteen = person.birth_date.replace(year=person.birth_date.year + 18)
            joined = max(today - datetime.timedelta(days=days), eighteen)
            skills = "、".join(sorted(set(r.sample(SKILLS, r.randint(0, 2)))))
            rows.append(
                [
                    person.name,
                    person.id_number,
                    org,
                    "预备党员" if probationary else "正式党员",
                    joined.isoformat(),
                    "、".join(posts),
                    skills,
                    person.phone or "",
                ]
            )
    # 流动党员: members of a village branch living elsewhere (no record in the registry).
    villages = sorted(by_village)
    for n, name in enumerate(FLOATING_NAMES[: len(villages)]):
        number = id_number_with_check(f"350102{1980 + n}0{n + 1}15{r.randint(100, 999)}")
        joined = today - datetime.timedelta(days=r.randint(1500, 6000))
        rows.append(
            [
                name,
                number,
                f"{villages[n * 7 % len(villages)]}-ZB",
                "正式党员",
                joined.isoformat(),
                "",
                "",
                "",
            ]
        )
    return rows


def load_orgs(seed: int) -> None:
    """Write the demo's organizations and members."""
    orgs = org_rows()
    result = import_orgs(Table(headers=ORG_HEADERS, rows=enumerate(orgs, start=2), source="demo"))
    if result.problems:
        raise ValueError(f"demo organizations: {'; '.join(map(str, result.problems[:3]))}")
    joint = any(row[0] == JOINT_CODE for row in orgs)
    members = member_rows(seed, timezone.localdate(), joint)
    result = import_members(
        Table(headers=MEMBER_HEADERS, rows=enumerate(members, start=2), source="demo")
    )
    if result.problems:
        raise ValueError(f"demo members: {'; '.join(map(str, result.problems[:3]))}")
    load_meetings(seed, timezone.localdate())
    load_activities(seed, timezone.localdate())
    load_shared(seed, timezone.localdate())


TOPICS = {
    "member_meeting": ("学习贯彻党的二十大精神", "讨论发展新党员", "审议村级重大事项"),
    "committee_meeting": ("研究本月重点工作", "部署网格走访", "讨论困难群众帮扶"),
    "group_meeting": ("学习党章党规", "交流联户情况", "讨论环境整治"),
    "party_lecture": ("书记讲党课：基层治理", "乡村振兴专题党课", "廉洁自律专题党课"),
    "theme_day": ("志愿服务进网格", "重温入党誓词", "环境卫生整治"),
}
QUARTERLY = ("member_meeting", "party_lecture")
# Share of branches that miss a whole quarter of their branch life, and of meetings skipped.
MISSED_QUARTER_SHARE = 0.2
SKIPPED_SHARE = 0.05


def load_meetings(seed: int, today: datetime.date) -> int:
    """A year of branch life for every branch, with realistic gaps: some branches miss a whole
    quarter, any meeting may be skipped; attendance mostly present, absences with a reason."""
    r = DemoRandom(f"{seed}:meetings")
    count = 0
    branches = Organization.objects.exclude(kind="committee").order_by("code")
    for org in branches:
        members = list(org.members.order_by("pk").values_list("pk", flat=True))
        missed = r.random() < MISSED_QUARTER_SHARE
        missed_quarter = r.randint(0, 3)
        for back in range(12, 0, -1):
            first = _months_back(today, back)
            quarter_index = (12 - back) // 3
            if missed and quarter_index == missed_quarter:
                continue
            kinds = [k for k in TOPICS if k not in QUARTERLY or first.month % 3 == 0]
            for kind in kinds:
                if r.random() < SKIPPED_SHARE:
                    continue
                day = first.replace(day=r.randint(3, 26))
                if day > today:
                    continue
                attendance = {}
                for member in members:
                    draw = r.random()
                    if draw < 0.85:
                        attendance[member] = ("present", "")
                    elif draw < 0.95:
                        attendance[member] = ("absent", r.choice(("外出务工", "生病", "家中有事")))
                    else:
                        attendance[member] = ("leave", "请假")
                meeting_record(
                    actor=None,
                    organization=org,
                    data={
                        "kind": kind,
                        "held_on": day,
                        "topic": r.choice(TOPICS[kind]),
                        "place": "村部会议室",
                    },
                    attendance=attendance,
                )
                count += 1
    return count


def _months_back(today: datetime.date, n: int) -> datetime.date:
    """The first day of the month `n` months before today's."""
    index = today.year * 12 + today.month - 1 - n
    return datetime.date(index // 12, index % 12 + 1, 1)


ACTIVITIES = (
    ("联建助农：茶园春管", "汶潭村茶园"),
    ("联合主题党日：重温入党誓词", "汶联村党群服务中心"),
    ("党员志愿服务：清理溪道", "半山村溪边"),
    ("电商培训：茶叶网上销售", "汶联村党群服务中心"),
    ("联建议事：产业项目分红方案", "汶联村党群服务中心"),
    ("走访慰问困难群众", "坪寨村"),
    ("农技讲座：食用菌种植", "半山村村部"),
    ("联合党课：乡村振兴", "汶联村党群服务中心"),
)


def load_activities(seed: int, today: datetime.date) -> int:
    """A year of the joint branch's joint activities: every organization of its pool taking
    part, about two thirds of their members present, a few others, minutes."""
    joint = Organization.objects.filter(code=JOINT_CODE).first()
    if joint is None:
        return 0
    r = DemoRandom(f"{seed}:activities")
    pool = list(pool_organizations(joint).order_by("code"))
    people = list(Member.objects.filter(organization__in=pool).order_by("pk"))
    count = 0
    for i, (theme, place) in enumerate(ACTIVITIES):
        day = _months_back(today, 11 - i * 11 // len(ACTIVITIES)).replace(day=r.randint(5, 25))
        if day > today:
            continue
        activity_record(
            actor=None,
            organization=joint,
            data={
                "theme": theme,
                "held_on": day,
                "place": place,
                "guests": r.randint(0, 30),
                "minutes": f"{theme}。参加单位：{'、'.join(o.name for o in pool)}。",
            },
            organizations=pool,
            attendees=[p for p in people if r.random() < 0.65],
        )
        count += 1
    return count


# The joint branch's shared venue: (days from today, from, until, purpose); the booking
# organization goes round the pool.
VENUE_BOOKINGS = (
    (-6, "09:00", "11:30", "主题党日：重温入党誓词"),
    (2, "09:00", "11:30", "支部党员大会"),
    (5, "14:30", "17:00", "农技培训：高山茶修剪"),
    (9, "09:00", "12:00", "联建议事会：茶产业分红方案"),
    (9, "14:00", "16:00", "党课：乡村振兴"),
    (16, "19:30", "21:00", "村民代表会议"),
)
# The tea project's milestones: (title, due in months after the start or None, due in days
# from today, done).
TEA_MILESTONES: tuple[tuple[str, int | None, int | None, bool], ...] = (
    ("茶园土地流转与整地", 3, None, True),
    ("种植高山茶苗 300 亩", 9, None, True),
    ("建成茶叶初制加工厂", None, -45, False),  # overdue
    ("注册“汶联高山茶”商标", None, 60, False),
    ("首批春茶上市", None, 150, False),
)


def _at(day: datetime.date, hhmm: str) -> datetime.datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, min(day.day, 28))


def load_shared(seed: int, today: datetime.date) -> None:
    """The joint branch's shared work through orgs.shared: a venue with bookings by its
    organizations (none overlapping), a tea-picking machine with one, a development fund, and
    a tea project two years old with milestones (two done, one overdue), about thirty
    households of its villages and two years of income."""
    joint = Organization.objects.filter(code=JOINT_CODE).first()
    if joint is None:
        return
    r = DemoRandom(f"{seed}:shared")
    pool = list(pool_organizations(joint).order_by("code"))
    venue = resource_create(
        actor=None,
        organization=joint,
        data={
            "kind": "venue",
            "name": "汶联村党群服务中心",
            "description": "位于半山村村部二楼，可容纳120人，配有投影和音响。",
        },
    )
    for i, (days, start, end, purpose) in enumerate(VENUE_BOOKINGS):
        day = today + datetime.timedelta(days=days)
        booking_create(
            actor=None,
            resource=venue,
            organization=pool[i % len(pool)],
            data={"starts_at": _at(day, start), "ends_at": _at(day, end), "purpose": purpose},
        )
    machine = resource_create(
        actor=None,
        organization=joint,
        data={
            "kind": "machinery",
            "name": "双人采茶机（2台）",
            "description": "联建购置，存放于汶潭村茶叶合作社，使用前向联合党支部预约。",
        },
    )
    first = today + datetime.timedelta(days=r.randint(3, 8))
    booking_create(
        actor=None,
        resource=machine,
        organization=pool[-1],
        data={
            "starts_at": _at(first, "07:00"),
            "ends_at": _at(first + datetime.timedelta(days=2), "18:00"),
            "purpose": "春茶采摘",
        },
    )
    resource_create(
        actor=None,
        organization=joint,
        data={
            "kind": "fund",
            "name": "汶联产业发展基金",
            "description": "三村各出资、县乡补助，用于联建产业项目的启动和周转。",
            "amount_yuan": decimal.Decimal("300000"),
        },
    )
    units = joint.served.values_list("unit_code", flat=True)
    homes = list(Household.objects.filter(unit__code__in=units).order_by("pk"))
    started = datetime.date(today.year - 2, 3, 1)
    project = project_create(
        actor=None,
        organization=joint,
        data={
            "name": "汶联高山茶产业项目",
            "industry": "tea",
            "investment_yuan": decimal.Decimal("1850000"),
            "started_on": started,
            "description": "三村连片流转山地种植高山茶，统一管护、统一加工、统一品牌，"
            "村集体保底分红，参与农户按投工和入股分红。",
        },
        organizations=pool,
        households=r.sample(homes, min(len(homes), 32)),
    )
    for title, months, offset, done in TEA_MILESTONES:
        if months is not None:
            due = _add_months(started, months)
        else:
            due = today + datetime.timedelta(days=offset or 0)
        milestone = milestone_add(actor=None, project=project, data={"title": title, "due_on": due})
        if done:
            early = datetime.timedelta(days=r.randint(0, 12))
            milestone_done(actor=None, milestone=milestone, done_on=min(due - early, today))
    for year, collective, households in (
        (today.year - 2, "20000", "86000"),
        (today.year - 1, "58000", "236500"),
    ):
        income_record(
            actor=None,
            project=project,
            year=year,
            collective_yuan=decimal.Decimal(collective),
            households_yuan=decimal.Decimal(households),
        )
