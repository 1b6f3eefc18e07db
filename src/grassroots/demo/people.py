"""Households, residents, enterprises and users of the demo county.

Households are drawn grid by grid; each gets a family whose ages fit together (a head and a
spouse of similar age, children 20 to 40 years younger, parents older), names that fit each
person's generation, valid ID numbers and mobile numbers, and care tags that follow from the
family (an old person alone is 独居老人). A few cells are written the way real spreadsheets
have them (a lower-case x, spaces in a phone number, full-width digits) so the import has
something to normalize.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools

import shapely

from grassroots.accounts.roles import Role
from grassroots.core.validators import credit_code_with_check, id_number_with_check

from . import data
from .generator import (
    County,
    Defects,
    DemoEnterprise,
    DemoGrid,
    DemoRandom,
    DemoUnit,
    DemoUser,
    chinese_number,
    largest_remainder,
    streams,
)
from .shapes import settlement_points

# Ages and dates are counted from this day, not from today, so the county does not change
# from one day to the next.
REFERENCE_DATE = datetime.date(2025, 6, 30)
_REFERENCE = REFERENCE_DATE.toordinal()

RELATION_WORDS = {
    ("head", "M"): "户主",
    ("head", "F"): "户主",
    ("spouse", "M"): "配偶",
    ("spouse", "F"): "配偶",
    ("child", "M"): "儿子",
    ("child", "F"): "女儿",
    ("parent", "M"): "父亲",
    ("parent", "F"): "母亲",
    ("grandchild", "M"): "孙子",
    ("grandchild", "F"): "孙女",
    ("sibling", "M"): "兄弟姐妹",
    ("sibling", "F"): "兄弟姐妹",
    ("child_in_law", "M"): "女婿",
    ("child_in_law", "F"): "儿媳",
    ("other", "M"): "其他",
    ("other", "F"): "其他",
    ("tenant", "M"): "租户",
    ("tenant", "F"): "租户",
}
RESIDENCY_WORDS = {"registered": "户籍", "resident": "常住", "floating": "流动"}
BANSHAN = data.COUNTY_CODE + "101201"  # 半山村, 梅仙镇
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# A member: (relation, sex, age, surname)
Member = tuple[str, str, int, str]


class _Persons:
    """Names, ID numbers and mobile numbers, unique where they must be."""

    def __init__(self, r: DemoRandom):
        self.r = r
        self.surnames = [s for s, _w in data.SURNAMES]
        self.surname_weights = list(itertools.accumulate(w for _s, w in data.SURNAMES))
        self.prefixes = [p for p, _w in data.MOBILE_PREFIXES]
        self.prefix_weights = list(itertools.accumulate(w for _p, w in data.MOBILE_PREFIXES))
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.dates: dict[int, str] = {}

    def surname(self) -> str:
        return self.r.weighted(self.surnames, self.surname_weights)

    def given(self, sex: str, year: int) -> str:
        cohort = "old" if year < 1966 else "mid" if year < 1990 else "young"
        pool = data.GIVEN_NAMES[cohort, sex]
        name = self.r.choice(pool)
        # Some people of the older cohorts carry a one-character name doubled or extended.
        if len(name) == 1 and self.r.random() < 0.3:
            name += self.r.choice(pool)[-1]
        return name

    def birth(self, age: int) -> int:
        """A birth date (ordinal) for someone `age` years old on the reference date."""
        return _REFERENCE - int(age * 365.25) - self.r.randrange(365)

    def date_text(self, ordinal: int) -> str:
        text = self.dates.get(ordinal)
        if text is None:
            text = datetime.date.fromordinal(ordinal).strftime("%Y%m%d")
            self.dates[ordinal] = text
        return text

    def id_number(self, region: str, birth: int, sex: str) -> str:
        """A valid, unused 18-character ID number; the sequence's parity gives the sex."""
        odd = 1 if sex == "M" else 0
        day = self.date_text(birth)
        while True:
            first17 = f"{region}{day}{self.r.randrange(500) * 2 + odd:03d}"
            if first17 not in self.used_ids:
                self.used_ids.add(first17)
                return id_number_with_check(first17)

    def phone(self) -> str:
        while True:
            prefix = self.r.weighted(self.prefixes, self.prefix_weights)
            number = f"{prefix}{self.r.randrange(100_000_000):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def region(self, residency: str, relation: str) -> str:
        x = self.r.random()
        if residency == "floating":
            return self.r.choice(data.OTHER_REGIONS if x < 0.7 else data.FUJIAN_REGIONS)
        if residency == "resident":
            return self.r.choice(data.FUJIAN_REGIONS) if x < 0.8 else data.COUNTY_CODE
        # Spouses more often married in from elsewhere in the province.
        elsewhere = 0.25 if relation in ("spouse", "child_in_law") else 0.06
        return self.r.choice(data.FUJIAN_REGIONS) if x < elsewhere else data.COUNTY_CODE


