"""Cases at county scale: the escalation sweep, the indicators and one grid's open list.

bench/run.py starts this file once per database engine, in its own process (Django reads
DATABASE_URL once):

    .venv/bin/python bench/cases.py --engine sqlite --cases 5000000 --out figures.json

It builds the territory of the benchmark county (the demo county of 300,000 households:
1,000 grids in 251 villages and communities of 15 towns), generates the cases of one year over
it with NumPy and loads them the fast way (SQLite: executemany in batches with the plain
indexes dropped and rebuilt; PostgreSQL: COPY with the indexes and foreign keys dropped and
rebuilt), writes their timelines with one INSERT … SELECT per kind of step, then times:

- `rebuild_buckets()`;
- `indicators()` for the county (first run and best of 3), one town and one month; baseline:
  the same figures computed from the cases table with one aggregate query;
- `open_cases_of_grid()` for the grid with the most open cases (first run and best of 5);
  baseline: the same call with the partial index `case_open_by_scope` dropped (inside a
  transaction that is rolled back);
- `sweep()` with exactly 1% of the cases past their tier's deadline (set A, at `now`; those
  at their first tier pass their due date too), as the product runs it, then again at the same
  `now` (idempotence: nothing to do), then `sweep(notify=False)` over a second 1% (set B, tier
  deadline within the hour after `now`); baselines over a third 1% (set C, in the hour after
  that), each rolled back: one ORM `.update()` of the same kind of rows without events and
  buckets (the floor), and a per-case loop (read, save, event, bucket delta) timed on 2,000 cases
  and extrapolated.
The statements of the timed sweeps are timed one by one (a wrapper around the cursor) and
explained by a last sweep over set C (rolled back) that explains each statement just before it
runs. Finally the county's indicators from the buckets the sweeps kept in step are checked
against the same sums computed from the cases.

Figures go to --out as JSON; bench/report.py renders them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FULL_CASES = 5_000_000
# The territory of the full-size benchmark county (bench/run.py: 1M residents, 300,000
# households): 1,000 grids. Cases need only units and grids, so no household is loaded.
COUNTY_HOUSEHOLDS = 300_000
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BATCH = 100_000
LOOP_SAMPLE = 2_000
DAY = 86_400
HOUR = 3_600
LOCAL_OFFSET = 8 * HOUR  # Asia/Shanghai, no daylight saving: reported_on is the local date

TIERS = ["grid", "village", "town", "county"]
OPEN_STAGES = ["reported", "accepted", "dispatched", "in_progress", "handled", "verified"]
OPEN_STAGE_WEIGHTS = [14, 16, 20, 30, 12, 8]
CATEGORY_WEIGHTS = {
    "environment": 24,
    "policy": 15,
    "facilities": 14,
    "dispute": 12,
    "safety": 8,
    "assistance": 7,
    "enterprise": 5,
    "other": 15,
}
CATEGORY_KIND = {"dispute": "mediation", "assistance": "assistance"}
CHANNEL_WEIGHTS = {
    "portal": 33,
    "grid_worker": 30,
    "hotline": 20,
    "hotline_import": 9,
    "api": 3,
    "open311": 2,
    "visit": 3,
}
# Median clock hours a closed case spent at the tier that handled it.
HANDLING_HOURS = [14.0, 30.0, 50.0, 90.0]
DESCRIPTIONS = {
    "environment": [
        "{p}垃圾堆放多日无人清运，气味很大，请尽快处理。",
        "{p}路边污水外溢，行人无法通过。",
        "{p}附近有人焚烧秸秆，烟雾很大。",
        "{p}公共厕所长期无人打扫。",
        "{p}河道漂浮垃圾较多，影响环境。",
    ],
    "policy": [
        "咨询{p}居民医保缴费的时间和渠道。",
        "想了解{p}高龄补贴怎么申请，需要哪些材料。",
        "咨询{p}宅基地审批的流程。",
        "问一下{p}新生儿落户需要什么手续。",
    ],
    "facilities": [
        "{p}路灯坏了好几盏，晚上出行不安全。",
        "{p}自来水管破裂，水流到路面上。",
        "{p}道路坑洼积水，车辆通行困难。",
        "{p}健身器材损坏，存在安全隐患。",
        "{p}下水道井盖缺失，请尽快补上。",
    ],
    "dispute": [
        "{p}两户因宅基地边界发生纠纷，请求调解。",
        "{p}邻里因漏水问题产生矛盾。",
        "{p}村民与承包方因土地流转费用发生争议。",
        "{p}楼上装修噪音扰民，协商未果。",
    ],
    "safety": [
        "{p}电线私拉乱接，存在火灾隐患。",
        "{p}山体有滑坡迹象，请派人查看。",
        "{p}楼道堆放杂物堵塞消防通道。",
        "{p}电动车在楼道内充电。",
    ],
    "assistance": [
        "{p}独居老人生活困难，需要帮扶。",
        "{p}一户家庭因病致贫，申请临时救助。",
        "{p}残疾人家庭房屋漏雨，无力维修。",
    ],
    "enterprise": [
        "{p}企业反映用电报装进度慢。",
        "{p}企业咨询稳岗补贴申领。",
        "{p}企业门前道路施工影响货车进出。",
    ],
    "other": [
        "{p}流浪犬较多，担心伤人。",
        "{p}广场舞音响声音太大，影响休息。",
        "{p}有车辆长期占用消防通道。",
        "反映{p}的其他问题，请联系我。",
    ],
}
COMMENTS = ["处理及时，满意。", "感谢网格员。", "问题解决了。", "速度有点慢。", "还没彻底解决。"]


# --- Set-up --------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--cases", type=int, default=int(os.environ.get("BENCH_CASES", FULL_CASES)))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database and directory")
    return parser.parse_args()


def pg_database(name: str, *, create: bool) -> str:
    """Create (or drop) a benchmark database; returns its URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if create:
            # A Chinese ICU collation, as the CI suite and a production server in China have.
            admin.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
                " LOCALE_PROVIDER icu ICU_LOCALE 'zh-CN' LOCALE 'C.UTF-8'"
            )
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def setup_django(workdir: Path, database_url: str) -> None:
    os.environ["VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def say(text: str) -> None:
    print(f"  [{ENGINE}] {text}", flush=True)


ENGINE = "?"


class Timer:
    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        print(f"  [{ENGINE}] {name} ...", end="", flush=True)
        start = time.perf_counter()
        value = action()
        self.figures[name] = time.perf_counter() - start
        print(f" {self.figures[name]:.2f} s", flush=True)
        return value


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def fresh_connection() -> None:
    """A new connection, already open: no warm statement or page cache from the set-up."""
    from django.db import connection

    connection.close()
    connection.ensure_connection()


class Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction that is always rolled back."""
    from django.db import transaction

    try:
        with transaction.atomic():
            yield
            raise Rollback
    except Rollback:
        pass


# --- The county: territory and staff -------------------------------------------------------------


class County:
    """Ids and codes of the loaded territory, the staff and the categories, as NumPy arrays."""

    def __init__(self, seed: int) -> None:
        from django.contrib.auth.hashers import make_password

        from grassroots.accounts.models import User
        from grassroots.cases.models import Category
        from grassroots.demo.files import write_grids, write_units
        from grassroots.demo.generator import County as DemoCounty
        from grassroots.demo.generator import _build_territory
        from grassroots.territory.imports import import_grids, import_units
        from grassroots.territory.models import Grid, Unit

        units, grids = _build_territory(COUNTY_HOUSEHOLDS, seed)
        demo = DemoCounty(households=COUNTY_HOUSEHOLDS, seed=seed, units=units, grids=grids)
        with tempfile.TemporaryDirectory(prefix="grassroots-bench-cases-") as tmp:
            paths = Path(tmp) / "units.csv", Path(tmp) / "grids.geojson"
            write_units(demo, paths[0])
            write_grids(demo, paths[1])
            for what, path, action in (
                ("units", paths[0], import_units),
                ("grids", paths[1], import_grids),
            ):
                result = action(path)
                if result.problems:
                    raise SystemExit(f"{what}: the import refused the demo file: {result.problems}")
        self.county_code = min((u.code for u in units), key=len)
        unit_rows = list(Unit.objects.values_list("code", "id", "level", "name"))
        unit_id = {code: pk for code, pk, _level, _name in unit_rows}
        self.unit_names = {code: name for code, _pk, _level, name in unit_rows}
        grid_rows = list(Grid.objects.order_by("code").values_list("code", "id", "unit__code"))
        points = {g.code: g.polygon.representative_point() for g in grids}
        self.grid_codes = np.array([c for c, _i, _u in grid_rows], dtype=object)
        self.grid_ids = np.array([i for _c, i, _u in grid_rows])
        self.grid_unit_codes = [u for _c, _i, u in grid_rows]
        self.grid_unit_ids = np.array([unit_id[u] for u in self.grid_unit_codes])
        self.grid_lon = np.array([points[c].x for c, _i, _u in grid_rows])
        self.grid_lat = np.array([points[c].y for c, _i, _u in grid_rows])
        # Unit queues (cases with no grid): villages/communities and towns.
        queue = [(c, pk, lv) for c, pk, lv, _n in unit_rows if lv in ("village", "town")]
        self.queue_codes = np.array([c for c, _pk, _lv in queue], dtype=object)
        self.queue_ids = np.array([pk for _c, pk, _lv in queue])
        self.queue_tier = np.array([1 if lv == "village" else 2 for _c, _pk, lv in queue])

        # Staff: a worker per grid, a secretary per village/community, an official per town
        # and a handler per county department: the assignees and the reporting workers.
        password = make_password(None)
        staff: list[Any] = []
        for code, _i, _u in grid_rows:
            staff.append(User(username=f"bw{code}", role="grid_worker", scope_code=code))
        for code, _pk, level, _n in unit_rows:
            role = {"village": "village_secretary", "town": "town_official"}.get(level)
            if role:
                staff.append(User(username=f"bu{code}", role=role, scope_code=code))
        categories = list(Category.objects.order_by("id"))
        for category in categories:
            staff.append(
                User(
                    username=f"bd{category.code}",
                    role="department_handler",
                    scope_code=self.county_code,
                    department=category.department,
                )
            )
        for user in staff:
            user.password = password
            user.is_staff = True
        User.objects.bulk_create(staff, batch_size=500)
        user_id = dict(User.objects.filter(username__startswith="b").values_list("username", "id"))
        self.grid_worker = np.array([user_id[f"bw{c}"] for c in self.grid_codes])
        self.grid_village_user = np.array([user_id[f"bu{u}"] for u in self.grid_unit_codes])
        self.grid_town_user = np.array([user_id[f"bu{u[:9]}"] for u in self.grid_unit_codes])
        self.queue_village_user = np.array(
            [
                user_id[f"bu{c}"] if t == 1 else 0
                for c, t in zip(self.queue_codes, self.queue_tier, strict=True)
            ]
        )
        self.queue_town_user = np.array([user_id[f"bu{c[:9]}"] for c in self.queue_codes])

        self.category_ids = np.array([c.pk for c in categories])
        self.category_codes = [c.code for c in categories]
        weights = np.array([CATEGORY_WEIGHTS.get(c.code, 5) for c in categories], dtype=float)
        self.category_p = weights / weights.sum()
        self.category_first = np.array([TIERS.index(c.first_tier) for c in categories])
        self.dept_user = np.array([user_id[f"bd{c.code}"] for c in categories])
        self.limit_days = np.array([[c.limit(t, urgent=False) for t in TIERS] for c in categories])
        self.limit_hours = np.array([[c.limit(t, urgent=True) for t in TIERS] for c in categories])
        self.kinds = np.array([CATEGORY_KIND.get(c.code, "general") for c in categories], object)
        self.towns = sorted({u[:9] for u in self.grid_unit_codes})


# --- Generation ----------------------------------------------------------------------------------

ALPHABET = np.frombuffer(b"23456789ABCDEFGHJKMNPQRSTUVWXYZ", dtype=np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def tracking_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct codes as integers below 31**10, sorted (inserted in order: no random B-tree
    inserts into the unique index; nothing timed reads by tracking code)."""
    space = 31**10
    codes = np.unique(rng.integers(0, space, int(n * 1.001) + 16))
    while len(codes) < n:
        codes = np.unique(np.concatenate([codes, rng.integers(0, space, n - len(codes) + 16)]))
    return codes[np.sort(rng.choice(len(codes), n, replace=False))]


def _codes(values: np.ndarray) -> list[str]:
    digits = (values[:, None] // (31 ** np.arange(9, -1, -1, dtype=np.int64))) % 31
    raw = np.ascontiguousarray(ALPHABET[digits]).view("S10").ravel()
    return raw.astype("U10").tolist()


def _hexes(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    return np.ascontiguousarray(HEX[raw]).view("S32").ravel().astype("U32").tolist()


class Generator:
    """The cases of one year, reproducible from the seed, produced in batches of rows."""

    def __init__(self, county: County, n: int, seed: int, now: int, engine: str) -> None:
        self.c = county
        self.n = n
        self.seed = seed
        self.now = now
        self.engine = engine
        rng = np.random.default_rng([seed, 4])
        # Report times over the past year: days uniform, hours mostly in the working day.
        local_midnight = (now + LOCAL_OFFSET) // DAY * DAY - LOCAL_OFFSET
        days = rng.integers(0, 365, n)
        daytime = rng.random(n) < 0.85
        hours = np.where(daytime, np.clip(rng.normal(14, 3.5, n), 6, 23.5), rng.uniform(0, 24, n))
        reported = local_midnight - days * DAY + (hours * HOUR).astype(np.int64)
        late = reported > now - 60
        reported[late] = now - rng.integers(60, 6 * HOUR, int(late.sum()))
        self.reported = np.sort(reported)  # ids in report order, as the application assigns
        age_days = (now - self.reported) / DAY
        # Open: mostly the recent ones, plus a tail of old ones still waiting (about 5.7%).
        self.open = rng.random(n) < 0.9 * np.exp(-age_days / 15) + 0.02
        # Three disjoint sets of exactly 1% of the cases, open and at least a day old.
        self.per_set = round(n / 100)
        eligible = np.flatnonzero(self.open & (age_days >= 1))
        if len(eligible) < 3 * self.per_set:
            raise SystemExit(f"too few open cases ({len(eligible)}) for three 1% sets")
        chosen = rng.choice(eligible, 3 * self.per_set, replace=False)
        self.overdue_set = np.zeros(n, dtype=np.int8)
        for i in range(3):
            self.overdue_set[chosen[i * self.per_set : (i + 1) * self.per_set]] = i + 1
        self.codes = tracking_codes(n, rng)
        self.descriptions = self._descriptions(rng)
        self.addresses = [
            f"{self.c.unit_names[u]}{rng.integers(1, 300)}号"
            for u in rng.choice(self.c.grid_unit_codes, 4096)
        ]
        from grassroots.demo import data

        surnames = [s for s, _w in data.SURNAMES]
        given = [g for names in data.GIVEN_NAMES.values() for g in names]
        self.names = [
            surnames[int(rng.integers(len(surnames)))] + given[int(rng.integers(len(given)))]
            for _ in range(2048)
        ]
        # Busy and quiet grids: lognormal weights (the busiest grid gets several times the mean).
        weights = rng.lognormal(0, 0.6, len(self.c.grid_ids))
        self.grid_p = weights / weights.sum()

    def _descriptions(self, rng: np.random.Generator) -> list[np.ndarray]:
        places = [n for n in self.c.unit_names.values() if len(n) > 1]
        pools = []
        for code in self.c.category_codes:
            templates = DESCRIPTIONS.get(code, DESCRIPTIONS["other"])
            pool = [
                templates[int(rng.integers(len(templates)))].format(
                    p=places[int(rng.integers(len(places)))]
                    + ("附近" if rng.random() < 0.3 else "")
                )
                for _ in range(512)
            ]
            pools.append(np.array(pool, dtype=object))
        return pools

    # Database forms of timestamps (seconds since the epoch, UTC).
    def times(self, seconds: np.ndarray, missing: np.ndarray | None = None) -> list[Any]:
        text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
        text = np.char.replace(text, "T", " ")
        if self.engine == "postgresql":
            text = np.char.add(text, "+00")
        if missing is None:
            return text.tolist()
        out = text.astype(object)
        out[missing] = None
        return out.tolist()

    def batches(self) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        for lo in range(0, self.n, BATCH):
            yield self.batch(lo, min(self.n, lo + BATCH))

    def batch(self, lo: int, hi: int) -> tuple[list[str], list[tuple[Any, ...]]]:  # noqa: PLR0915
        c, now, b = self.c, self.now, hi - lo
        rng = np.random.default_rng([self.seed, 7, lo])
        ids = np.arange(lo + 1, hi + 1)
        rep = self.reported[lo:hi]
        is_open = self.open[lo:hi]
        oset = self.overdue_set[lo:hi]

        cat = rng.choice(len(c.category_ids), b, p=c.category_p)
        queued = rng.random(b) < 0.02
        grid = rng.choice(len(c.grid_ids), b, p=self.grid_p)
        queue = rng.integers(0, len(c.queue_ids), b)
        first = c.category_first[cat]
        first = np.where(queued, np.maximum(first, c.queue_tier[queue]), first)

        u = rng.random(b)
        rejected = ~is_open & (u < 0.065)
        merged = ~is_open & (u >= 0.065) & (u < 0.097) & (ids > 1)
        done = ~is_open & ~rejected & ~merged
        rated = done & (rng.random(b) < 0.65)

        k = np.where(
            is_open,
            rng.choice(4, b, p=[0.62, 0.22, 0.10, 0.06]),
            rng.choice(4, b, p=[0.82, 0.12, 0.05, 0.01]),
        )
        k = np.where(done | is_open, k, 0)
        final = np.minimum(first + k, 3)
        k = final - first
        urgent = rng.random(b) < np.where(np.array(c.category_codes)[cat] == "safety", 0.2, 0.04)
        # Clock hours each tier's limit allows (working days: about 1.4 calendar days each).
        limit = np.where(urgent[:, None], c.limit_hours[cat], c.limit_days[cat] * 24 * 1.4).astype(
            float
        )
        tier_index = np.arange(4)[None, :]
        passed = (tier_index >= first[:, None]) & (tier_index < final[:, None])
        auto = rng.random(b) < 0.7  # escalated by the sweep (deadline missed), not by hand
        spent = np.where(
            auto[:, None],
            limit * rng.uniform(1.0, 1.1, (b, 1)),
            limit * rng.uniform(0.2, 0.9, (b, 1)),
        )
        hours = np.where(passed, spent, 0.0)
        handling = np.array(HANDLING_HOURS)[final] * rng.lognormal(0, 0.7, b)
        hours[np.arange(b), final] += np.where(done, handling, 0.0)
        verify = np.where(done, rng.uniform(1, 24, b), 0.0)
        # Nothing may end after now: squeeze the hours of cases reported lately.
        budget = np.where(is_open, 0.5, 1.0) * (now - 60 - rep) / HOUR
        need = hours.sum(axis=1) + verify
        squeeze = np.minimum(1.0, budget / np.maximum(need, 1e-9))
        hours *= squeeze[:, None]
        verify *= squeeze
        hours = np.round(hours, 3)

        below = np.where(tier_index < final[:, None], hours, 0.0).sum(axis=1)
        tier_started = rep + (below * HOUR).astype(np.int64)
        handled_at = tier_started + (hours[np.arange(b), final] * HOUR).astype(np.int64)
        quick = rep + (rng.uniform(0.5, 48, b) * HOUR).astype(np.int64)
        closed_at = np.where(done, handled_at + (verify * HOUR).astype(np.int64), quick)
        closed_at = np.minimum(closed_at, now - 60)
        rated_at = closed_at + (
            np.minimum(72 * HOUR, (now - 30 - closed_at) * rng.random(b))
        ).astype(np.int64)
        due = tier_started + (limit[np.arange(b), final] * HOUR).astype(np.int64)
        # Open cases: set A's tier deadline passed at now, set B's falls in the hour after now,
        # set C's in the hour after that, every other open case's later.
        room = np.maximum(now - 60 - tier_started, 0)
        due_open = np.select(
            [oset == 1, oset == 2, oset == 3],
            [
                now - 60 - (np.minimum(3 * DAY, room) * rng.random(b)).astype(np.int64),
                now + rng.integers(1, HOUR, b),
                now + HOUR + rng.integers(1, HOUR, b),
            ],
            now + 3 * HOUR + (rng.random(b) * np.where(urgent, DAY, 10 * DAY)).astype(np.int64),
        )
        tier_due = np.where(is_open, due_open, due)
        # The case's due date: its first tier's limit from the report, the promise made at
        # intake; the same moment as the tier's deadline while the case is at its first tier.
        promise = rep + (limit[np.arange(b), first] * HOUR).astype(np.int64)
        promise = np.where(k == 0, tier_due, promise)

        stage_index = rng.choice(6, b, p=np.array(OPEN_STAGE_WEIGHTS) / sum(OPEN_STAGE_WEIGHTS))
        stage = np.where(
            is_open,
            np.array(OPEN_STAGES, dtype=object)[stage_index],
            np.where(
                rejected,
                "rejected",
                np.where(merged, "merged", np.where(rated, "rated", "closed")),
            ),
        )
        # The sweep marked the due date passed while the case was open (a first-tier case of the
        # three sets waits for the sweep that escalates it, which marks it too).
        missed = np.where(is_open, (k > 0) & (promise <= now), closed_at > promise)
        deferred = (done | is_open) & (rng.random(b) < 0.03)
        closed_on_time = np.where(done, ~missed & (handled_at <= promise), None)

        grid_ids = np.where(queued, 0, c.grid_ids[grid])
        scope = np.where(queued, c.queue_codes[queue], c.grid_codes[grid])
        unit_ids = np.where(queued, c.queue_ids[queue], c.grid_unit_ids[grid])
        staff = np.select(
            [final == 0, final == 1, final == 2],
            [
                c.grid_worker[grid],
                np.where(queued, c.queue_village_user[queue], c.grid_village_user[grid]),
                np.where(queued, c.queue_town_user[queue], c.grid_town_user[grid]),
            ],
            c.dept_user[cat],
        )
        assigned = done | (is_open & (stage_index >= 2))
        assignee = np.where(assigned & (staff > 0), staff, 0)

        channel_names = list(CHANNEL_WEIGHTS)
        weights = np.array(list(CHANNEL_WEIGHTS.values()), dtype=float)
        channel = np.array(channel_names, dtype=object)[
            rng.choice(len(channel_names), b, p=weights / weights.sum())
        ]
        by_worker = (channel == "grid_worker") | (channel == "visit")
        channel = np.where(queued & by_worker, "hotline", channel)
        by_worker &= ~queued
        reporter_user = np.where(by_worker, c.grid_worker[grid], 0)
        external = [
            f"GD{i:09d}" if ch == "hotline_import" else ""
            for i, ch in zip(ids.tolist(), channel.tolist(), strict=True)
        ]
        no_point = queued | (rng.random(b) < 0.08)
        lon = np.round(c.grid_lon[grid] + rng.normal(0, 0.002, b), 6).astype(object)
        lat = np.round(c.grid_lat[grid] + rng.normal(0, 0.002, b), 6).astype(object)
        lon[no_point] = None
        lat[no_point] = None
        description = np.empty(b, dtype=object)
        for i, pool in enumerate(self.descriptions):
            mine = cat == i
            description[mine] = pool[rng.integers(0, len(pool), int(mine.sum()))]
        names = np.array(self.names, dtype=object)[rng.integers(0, len(self.names), b)]
        names[rng.random(b) < 0.15] = ""
        phone_hash = np.array(_hexes(rng, b), dtype=object)
        phone_hash[(rng.random(b) < 0.25) | (channel == "grid_worker")] = ""
        rating = np.where(rated, rng.choice([5, 4, 3, 2, 1], b, p=[0.6, 0.25, 0.08, 0.04, 0.03]), 0)
        comment = np.where(
            rated & (rng.random(b) < 0.2),
            np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), b)],
            "",
        )
        events = np.where(
            is_open,
            1 + np.minimum(stage_index, 5) + k,
            np.where(done, 7 + rated + k, 2),
        )
        updated = np.where(is_open, tier_started, np.where(rated, rated_at, closed_at))
        none = None
        tier_names = np.array(TIERS, dtype=object)

        def nullable(values: np.ndarray, keep: np.ndarray) -> list[Any]:
            out = values.astype(object)
            out[~keep] = none
            return out.tolist()

        columns: dict[str, list[Any]] = {
            "id": ids.tolist(),
            "tracking_code": _codes(self.codes[lo:hi]),
            "kind": c.kinds[cat].tolist(),
            "category_id": c.category_ids[cat].tolist(),
            "channel": channel.tolist(),
            "external_id": external,
            "urgent": urgent.tolist(),
            "description": description.tolist(),
            "address": np.array(self.addresses, dtype=object)[
                rng.integers(0, len(self.addresses), b)
            ].tolist(),
            "lon": lon.tolist(),
            "lat": lat.tolist(),
            "reporter_name": names.tolist(),
            "reporter_phone": [""] * b,
            "reporter_phone_hash": phone_hash.tolist(),
            "reporter_email": [""] * b,
            "reporter_household_id": [None] * b,
            "reporter_user_id": nullable(reporter_user, reporter_user > 0),
            "unit_id": unit_ids.tolist(),
            "grid_id": nullable(grid_ids, ~queued),
            "scope_code": scope.tolist(),
            "stage": stage.tolist(),
            "is_open": is_open.tolist(),
            "reject_reason": np.where(
                rejected,
                np.where(rng.random(b) < 0.6, "invalid", "out_of_scope"),
                np.where(merged, "duplicate", ""),
            ).tolist(),
            "tier": tier_names[final].tolist(),
            "tier_started_at": self.times(tier_started),
            "due_at": self.times(promise),
            "due_fallback": [False] * b,
            "tier_due_at": self.times(tier_due),
            "tier_due_fallback": [False] * b,
            "missed_deadline": missed.tolist(),
            "deferred": deferred.tolist(),
            "overdue_at": [None] * b,
            "escalations": k.tolist(),
            "assignee_id": nullable(assignee, assignee > 0),
            "merged_into_id": nullable(np.maximum(1, ids - rng.integers(1, 3000, b)), merged),
            "reported_at": self.times(rep),
            "reported_on": np.datetime_as_string(
                ((rep + LOCAL_OFFSET) // DAY).astype("datetime64[D]")
            ).tolist(),
            "handled_at": self.times(handled_at, ~done),
            "handled_tier": np.where(done, tier_names[final], "").tolist(),
            "closed_at": self.times(closed_at, is_open),
            "closed_on_time": closed_on_time.tolist(),
            "reworks": (done & (rng.random(b) < 0.04)).astype(int).tolist(),
            "rating": nullable(rating, rated),
            "rating_comment": comment.tolist(),
            "rated_at": self.times(rated_at, ~rated),
            **{f"hours_{t}": hours[:, i].tolist() for i, t in enumerate(TIERS)},
            "version": events.tolist(),
            "created_at": self.times(rep),
            "updated_at": self.times(updated),
        }
        names_ = list(columns)
        return names_, list(zip(*columns.values(), strict=True))


# --- Loading -------------------------------------------------------------------------------------


def case_columns() -> list[str]:
    from grassroots.cases.models import Case

    return [f.column for f in Case._meta.concrete_fields]


def _pg_indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes of `table` that no constraint owns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
            [table],
        )
        return list(cursor.fetchall())


