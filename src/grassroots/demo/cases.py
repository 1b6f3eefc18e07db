"""Demo cases: requests from every channel over the last two months, taken through the workflow
by the demo users, so that lists, timelines and indicators show something true to life.

Every case goes through the real services (intake, steps, the sweep) with moments in the past,
so the demo obeys the same rules as production data. Notifications are not sent for them.
"""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from typing import Any

from django.utils import timezone

from grassroots.accounts.models import GridAssignment, User
from grassroots.accounts.roles import Role
from grassroots.cases import services as s
from grassroots.cases.models import Category
from grassroots.cases.sweep import sweep
from grassroots.territory.geometry import parse_polygon, points_inside
from grassroots.territory.models import Grid

DESCRIPTIONS = {
    "policy": ["咨询城乡居民医保缴费政策", "询问高龄补贴申领条件", "咨询灵活就业社保补缴"],
    "assistance": ["独居老人家中断粮，需要帮扶", "因病致贫家庭申请临时救助", "残疾人家庭房屋漏雨"],
    "environment": ["小区门口垃圾堆积多日未清运", "河道漂浮垃圾较多", "楼道内堆放杂物有异味"],
    "dispute": ["邻里因宅基地界址发生争执", "楼上漏水与楼下住户产生纠纷", "土地流转租金纠纷"],
    "safety": ["路边电线杆倾斜有倒塌危险", "楼道电动车充电存在火灾隐患", "山体边坡出现裂缝"],
    "facilities": ["路灯损坏，夜间出行不便", "井盖缺失存在安全隐患", "村道路面塌陷"],
    "enterprise": ["企业反映用电报装进度慢", "企业咨询稳岗补贴申报", "企业用工招聘需要协助"],
    "other": ["反映广场舞噪音扰民", "建议增设公交站点", "流浪犬伤人隐患"],
}
NOTES = ["已到现场核实并处理", "已协调相关单位完成整改", "已电话回访，问题解决", "已上门解决"]
CHANNELS = ["portal", "portal", "grid_worker", "grid_worker", "hotline", "visit"]


def _point(grid: Grid, rng: random.Random) -> tuple[float, float]:
    polygon = parse_polygon(grid.boundary)
    for _ in range(50):
        lon = rng.uniform(grid.min_lon, grid.max_lon)
        lat = rng.uniform(grid.min_lat, grid.max_lat)
        if points_inside(polygon, [lon], [lat])[0]:
            return lon, lat
    point = polygon.representative_point()
    return point.x, point.y


def load_cases(count: int, *, seed: int = 1, now: datetime.datetime | None = None) -> int:
    """Report `count` cases across the grids and take them through the workflow; returns count."""
    rng = random.Random(seed)
    now = now or timezone.now()
    grids = list(Grid.objects.select_related("unit"))
    if not grids or count < 1:
        return 0
    workers: dict[int, list[User]] = defaultdict(list)
    for a in GridAssignment.objects.select_related("user").filter(user__is_active=True):
        workers[a.grid_id].append(a.user)
    leads = list(
        User.objects.filter(
            is_active=True, role__in=[Role.DISPATCHER, Role.TOWN_OFFICIAL, Role.COUNTY_ADMIN]
        )
    )
    categories = list(Category.objects.filter(active=True))
    made = 0
    for _ in range(count):
        grid = rng.choice(grids)
        category = rng.choice(categories)
        lon, lat = _point(grid, rng)
        reported = now - datetime.timedelta(days=rng.uniform(0, 60))
        case = s.case_report(
            actor=None,
            channel=rng.choice(CHANNELS),
            category=category,
            description=rng.choice(DESCRIPTIONS.get(category.code, DESCRIPTIONS["other"])),
            lon=lon,
            lat=lat,
            reporter_name=rng.choice("王李张刘陈杨黄赵吴周") + rng.choice(["先生", "女士"]),
            reporter_phone=f"139{rng.randrange(10**8):08d}",
            urgent=category.code == "safety" and rng.random() < 0.3,
            reported_at=reported,
            now=reported,
            notify=False,
        )
        made += 1
        _walk(case, grid, workers.get(grid.pk, []), leads, reported, now, rng)
    sweep(now=now, notify=False)
    return made


def _walk(
    case: Any,
    grid: Grid,
    workers: list[User],
    leads: list[User],
    reported: datetime.datetime,
    now: datetime.datetime,
    rng: random.Random,
) -> None:
    """Take a case some way through the workflow, each step a little after the last."""
    able = [u for u in [*workers, *leads] if s.may_act_at(u, case)]
    handler = able[0] if able else None
    checker = next((u for u in leads if u != handler and s.may_act_at(u, case)), None)
    if handler is None or checker is None:
        return
    age = (now - reported).total_seconds()
    fate = rng.random()
    moment = reported

    def later(hours: float) -> datetime.datetime:
        nonlocal moment
        moment = min(moment + datetime.timedelta(hours=hours), now)
        return moment

    try:
        if fate < 0.05:
            s.case_reject(
                case, actor=handler, reason="invalid", note="重复或无效诉求", now=later(2)
            )
            return
        if age < 3600 * 6 or fate > 0.92:
            return  # still waiting to be taken up
        case = s.case_accept(case, actor=handler, now=later(rng.uniform(0.5, 6)))
        case = s.case_start(case, actor=handler, now=later(rng.uniform(0.5, 12)))
        if fate > 0.85:
            return  # in progress
        case = s.case_handle(
            case, actor=handler, note=rng.choice(NOTES), now=later(rng.uniform(2, 40))
        )
        if fate > 0.8:
            return  # waiting for a check
        if fate > 0.72:
            case = s.case_send_back(
                case, actor=checker, note="现场复核未整改到位", now=later(rng.uniform(1, 24))
            )
            case = s.case_handle(
                case, actor=handler, note="已重新整改", now=later(rng.uniform(2, 24))
            )
        case = s.case_verify(case, actor=checker, now=later(rng.uniform(1, 24)))
        case = s.case_close(case, actor=checker, now=later(rng.uniform(0.1, 4)))
        if rng.random() < 0.7:
            s.case_rate(
                case,
                rating=rng.choices([5, 4, 3, 2, 1], [55, 25, 10, 6, 4])[0],
                now=later(rng.uniform(1, 48)),
            )
    except s.TransitionRefused:
        return
