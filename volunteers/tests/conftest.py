from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from core.clock import now
from volunteers import services
from volunteers.models import Activity, Volunteer


@dataclass
class VolunteerWorld:
    c: object
    zhang: Volunteer  # 张阿姨, registered
    liu: Volunteer  # 刘党员, registered
    later: Activity  # 东村 (v1) by 周村干, the day after tomorrow, one place
    running: Activity  # 东村 (v1) by 周村干, started ten minutes ago, two hours, five places


@pytest.fixture
def vw(world) -> VolunteerWorld:
    c = world.c
    zhang = services.volunteer_join(resident=c.zhang, by=c.u_zhang, skills=["做饭"])
    liu = services.volunteer_join(resident=c.liu, by=c.u_liu)
    start = now() + dt.timedelta(days=2)
    later = services.activity_publish(
        node=c.v1, title="村口义务清扫", place="村口广场", starts_at=start, ends_at=start + dt.timedelta(hours=2),
        capacity=1, by=c.u_zhou,
    )  # fmt: skip
    begun = now() - dt.timedelta(minutes=10)
    running = services.activity_publish(
        node=c.v1, title="关爱独居老人", place="东村党群服务中心", starts_at=begun,
        ends_at=begun + dt.timedelta(hours=2), capacity=5, by=c.u_zhou,
    )  # fmt: skip
    return VolunteerWorld(c=c, zhang=zhang, liu=liu, later=later, running=running)