def _pg_foreign_keys(table: str) -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return list(cursor.fetchall())


@contextmanager
def without_indexes(tables: list[str], expected_rows: int) -> Iterator[None]:
    """Drop the plain indexes (and on PostgreSQL the foreign keys) while the rows go in."""
    from django.apps import apps
    from django.db import connection

    from grassroots.core.bulk import indexes_to_rebuild

    qn = connection.ops.quote_name
    indexes: list[tuple[str, str]] = []
    foreign: list[tuple[str, str, str]] = []
    if connection.vendor == "sqlite":
        models = {m._meta.db_table: m for m in apps.get_models()}
        for table in tables:
            indexes += indexes_to_rebuild(models[table], expected_rows)
    else:
        for table in tables:
            indexes += _pg_indexes(table)
            foreign += [(table, name, sql) for name, sql in _pg_foreign_keys(table)]
    with connection.cursor() as cursor:
        for table, name, _sql in foreign:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '1GB'")
        for name, sql in indexes:
            say(f"index {name}")
            cursor.execute(sql)
        for table, name, sql in foreign:
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {sql}")


def load_cases(gen: Generator) -> int:
    from django.db import connection, transaction

    from grassroots.core.bulk import insert_raw

    expected = case_columns()
    count = 0
    for names, rows in gen.batches():
        if sorted(names) != sorted(expected):
            raise SystemExit(
                "bench/cases.py does not fill the columns of cases_case: "
                f"missing {sorted(set(expected) - set(names))}, "
                f"unknown {sorted(set(names) - set(expected))}"
            )
        with transaction.atomic():
            if connection.vendor == "sqlite":
                insert_raw("cases_case", names, rows)
            else:
                qn = connection.ops.quote_name
                with connection.cursor() as cursor:
                    sql = f"COPY cases_case ({', '.join(qn(n) for n in names)}) FROM STDIN"
                    with cursor.cursor.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
        count += len(rows)
        if count % 1_000_000 == 0 or count == gen.n:
            say(f"{count:,} cases")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('cases_case', 'id'), MAX(id)) FROM cases_case"
            )
    return count