def _family(p: _Persons, rural: bool) -> list[Member]:
    """Who lives in one household: relation to the head, sex, age and surname."""
    r = p.r
    x = r.random()
    male_head = r.random() < 0.8
    head_sex, other_sex = ("M", "F") if male_head else ("F", "M")
    head_name = p.surname()
    family = head_name if male_head else p.surname()
    members: list[Member] = []

    def kids(relation: str, parent_age: int, count: int, surname: str) -> None:
        for _ in range(count):
            age = max(0, min(parent_age - r.randint(20, 38), 40))
            members.append((relation, "M" if r.random() < 0.52 else "F", age, surname))

    if x < 0.07:  # an old person alone
        members.append(("head", "M" if r.random() < 0.4 else "F", r.randint(65, 93), head_name))
    elif x < 0.15:  # an old couple whose children live elsewhere
        age = r.randint(60, 88)
        members.append(("head", "M", age, head_name))
        members.append(("spouse", "F", max(55, age - r.randint(-2, 5)), p.surname()))
    elif x < 0.20:  # a single adult
        members.append(("head", head_sex, r.randint(20, 60), head_name))
    elif x < 0.31:  # a couple without children at home
        age = r.randint(23, 64)
        members.append(("head", head_sex, age, head_name))
        members.append(("spouse", other_sex, max(20, age + r.randint(-4, 4)), p.surname()))
    elif x < 0.65:  # parents and children
        age = r.randint(27, 56)
        members.append(("head", head_sex, age, head_name))
        members.append(("spouse", other_sex, max(22, age + r.randint(-4, 4)), p.surname()))
        kids("child", age, r.weighted((1, 2, 3), (47, 89, 100)), family)
    elif x < 0.90 and rural:  # three generations under an older head
        age = r.randint(52, 72)
        members.append(("head", "M", age, head_name))
        if r.random() < 0.85:
            members.append(("spouse", "F", age - r.randint(0, 5), p.surname()))
        son_age = age - r.randint(22, 32)
        members.append(("child", "M", son_age, head_name))
        members.append(("child_in_law", "F", son_age - r.randint(0, 4), p.surname()))
        kids("grandchild", son_age, r.weighted((1, 2), (55, 100)), head_name)
    elif x < 0.90:  # a couple with children and one or two of the head's parents
        age = r.randint(30, 52)
        members.append(("head", head_sex, age, head_name))
        members.append(("spouse", other_sex, max(24, age + r.randint(-4, 4)), p.surname()))
        kids("child", age, r.weighted((1, 2), (55, 100)), family)
        parent_age = min(95, age + r.randint(22, 34))
        members.append(("parent", "F", parent_age - r.randint(0, 4), p.surname()))
        if r.random() < 0.6:
            members.append(("parent", "M", parent_age, head_name))
    elif x < 0.95:  # grandparents with grandchildren whose parents work elsewhere (留守)
        age = r.randint(55, 76)
        members.append(("head", "M" if r.random() < 0.6 else "F", age, head_name))
        if r.random() < 0.6:
            members.append(("spouse", "F" if members[0][1] == "M" else "M", age, p.surname()))
        for _ in range(r.weighted((1, 2), (55, 100))):
            members.append(
                ("grandchild", "M" if r.random() < 0.52 else "F", r.randint(3, 15), head_name)
            )
    else:  # siblings or relatives sharing a house
        age = r.randint(28, 62)
        members.append(("head", head_sex, age, head_name))
        members.append(
            ("sibling", "M" if r.random() < 0.5 else "F", age + r.randint(-8, 8), head_name)
        )
        if r.random() < 0.5:
            members.append(
                ("other", "M" if r.random() < 0.5 else "F", r.randint(18, 80), p.surname())
            )
    return members[:6]


