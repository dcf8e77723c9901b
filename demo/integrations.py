"""The 12345 hotline for the demo: the county's hotline connected as a source (its push secret on its page,
`/integrations/`), and two weeks of its orders filed into the demo town's grids — a few already dispatched by the
dispatch centre to the unit the hotline named — all through the services, so that the export back (办结回传) has
something to send and the dispatcher's import page has a history of what came in."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from integrations import hotline, services
from integrations.models import HotlineOrder
from org.models import Level, Node

APPEALS = [
    ("路灯损坏", "投诉", "村口路灯坏了半个月，晚上出行不安全。"),
    ("垃圾清运", "反映", "垃圾桶满了三天没人清运，气味很大。"),
    ("停水", "求助", "今天早上开始停水，家里有老人，不知道什么时候恢复。"),
    ("道路破损", "投诉", "村道有个大坑，下雨后积水，电动车容易摔倒。"),
    ("高龄津贴", "咨询", "父亲满八十岁了，想问高龄津贴怎么申请。"),
    ("施工噪声", "投诉", "附近工地晚上十点以后还在施工，影响休息。"),
]


@dataclass
class Summary:
    orders: int = 0
    dispatched: int = 0


def seed_integrations(*, seed: int = 1, end: dt.datetime | None = None) -> Summary:
    rng = random.Random(seed)
    out = Summary()
    end = (end or now()).astimezone(SHANGHAI)
    admin = User.objects.filter(username="admin").first()
    dispatcher_ra = RoleAssignment.objects.filter(role=Role.DISPATCHER, user__username="dispatcher").first()
    town_ra = RoleAssignment.objects.filter(role=Role.TOWN_STAFF, user__username="town").select_related("node").first()
    root = Node.objects.filter(parent__isnull=True).first()
    if admin is None or town_ra is None or town_ra.node is None or root is None:
        return out
    source = services.source_create(by=admin, name="12345政务服务便民热线", code="h12345", node=root)
    names = {n.pk: n.name for n in Node.objects.filter(path__startswith=town_ra.node.path)}
    grids = list(Node.objects.filter(path__startswith=town_ra.node.path, level=Level.GRID).order_by("path")[:12])
    lookups = hotline.Lookups.load()
    for n in range(18):
        grid = grids[n % len(grids)]
        place = "".join(names.get(int(i), "") for i in grid.path.strip("/").split("/"))
        category, kind, text = APPEALS[n % len(APPEALS)]
        t = end - dt.timedelta(days=14 - n * 0.75, hours=rng.randint(0, 6))
        values = {
            "number": f"12345{t:%Y%m%d}{n:04d}", "content": text, "address": f"{place}{rng.randint(1, 60)}号",
            "time": t, "caller": "市民", "phone": f"139{rng.randint(0, 99999999):08d}", "category": category,
            "kind": kind, "unit": town_ra.node.name,
        }  # fmt: skip
        row = hotline.parse(
            values,
            mapping={"columns": {f: f for f in hotline.FIELDS}},
            area=source.node,
            default_category=None,
            lookups=lookups,
        )
        with frozen(t):
            filed = services.hotline_file(source=source, row=row, via=HotlineOrder.Via.PUSH)
        out.orders += filed.created
        if dispatcher_ra is not None and n < 12:
            from workorders.services import Unit, workorder_dispatch

            with frozen(t + dt.timedelta(minutes=40)):
                workorder_dispatch(order=filed.order, to=Unit(node=town_ra.node), by=dispatcher_ra.user)
            out.dispatched += 1
    return out