def write_timelines() -> int:
    """The timeline of every case, one INSERT … SELECT per kind of step (in the database)."""
    from django.db import connection, transaction

    pg = connection.vendor == "postgresql"

    def plus(column: str, minutes: int) -> str:
        if pg:
            return f"{column} + interval '{minutes} minutes'"
        return f"datetime({column}, '+{minutes} minutes')"

    channel_json = "('{\"channel\": \"' || channel || '\"}')" + ("::jsonb" if pg else "")
    empty = "'{}'" + ("::jsonb" if pg else "")
    working = "('dispatched', 'in_progress', 'handled', 'verified', 'closed', 'rated')"
    steps = [
        # action, at, actor, to_stage, data, which cases
        ("report", "reported_at", "NULL", "'reported'", channel_json, "1 = 1"),
        ("accept", plus("reported_at", 50), "NULL", "'accepted'", empty,
         "stage NOT IN ('reported', 'rejected', 'merged')"),
        ("dispatch", plus("reported_at", 110), "NULL", "'dispatched'", empty,
         f"stage IN {working}"),
        ("start", plus("reported_at", 170), "assignee_id", "'in_progress'", empty,
         "stage IN ('in_progress', 'handled', 'verified', 'closed', 'rated')"),
        ("handle", f"COALESCE(handled_at, {plus('tier_started_at', 30)})", "assignee_id",
         "'handled'", empty, "stage IN ('handled', 'verified', 'closed', 'rated')"),
        ("verify", f"COALESCE(closed_at, {plus('tier_started_at', 40)})", "NULL", "'verified'",
         empty, "stage IN ('verified', 'closed', 'rated')"),
        ("close", "closed_at", "NULL", "'closed'", empty, "stage IN ('closed', 'rated')"),
        ("rate", "rated_at", "NULL", "'rated'", empty, "stage = 'rated'"),
        ("reject", "closed_at", "NULL", "'rejected'", empty, "stage = 'rejected'"),
        ("merge", "closed_at", "NULL", "'merged'", empty, "stage = 'merged'"),
        ("auto_escalate", "tier_started_at", "NULL", "''", empty, "escalations > 0"),
    ]  # fmt: skip
    total = 0
    for action, at, actor, to_stage, data, where in steps:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO cases_caseevent (case_id, at, actor_id, actor_name, action,"
                " from_stage, to_stage, from_tier, to_tier, note, data, scope_code)"
                f" SELECT id, {at}, {actor}, %s, %s, '', {to_stage}, '', tier, '', {data},"
                f" scope_code FROM cases_case WHERE {where}",
                ["system" if action == "auto_escalate" else "staff", action],
            )
            total += cursor.rowcount
    say(f"{total:,} timeline events")
    return total


