from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts import services as accounts
from mediation.models import Mediator
from workorders.tests.helpers import Clock


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-18 10:00")  # a Wednesday, Asia/Shanghai
    yield c
    c.reset()


@dataclass
class Desk:
    """The county's mediators: 周村干 on 东村's committee, 吴镇干 at 东镇's justice office, 孙调解 a 乡贤 of 西村."""

    zhou: Mediator
    wu: Mediator
    sun: Mediator


@pytest.fixture
def desk(county) -> Desk:
    u_xi = accounts.user_create(username="xi", password="x-Password-123", display_name="孙调解")
    return Desk(
        zhou=Mediator.objects.create(
            user=county.u_zhou, node=county.v1, path=county.v1.path, kind="committee", name="周村干"
        ),
        wu=Mediator.objects.create(
            user=county.u_wu, node=county.t1, path=county.t1.path, kind="justice", name="吴镇干"
        ),
        sun=Mediator.objects.create(user=u_xi, node=county.v2, path=county.v2.path, kind="sage", name="孙调解"),
    )
