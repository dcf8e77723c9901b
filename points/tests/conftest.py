from __future__ import annotations

from dataclasses import dataclass

import pytest

from points import services
from points.models import Goods, Rule, Shop


@dataclass
class PointsWorld:
    c: object
    shop: Shop  # 东村积分超市 (v1), run by 周村干
    soap: Goods  # 20 points, 50 in stock
    oil: Goods  # 100 points, 3 in stock, 1 a month per person
    town_shop: Shop  # 东镇积分超市 (t1), run by 吴镇干
    other_shop: Shop  # 南村积分超市 (v3): serves nobody in 东村
    rule_env: Rule  # EN01: 5 per act, cap 20 per activity, 100 a month, needs approval
    rule_vs: Rule  # VS01: 10 per hour, cap 80, 400 a month, decided at once


@pytest.fixture
def pw(world) -> PointsWorld:
    c = world.c
    shop = services.shop_create(node=c.v1, name="东村积分超市", by=c.u_zhou, address="东村村委会一楼")
    soap = services.goods_save(shop=shop, by=c.u_zhou, name="洗衣皂", price=20)
    services.goods_restock(goods=soap, delta=50, by=c.u_zhou)
    oil = services.goods_save(
        shop=shop, by=c.u_zhou, name="食用油", price=100, limit_per_person=1, limit_period="month"
    )
    services.goods_restock(goods=oil, delta=3, by=c.u_zhou)
    town_shop = services.shop_create(node=c.t1, name="东镇积分超市", by=c.u_wu)
    other = services.shop_create(node=c.v3, name="南村积分超市", by=c.u_admin)
    soap.refresh_from_db()
    oil.refresh_from_db()
    return PointsWorld(
        c=c,
        shop=shop,
        soap=soap,
        oil=oil,
        town_shop=town_shop,
        other_shop=other,
        rule_env=Rule.objects.get(code="EN01"),
        rule_vs=Rule.objects.get(code="VS01"),
    )