def after_load() -> None:
    """What a running database would have done by itself: statistics, a checkpoint."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Autovacuum would analyze and vacuum the loaded tables; do it now, then flush.
            for table in ("cases_case", "cases_caseevent", "cases_casestatbucket"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")
        else:
            # No ANALYZE: the application never runs it, so the planner works without
            # sqlite_stat1, as it does in production.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- Measurements --------------------------------------------------------------------------------


class Statements:
    """Every statement run while active: (sql, params, many, seconds)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any, bool, float]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.log.append((sql, params, many, time.perf_counter() - start))


_explained = iter(range(1 << 62))


def explain(sql: str, params: Any) -> str:
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            return _explain(sql, params)
    except DatabaseError as exc:
        # A statement on the sweep's scratch table, gone by now.
        return f"(no plan: {str(exc).splitlines()[0]})"


def _explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # A new text each time: a cached EXPLAIN statement keeps the plan it was prepared
            # with, even after an index is dropped (it does not check the schema).
            cursor.execute(f"EXPLAIN QUERY PLAN /* {next(_explained)} */ " + sql, params)
            rows = cursor.fetchall()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return "\n".join(lines)
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def short(sql: str, width: int = 160) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def sums_from_cases(code: str) -> dict[str, Any]:
    """Baseline: the indicators' counts straight from the cases under `code`, with one
    aggregate query (stats.bucket_aggregates, without the grouping), as the indicator keys they
    feed (stats.rates)."""
    from grassroots.cases import stats
    from grassroots.cases.models import Case
    from grassroots.core.scoping import Scope

    s = Case.objects.filter(Scope.of(code).q("scope_code")).aggregate(**stats.bucket_aggregates())
    rates = stats.rates(s)
    return {
        "cases_total": stats.cases_total(s),
        "closed": s["closed"],
        "rejected": s["rejected"],
        **{
            k: rates[k]
            for k in (
                "on_time_closure_rate",
                "rework_rate",
                "satisfaction_rate",
                "grid_tier_share",
            )
        },
    }