class _Addresses:
    """Addresses in one grid: streets and apartment blocks in towns, 组 and house numbers in villages."""

    def __init__(self, r: DemoRandom, grid: DemoGrid, groups_before: int):
        self.r = r
        self.grid = grid
        unit = grid.unit
        self.prefix = f"{data.COUNTY_NAME}{unit.town}{unit.name}"
        self.urban = unit.urban
        if self.urban:
            own = unit.stem + ("路" if unit.code[6:9] == "100" else "街")
            others = data.SEAT_STREETS if unit.code[6:9] == "100" else ("新街", "解放路", "中心路")
            self.streets = [own, *r.sample(others, 2)]
            self.compound = r.randrange(2, 60, 2)
            self.numbers = [r.randrange(1, 30) for _ in self.streets]
        self.group = groups_before
        self.house = 0
        self.index = 0

    def next(self) -> tuple[str, str, str, str]:
        """(address, building, unit, room) of the next household."""
        r, i = self.r, self.index
        self.index += 1
        if not self.urban:
            if i % 40 == 0:
                self.group += 1
                self.house = 0
            self.house += 1
            text = f"{self.group}组{self.house}号"
            if r.random() < 0.005:
                text = text.translate(_FULL_WIDTH)
            return self.prefix + text, "", "", ""
        if r.random() < 0.65:
            # Apartment blocks: 48 homes a building (4 entrances, 6 floors, 2 a landing).
            block, home = divmod(i, 48)
            entrance, flat = divmod(home, 12)
            floor, door = divmod(flat, 2)
            street = self.streets[0]
            return (
                f"{self.prefix}{street}{self.compound}号",
                f"{block + 1}幢",
                f"{entrance + 1}单元",
                f"{floor + 1}0{door + 1}",
            )
        s = r.randrange(len(self.streets))
        self.numbers[s] += r.choice((1, 2, 2, 3))
        return f"{self.prefix}{self.streets[s]}{self.numbers[s]}号", "", "", ""


def _household_tags(members: list[Member], rural: bool, r: DemoRandom) -> list[str]:
    tags = []
    ages = [m[2] for m in members]
    if len(members) == 1 and ages[0] >= 65:
        tags.append("独居老人")
    elif members and min(ages) >= 60:
        tags.append("空巢老人")
    if any(m[0] == "grandchild" for m in members) and not any(
        m[0] in ("child", "child_in_law") for m in members
    ):
        tags.append("留守儿童")
    x = r.random()
    if x < (0.03 if rural else 0.015):
        tags.append("低保")
    elif x < 0.036 and len(members) <= 2 and max(ages, default=0) >= 60:
        tags.append("特困")
    if rural and r.random() < 0.05:
        tags.append("脱贫户")
    if r.random() < 0.004:
        tags.append("优抚对象")
    if any(m[0] == "tenant" for m in members):
        tags.append("出租房")
    return tags


_SENSITIVE = (
    ("社区矫正", 0.0003),
    ("刑满释放", 0.0005),
    ("严重精神障碍", 0.0008),
    ("吸毒人员", 0.0002),
)


def _person_tags(member: Member, household_tags: list[str], r: DemoRandom) -> list[str]:
    relation, sex, age, _s = member
    tags = []
    if age >= 22 and r.random() < (0.09 if sex == "M" else 0.04):
        tags.append("党员")
    if sex == "M" and 24 <= age <= 75 and r.random() < 0.03:
        tags.append("退役军人")
    if r.random() < 0.015:
        tags.append("残疾人")
    if relation == "grandchild" and age < 16 and "留守儿童" in household_tags:
        tags.append("留守儿童")
    if 18 <= age <= 65:
        for tag, share in _SENSITIVE:
            if r.random() < share:
                tags.append(tag)
    return tags


