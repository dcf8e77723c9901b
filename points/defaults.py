"""Points rules a county starts with, in the spirit of 麻城's 积分服务制 (public environment upkeep,
neighbourhood mediation, helping people in difficulty). They are data: administrators change them."""

from __future__ import annotations

from typing import Any

DEFAULT_RULES: list[dict[str, Any]] = [
    # code, name, kind, unit, points, cap per activity, cap per month, needs approval
    dict(code="VS01", name="志愿服务", kind="volunteer", unit="hour", points_per_unit=10, cap_per_activity=80,
         cap_per_month=400, needs_approval=False, description="参加村（社区）、志愿队组织的活动，按签到签退时长计分"),
    dict(code="EN01", name="公共环境维护", kind="environment", unit="act", points_per_unit=5, cap_per_activity=20,
         cap_per_month=100, needs_approval=True, description="清扫公共区域、清理沟渠、整治房前屋后"),
    dict(code="MD01", name="邻里矛盾调解", kind="mediation", unit="act", points_per_unit=20, cap_per_activity=20,
         cap_per_month=100, needs_approval=True, description="协助化解邻里纠纷，经村调委会确认"),
    dict(code="NB01", name="困难群众帮扶", kind="neighbour", unit="act", points_per_unit=10, cap_per_activity=10,
         cap_per_month=100, needs_approval=True, description="为独居老人、残疾人等代购代办、陪同就医"),
    dict(code="GD01", name="好人好事", kind="good_deed", unit="act", points_per_unit=20, cap_per_activity=50,
         cap_per_month=200, needs_approval=True, description="拾金不昧、见义勇为等，经村委会核实"),
    dict(code="GP01", name="月度好人", kind="good_person", unit="act", points_per_unit=100, cap_per_activity=100,
         cap_per_month=100, needs_approval=False, description="当选本村月度“好人”"),
]  # fmt: skip


def load_rules(rule_model: Any) -> int:
    n = 0
    for r in DEFAULT_RULES:
        _, created = rule_model.objects.get_or_create(code=r["code"], defaults=r)
        n += created
    return n