def measure_stats(county: County, figures: dict[str, Any]) -> None:
    from django.db import connection

    from grassroots.cases.stats import indicators

    code = county.county_code
    fresh_connection()
    county_runs = [timed(lambda: indicators(code))[0] for _ in range(3)]
    result = indicators(code)
    town = county.towns[0]
    town_runs = [timed(lambda: indicators(town))[0] for _ in range(3)]
    today = datetime.date.fromtimestamp(time.time())
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    month = last_month_end.replace(day=1), last_month_end
    month_runs = [timed(lambda: indicators(code, *month))[0] for _ in range(3)]
    log = Statements()
    with connection.execute_wrapper(log):
        indicators(code)
    sql, params, _many, _s = log.log[-1]
    plan = explain(sql, params)

    base_runs = []
    for _ in range(2):
        seconds, computed = timed(lambda: sums_from_cases(code))
        base_runs.append(seconds)
    agree = all(result[k] == v for k, v in computed.items())
    figures["stats"] = {
        "county_first": county_runs[0],
        "county_best": min(county_runs),
        "town": town,
        "town_best": min(town_runs),
        "month": [d.isoformat() for d in month],
        "month_best": min(month_runs),
        "from_cases_best": min(base_runs),
        "from_cases_runs": base_runs,
        "agree": agree,
        "indicators": result,
    }
    figures["plans"]["indicators (county)"] = {"sql": short(sql), "plan": plan}
    say(
        f"indicators: county first {county_runs[0] * 1000:.0f} ms, best "
        f"{min(county_runs) * 1000:.0f} ms; town {min(town_runs) * 1000:.0f} ms; month "
        f"{min(month_runs) * 1000:.0f} ms; from the cases {min(base_runs):.2f} s (agree: {agree})"
    )