def _resident_row(
    p: _Persons,
    member: Member,
    household: str,
    residency: str,
    tags: list[str],
    *,
    given: str | None = None,
) -> list[str]:
    """The cells of one resident, in RESIDENT_HEADERS order."""
    r = p.r
    relation, sex, age, surname = member
    birth = p.birth(age)
    year = int(p.date_text(birth)[:4])
    name = surname + (given or p.given(sex, year))
    number = p.id_number(p.region(residency, relation), birth, sex)
    written = number
    if number.endswith("X") and r.random() < 0.3:
        written = number[:-1] + "x"
    elif r.random() < 0.01:
        written = f"{number[:6]} {number[6:14]} {number[14:]}"
    phone = ""
    if (
        age >= 16
        and r.random() < (0.93 if age < 70 else 0.45)
        or 14 <= age < 16
        and r.random() < 0.3
    ):
        phone = p.phone()
        x = r.random()
        if x < 0.02:
            phone = f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
        elif x < 0.025:
            phone = phone.translate(_FULL_WIDTH)
    moved = deceased = ""
    x = r.random()
    # Members who left or died are kept with a date; a head is replaced instead, so only the
    # planted households are left without a current member.
    if relation == "head":
        pass
    elif x < 0.008:
        moved = datetime.date.fromordinal(_REFERENCE - r.randrange(1, 1800)).isoformat()
    elif x < 0.008 + (0.03 if age >= 80 else 0.002):
        deceased = datetime.date.fromordinal(_REFERENCE - r.randrange(1, 900)).isoformat()
    row = [
        name,
        written,
        phone,
        household,
        RELATION_WORDS[relation, sex],
        RESIDENCY_WORDS[residency],
        ";".join(tags),
        moved,
        deceased,
    ]
    return row


def _residency(urban: bool, r: DemoRandom) -> str:
    x = r.random()
    if urban:
        return "registered" if x < 0.78 else "resident" if x < 0.92 else "floating"
    return "registered" if x < 0.94 else "resident" if x < 0.99 else "floating"