def measure_grid_list(county: County, figures: dict[str, Any]) -> None:
    from django.db import connection
    from django.db.models import Count

    from grassroots.accounts.models import User
    from grassroots.accounts.services import user_create
    from grassroots.cases.models import Case
    from grassroots.cases.selectors import open_cases_of_grid

    user_create(
        username="bench_county_admin",
        role="county_admin",
        scope_codes=[county.county_code],
        password="bench-not-a-password",
        check_password=False,
    )
    busiest = (
        Case.objects.filter(is_open=True, grid__isnull=False)
        .values("scope_code")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None
    code, n_open = busiest["scope_code"], busiest["n"]
    fresh_connection()
    admin = User.objects.get(username="bench_county_admin")

    def run() -> int:
        return len(open_cases_of_grid(admin, code))

    runs = [timed(run) for _ in range(5)]
    rows = runs[0][1]
    log = Statements()
    with connection.execute_wrapper(log):
        run()
    sql, params, _many, _s = log.log[-1]
    plan = explain(sql, params)
    # Baseline: the same call without the partial index (dropped in a rolled-back transaction).
    with rolled_back():
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX " + connection.ops.quote_name("case_open_by_scope"))
        base = [timed(run)[0] for _ in range(5)]
        base_plan = explain(sql, params)
    figures["grid_list"] = {
        "grid": code,
        "open": n_open,
        "rows": rows,
        "first": runs[0][0],
        "best": min(s for s, _ in runs),
        "no_index_first": base[0],
        "no_index_best": min(base),
    }
    figures["plans"]["open_cases_of_grid"] = {"sql": short(sql, 400), "plan": plan}
    figures["plans"]["open_cases_of_grid without case_open_by_scope"] = {
        "sql": "(the same)",
        "plan": base_plan,
    }
    say(
        f"open cases of grid {code} ({n_open:,} open): first {runs[0][0] * 1000:.1f} ms,"
        f" best {figures['grid_list']['best'] * 1000:.1f} ms; without the partial index best"
        f" {min(base) * 1000:.1f} ms"
    )


def naive_sweep(ids: list[int], now: datetime.datetime) -> None:
    """What a sweep without set-wise statements does: each case read, saved, given its event
    and its bucket delta (three to four statements per case)."""
    from grassroots.cases import stats
    from grassroots.cases.deadlines import deadline_for
    from grassroots.cases.models import Case, CaseEvent, next_tier
    from grassroots.cases.workdays import WorkingCalendar

    cal = WorkingCalendar()
    for pk in ids:
        case = Case.objects.select_related("category").get(pk=pk)
        before = stats.contribution(case)
        up = next_tier(case.tier)
        if up is None:
            case.overdue_at = now
        else:
            spent = (now - case.tier_started_at).total_seconds() / 3600
            setattr(case, f"hours_{case.tier}", getattr(case, f"hours_{case.tier}") + spent)
            case.tier_due_at, case.tier_due_fallback = deadline_for(
                case.category, up, case.urgent, now, cal
            )
            case.tier, case.tier_started_at, case.assignee_id = up, now, None
            case.escalations += 1
        case.missed_deadline = case.missed_deadline or case.is_overdue(now)
        case.version += 1
        case.save()
        CaseEvent.objects.create(
            case=case, at=now, actor_name="system", action="auto_escalate", to_tier=up or "",
            scope_code=case.scope_code,
        )  # fmt: skip
        stats.apply_delta(case, before, stats.contribution(case))


class PlansBeforehand:
    """Explains each statement just before it runs, while a scratch table it reads still exists."""

    def __init__(self) -> None:
        self.plans: dict[str, str] = {}
        self.busy = False

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        head = sql.lstrip().split(None, 1)[0].upper()
        if not self.busy and not many and head in EXPLAINED and sql not in self.plans:
            self.busy = True
            try:
                self.plans[sql] = explain(sql, params)
            finally:
                self.busy = False
        return execute(sql, params, many, context)


EXPLAINED = ("SELECT", "UPDATE", "INSERT", "WITH")


def trace_summary(log: Statements, plans: dict[str, str]) -> list[dict[str, Any]]:
    """The statements of a traced run grouped by their SQL, slowest first, each explained
    (from `plans` when given there, else now)."""
    groups: dict[str, dict[str, Any]] = {}
    for sql, params, many, spent in log.log:
        group = groups.setdefault(
            sql, {"sql": short(sql, 300), "count": 0, "rows": 0, "seconds": 0.0, "example": None}
        )
        group["count"] += 1
        group["rows"] += len(params) if many else 0
        group["seconds"] += spent
        if not many and group["example"] is None:
            group["example"] = params
    out = []
    for sql, group in sorted(groups.items(), key=lambda kv: -kv[1]["seconds"]):
        head = sql.lstrip().split(None, 1)[0].upper()
        params = group.pop("example")
        if sql in plans:
            group["plan"] = plans[sql]
        elif params is not None and head in EXPLAINED:
            group["plan"] = explain(sql, params)
        else:
            group["plan"] = ""
        out.append(group)
    return out


def measure_sweep(gen: Generator, county: County, figures: dict[str, Any]) -> None:
    from django.db import connection
    from django.db.models import Case as When_
    from django.db.models import F, Value, When

    from grassroots.cases.models import Case
    from grassroots.cases.stats import indicators
    from grassroots.cases.sweep import sweep

    t0 = datetime.datetime.fromtimestamp(gen.now, tz=datetime.UTC)
    t_b, t_c = t0 + datetime.timedelta(hours=1), t0 + datetime.timedelta(hours=2)
    has_notify = importlib.util.find_spec("grassroots.cases.notify") is not None
    expected = gen.per_set
    out: dict[str, Any] = {"per_set": expected, "notify_module": has_notify}
    traces: dict[str, Statements] = {}

    def one(key: str, now: datetime.datetime, notify: bool, label: str) -> None:
        fresh_connection()
        log = traces[key] = Statements()
        with connection.execute_wrapper(log):
            seconds, result = timed(lambda: sweep(now=now, notify=notify))
        out[key] = {
            "seconds": seconds,
            "escalated": result.escalated,
            "overdue": result.overdue,
            "statements": len(log.log),
        }
        say(
            f"sweep, {label}: {seconds:.2f} s ({result.escalated:,} escalated, "
            f"{result.overdue:,} overdue; {len(log.log):,} statements)"
        )

    one("a_notify", t0, True, f"set A ({expected:,} overdue), notify=True")
    seconds, again = timed(lambda: sweep(now=t0, notify=True))
    out["again"] = {"seconds": seconds, "escalated": again.escalated, "overdue": again.overdue}
    say(
        f"sweep again at the same now: {seconds:.2f} s ({again.escalated} escalated, "
        f"{again.overdue} overdue)"
    )
    one("b_quiet", t_b, False, f"set B ({expected:,} overdue), notify=False")

    # Baselines over set C (due between t_b and t_c), each rolled back.
    late = Case.objects.filter(is_open=True, tier_due_at__lte=t_c, overdue_at__isnull=True)
    up = When_(
        When(tier="grid", then=Value("village")),
        When(tier="village", then=Value("town")),
        default=Value("county"),
    )
    fresh_connection()
    with rolled_back():
        seconds, n = timed(
            lambda: late.update(
                tier=up,
                tier_due_at=t_c + datetime.timedelta(days=3),
                tier_started_at=t_c,
                missed_deadline=True,
                escalations=F("escalations") + 1,
                assignee=None,
                version=F("version") + 1,
                updated_at=t_c,
            )
        )
    out["floor"] = {"seconds": seconds, "rows": n}
    say(
        f"baseline: one ORM update of the {n:,} rows of set C, no events or buckets: "
        f"{seconds:.2f} s"
    )
    ids = list(late.order_by("id").values_list("id", flat=True))
    step = max(1, len(ids) // LOOP_SAMPLE)
    ids = ids[::step][:LOOP_SAMPLE]
    fresh_connection()
    with rolled_back():
        seconds, _ = timed(lambda: naive_sweep(ids, t_c))
    out["loop"] = {
        "sample": len(ids),
        "seconds": seconds,
        "extrapolated": seconds / max(1, len(ids)) * expected,
    }
    say(
        f"baseline: per-case loop, {len(ids):,} cases {seconds:.2f} s, extrapolated to "
        f"{expected:,}: {out['loop']['extrapolated']:.1f} s"
    )
    figures["sweep"] = out

    # The plans of the sweep's statements: set C once more (rolled back), each statement
    # explained just before it runs, while the sweep's scratch table exists.
    fresh_connection()
    planner = PlansBeforehand()
    with rolled_back(), connection.execute_wrapper(planner):
        sweep(now=t_c, notify=True)
    for key, log in traces.items():
        figures[f"sweep_statements_{key}"] = trace_summary(log, planner.plans)

    # The buckets the sweeps kept in step, against the same sums straight from the cases.
    kept = indicators(county.county_code)
    computed = sums_from_cases(county.county_code)
    check = {k: [kept[k], v] for k, v in computed.items()}
    figures["buckets_after_sweeps"] = {"agree": all(a == b for a, b in check.values()), **check}
    say(f"buckets kept by the sweeps agree with the cases: {figures['buckets_after_sweeps']}")


def counts(figures: dict[str, Any]) -> None:
    from django.db.models import Count

    from grassroots.cases.models import Case, CaseEvent, CaseStatBucket

    figures["by_stage"] = dict(
        Case.objects.order_by()
        .values_list("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    figures["open"] = Case.objects.filter(is_open=True).count()
    figures["open_by_tier"] = dict(
        Case.objects.filter(is_open=True)
        .order_by()
        .values_list("tier")
        .annotate(n=Count("id"))
        .values_list("tier", "n")
    )
    figures["events"] = CaseEvent.objects.count()
    figures["buckets"] = CaseStatBucket.objects.count()


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            return "SQLite " + cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        work = cursor.fetchone()[0]
        return f"PostgreSQL {version} (shared_buffers {buffers}, work_mem {work}, ICU zh-CN)"


def database_size(workdir: Path) -> float:
    from django.db import connection

    if connection.vendor == "sqlite":
        return sum(p.stat().st_size for p in workdir.glob("cases.sqlite3*")) / 1e9
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0] / 1e9


def run(engine: str, n: int, seed: int, workdir: Path, database_url: str) -> dict[str, Any]:
    setup_django(workdir, database_url)
    from django.core.management import call_command

    from grassroots.cases.stats import rebuild_buckets

    timer = Timer()
    figures: dict[str, Any] = {"engine": engine, "cases_requested": n, "plans": {}}
    timer.run("migrate", lambda: call_command("migrate", verbosity=0))
    county = timer.run("territory (1,000 grids) and staff", lambda: County(seed))
    now = int(time.time())
    gen = timer.run(
        "plan the cases (times, open cases, the three 1% sets)",
        lambda: Generator(county, n, seed, now, engine),
    )
    with without_indexes(["cases_case", "cases_caseevent"], n):
        timer.run(f"generate and load {n:,} cases", lambda: load_cases(gen))
        timer.run("timelines (INSERT … SELECT per step)", write_timelines)
        say("rebuilding the indexes")
        start = time.perf_counter()
    timer.figures["indexes and foreign keys rebuilt"] = time.perf_counter() - start
    say(f"indexes and foreign keys: {timer.figures['indexes and foreign keys rebuilt']:.1f} s")
    figures["buckets_built"] = timer.run("rebuild_buckets()", rebuild_buckets)
    timer.run("vacuum/analyze/checkpoint" if engine == "postgresql" else "checkpoint", after_load)
    counts(figures)
    figures["server"] = server_version()
    figures["size_gb"] = database_size(workdir)
    figures["grids"] = len(county.grid_ids)
    figures["county"] = county.county_code
    say(f"{figures['open']:,} open cases, {figures['events']:,} events, "
        f"{figures['buckets']:,} buckets, {figures['size_gb']:.1f} GB")  # fmt: skip

    measure_stats(county, figures)
    measure_grid_list(county, figures)
    measure_sweep(gen, county, figures)
    figures["timings"] = timer.figures
    return figures


def main() -> int:
    global ENGINE
    args = parse_args()
    ENGINE = "SQLite" if args.engine == "sqlite" else "PostgreSQL"
    workdir = Path(tempfile.mkdtemp(prefix=f"grassroots-bench-cases-{args.engine}-"))
    database = f"gr_bench_cases_{os.getpid()}"
    figures: dict[str, Any]
    try:
        if args.engine == "sqlite":
            url = f"sqlite:///{workdir / 'cases.sqlite3'}"
        else:
            try:
                url = pg_database(database, create=True)
            except Exception as exc:  # noqa: BLE001 - any failure to reach the server
                print(f"  [PostgreSQL] not reachable at {PG_ADMIN_URL}: {exc}; skipped")
                args.out.write_text(json.dumps({"engine": args.engine, "skipped": str(exc)}))
                return 0
        print(f"  [{ENGINE}] {args.cases:,} cases in {workdir}", flush=True)
        figures = run(args.engine, args.cases, args.seed, workdir, url)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep:
            print(f"  kept {workdir}" + (f" and database {database}" if args.engine != "sqlite"
                                          else ""))  # fmt: skip
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.engine == "postgresql":
                with contextlib.suppress(Exception):
                    pg_database(database, create=False)
    args.out.write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