def _defect_counts(n: int, grids: int) -> dict[str, int]:
    return {
        "outside": 1 + n // 100_000,
        "empty": 2 + n // 50_000,
        "without_grid": 3 + n // 50_000,
        "floating": 5 + n // 20_000,
        "duplicate": 1 + n // 100_000,
        "unmanned": max(2, grids // 200),
    }


def add_people(county: County) -> None:
    """Households (with their residents) for every grid, and the planted coverage problems."""
    r, nprng = streams(county.seed, "people")
    p = _Persons(r)
    grids = county.grids
    defects = county.defects
    counts = _defect_counts(county.households, len(grids))
    main = max(len(grids), county.households - counts["without_grid"])
    weights = [
        (0.12 if g.kind == "dedicated" else 1.35 if g.unit.urban else 1.0) * w
        for g, w in zip(grids, nprng.uniform(0.8, 1.2, len(grids)).tolist(), strict=True)
    ]
    for grid, n in zip(grids, largest_remainder(main, weights, [1] * len(grids)), strict=True):
        grid.households = n
    # 赵光菊 lives alone in the first house of 半山村 (the name the project's examples use).
    first_banshan = next(i for i, g in enumerate(grids) if g.unit.code == BANSHAN)
    zhao = sum(g.households for g in grids[:first_banshan])
    # Which households (by position) carry a planted problem.
    candidates = [i for i in range(main) if i != zhao]
    positions = r.sample(candidates, min(len(candidates), counts["empty"] + counts["outside"]))
    empty = set(positions[: counts["empty"]])
    outside = set(positions[counts["empty"] :])

    sequence: dict[str, int] = {}
    groups: dict[str, int] = {}
    position = 0
    households, residents = county.household_rows, county.resident_rows
    outside_rows: list[tuple[list[str], DemoGrid]] = []
    for grid in grids:
        unit = grid.unit
        hamlets = 2 + grid.households // (40 if unit.urban else 60)
        points = settlement_points(grid.polygon, grid.households, nprng, hamlets=hamlets)
        addresses = _Addresses(r, grid, groups.get(unit.code, 0))
        for lon, lat in points.tolist():
            sequence[unit.code] = sequence.get(unit.code, 0) + 1
            code = f"{unit.code}{sequence[unit.code]:05d}"
            address, building, unit_no, room = addresses.next()
            members = [] if position in empty else _family(p, not unit.urban)
            if position == zhao:
                members = [("head", "F", 67, "赵")]
            if unit.urban and members and r.random() < 0.06:
                members.append(
                    ("tenant", "M" if r.random() < 0.6 else "F", r.randint(19, 45), p.surname())
                )
                members = members[:6]
            tags = _household_tags(members, not unit.urban, r)
            # Most rows give the grid and the point; 10% only the point (the import places
            # them), 3% only the grid (no point surveyed yet).
            x = r.random()
            has_grid = position in outside or x < 0.03 or x >= 0.13
            has_point = position in outside or x >= 0.03
            grid_code = grid.code if has_grid else ""
            lon_text, lat_text = (f"{lon:.6f}", f"{lat:.6f}") if has_point else ("", "")
            row = [
                code,
                address,
                grid_code,
                lon_text,
                lat_text,
                ";".join(tags),
                building,
                unit_no,
                room,
            ]
            households.append(row)
            if position in empty:
                defects.empty_households.append(code)
            if position in outside:
                outside_rows.append((row, grid))
            residency = _residency(unit.urban, r)
            for member in members:
                resident_residency = "floating" if member[0] == "tenant" else residency
                cells = _resident_row(
                    p,
                    member,
                    code,
                    resident_residency,
                    _person_tags(member, tags, r),
                    given="光菊" if position == zhao else None,
                )
                residents.append(cells)
            position += 1
        groups[unit.code] = addresses.group
    _plant_outside(outside_rows, grids, defects)
    _plant_unregistered(county, p, r, counts, sequence, groups)


def _plant_outside(
    rows: list[tuple[list[str], DemoGrid]], grids: list[DemoGrid], defects: Defects
) -> None:
    """Give a few households the coordinates of a point in a neighbouring grid."""
    tree = shapely.STRtree([g.polygon for g in grids])
    for row, grid in rows:
        near = [int(i) for i in tree.query(grid.polygon, predicate="touches")]
        other = grids[near[0]] if near else grids[(grids.index(grid) + 1) % len(grids)]
        point = other.polygon.representative_point()
        row[3], row[4] = f"{point.x:.6f}", f"{point.y:.6f}"
        defects.households_outside_grid.append(row[0])


def _plant_unregistered(
    county: County,
    p: _Persons,
    r: DemoRandom,
    counts: dict[str, int],
    sequence: dict[str, int],
    groups: dict[str, int],
) -> None:
    """Households without a grid, residents without a household, an ID number held twice."""
    defects = county.defects
    villages = [u for u in county.units if len(u.code) == 12]
    rural = [u for u in villages if not u.urban] or villages
    urban = [u for u in villages if u.urban] or villages
    for _ in range(counts["without_grid"]):
        # A family that moved into a new house the village has not yet put in a grid.
        unit = r.choice(rural)
        sequence[unit.code] = sequence.get(unit.code, 0) + 1
        code = f"{unit.code}{sequence[unit.code]:05d}"
        groups[unit.code] = groups.get(unit.code, 0) + 1
        address = f"{data.COUNTY_NAME}{unit.town}{unit.name}{groups[unit.code]}组1号"
        members = _family(p, True)[:3]
        rows = [_resident_row(p, m, code, "registered", []) for m in members]
        defects.households_without_grid.append((code, address, unit.code, rows))
    for _ in range(counts["floating"]):
        # Workers renting a bed in town, known to the community but in no household yet.
        unit = r.choice(urban)
        member = ("other", "M" if r.random() < 0.65 else "F", r.randint(18, 48), p.surname())
        row = _resident_row(p, member, "", "floating", [])
        row[4] = ""
        defects.residents_without_household.append((unit.code, row))
    current = [
        row
        for row in county.resident_rows[:: max(1, len(county.resident_rows) // 5000)]
        if not row[7] and not row[8]
    ]
    households = [row[0] for row in county.household_rows]
    for row in r.sample(current, min(len(current), counts["duplicate"])):
        # The same person entered again in a relative's household after a move.
        number = row[1].replace(" ", "").upper()
        other = r.choice([h for h in households[:: max(1, len(households) // 1000)] if h != row[3]])
        defects.duplicate_id_numbers.append((number, other, row[0]))


def add_enterprises(county: County) -> None:
    """Companies, shops and cooperatives, most of them in towns and industrial parks."""
    r, nprng = streams(county.seed, "enterprises")
    p = _Persons(r)
    count = max(12, county.households // 100)
    grids = county.grids
    weights = [
        40.0 if g.kind == "dedicated" and "园" in g.name else 3.0 if g.unit.urban else 1.0
        for g in grids
    ]
    industries = [i[0] for i in data.INDUSTRIES]
    industry_weights = list(itertools.accumulate(i[1] for i in data.INDUSTRIES))
    patterns = {i[0]: i[2:] for i in data.INDUSTRIES}
    chosen = r.choices(range(len(grids)), weights=weights, k=count)
    per_grid = [0] * len(grids)
    for index in chosen:
        per_grid[index] += 1
    names: set[str] = set()
    codes: set[str] = set()
    for grid, n in zip(grids, per_grid, strict=True):
        if not n:
            continue
        points = settlement_points(grid.polygon, n, nprng, hamlets=1)
        for lon, lat in points.tolist():
            industry = r.weighted(industries, industry_weights)
            kind, pattern = r.choice(patterns[industry])
            name = _enterprise_name(r, pattern, grid.unit, names)
            contact = p.surname() + p.given("M" if r.random() < 0.6 else "F", 1975)
            county.enterprises.append(
                DemoEnterprise(
                    name=name,
                    credit_code=_credit_code(r, kind, codes),
                    address=f"{data.COUNTY_NAME}{grid.unit.town}{grid.unit.name}"
                    f"{grid.unit.stem}路{r.randrange(1, 200)}号",
                    industry=industry,
                    contact_name=contact,
                    contact_phone=p.phone(),
                    lon=lon,
                    lat=lat,
                    grid_code=grid.code,
                )
            )


def _enterprise_name(r: DemoRandom, pattern: str, unit: DemoUnit, taken: set[str]) -> str:
    """A name not yet taken; a chain adds its branch, as in 福源便利店（半山店）."""
    for _attempt in range(6):
        name = pattern.format(place=unit.stem, word=r.choice(data.TRADE_WORDS))
        if name not in taken:
            taken.add(name)
            return name
    base = name
    name = f"{base}（{unit.stem}店）"
    n = 2
    while name in taken:
        name = f"{base}（{unit.stem}{chinese_number(n)}店）"
        n += 1
    taken.add(name)
    return name


_ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _organization_code(body: str) -> str:
    """GB 11714 organization code: 8 characters and a check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def _credit_code(r: DemoRandom, kind: str, taken: set[str]) -> str:
    """A unified social credit code (GB 32100) registered in the county."""
    while True:
        if kind == "91" and r.random() < 0.4:
            # Older companies kept the organization code they had before 2015.
            body = f"{r.randrange(10**7, 10**8)}"
        else:
            body = "MA" + "".join(r.choice(_ORG_CHARS) for _ in range(6))
        code = credit_code_with_check(f"{kind}{data.COUNTY_CODE}{_organization_code(body)}")
        if code not in taken:
            taken.add(code)
            return code


def demo_password(seed: int, username: str) -> str:
    """A password derived from the seed: the same demo gives the same logins."""
    digest = hashlib.sha256(f"grassroots-demo:{seed}:{username}".encode()).digest()
    text = base64.b32encode(digest).decode().lower()[:12]
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


# The users of the roles other than grid worker, and the unit each is scoped to (by suffix of
# the county code: "" is the county itself).
ROLE_USERS = (
    ("demo_admin", Role.COUNTY_ADMIN, ""),
    ("demo_town", Role.TOWN_OFFICIAL, "101"),
    ("demo_secretary", Role.VILLAGE_SECRETARY, "101201"),
    ("demo_dispatcher", Role.DISPATCHER, ""),
    ("demo_department", Role.DEPARTMENT_HANDLER, ""),
    ("demo_auditor", Role.AUDITOR, ""),
)
WORKER_PREFIX = "demo_wg"


def add_users(county: County) -> None:
    """One user per role, and a grid worker for every grid but a few (a planted problem)."""
    r, _nprng = streams(county.seed, "users")
    p = _Persons(r)
    counts = _defect_counts(county.households, len(county.grids))
    own = [g.code for g in county.grids if g.unit.code == BANSHAN]
    others = [g.code for g in county.grids if g.unit.code != BANSHAN]
    unmanned = sorted(r.sample(others, min(len(others) - 1, counts["unmanned"])))
    county.defects.grids_without_worker = unmanned
    users = [
        DemoUser(name, str(role), [data.COUNTY_CODE + suffix]) for name, role, suffix in ROLE_USERS
    ]
    users.append(DemoUser("demo_worker", str(Role.GRID_WORKER), own))
    skip = set(unmanned)
    for code in others:
        if code not in skip:
            users.append(DemoUser(f"{WORKER_PREFIX}{code}", str(Role.GRID_WORKER), [code]))
    for user in users:
        sex = "F" if r.random() < 0.45 else "M"
        user.last_name = p.surname()
        user.first_name = p.given(sex, r.randint(1965, 1998))
        user.phone = p.phone()
    county.users = users
