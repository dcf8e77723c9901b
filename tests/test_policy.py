"""The capability table (org.policy) is what the product does: for every persona and every capability,
the table's answer over a grid equals what the API, the pages, the admin and the services let that
persona do there. And role names live in the policy module alone.

The probe place is a household added to grid A1 (东村, 东镇) that no persona lives in or is linked to, so
nobody sees it as their own."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import Client, RequestFactory

from accounts.models import Role
from core.clock import frozen
from org import services as org
from org.models import Household, Resident
from org.policy import CAPS, Cap, departments, may, paths
from workorders import services as wo
from workorders.models import Channel, Kind, WorkOrder
from workorders.services import Unit
from workorders.states import State

ROOT = Path(__file__).resolve().parent.parent
BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- role names live in the policy module ------------------------------------------------------------


ROLE_VALUES = {r.value for r in Role}
ROLE_MEMBERS = {r.name for r in Role}
# Where a role name may stand: the policy, the Role definition itself, migrations, tests, the demo
# data (which assigns roles to its invented people), and benchmarks that build their own county.
EXEMPT = re.compile(
    r"^(org/policy\.py|accounts/models\.py|.*/migrations/.*|.*/tests/.*|tests/.*|demo/.*|bench/.*|gongzhi/test\.py)$"
)


def python_sources() -> list[Path]:
    out = []
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "node_modules/", "var/")) or EXEMPT.match(rel):
            continue
        out.append(p)
    return out


def role_names_in(source: str) -> list[tuple[int, str]]:
    """Role.X attributes, and role values compared with or passed as a role (`role=…`, `== "dispatcher"`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Role"
            and node.attr in ROLE_MEMBERS
        ):
            found.append((node.lineno, f"Role.{node.attr}"))
        elif isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in ROLE_VALUES:
                    found.append((node.lineno, repr(side.value)))
        elif (
            isinstance(node, ast.keyword)
            and (node.arg or "").startswith("role")
            and isinstance(node.value, ast.Constant)
            and node.value.value in ROLE_VALUES
        ):
            found.append((node.lineno, f"{node.arg}={node.value.value!r}"))
    return found


TEMPLATE_ROLE = re.compile(r"\.role\s*(==|!=|in)|role\s*==\s*[\"'](" + "|".join(sorted(ROLE_VALUES)) + r")[\"']")


def test_role_names_live_only_in_the_policy_module():
    bad = []
    for p in python_sources():
        for line, what in role_names_in(p.read_text(encoding="utf-8")):
            bad.append(f"{p.relative_to(ROOT)}:{line}: {what}")
    for p in (ROOT / "templates").rglob("*.html"):
        for n, text in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if TEMPLATE_ROLE.search(text):
                bad.append(f"{p.relative_to(ROOT)}:{n}: a role compared in a template")
    assert bad == [], "ask org.policy instead:\n" + "\n".join(bad)


def test_the_grep_sees_a_role_name():
    src = 'from accounts.models import Role\nif a.role == "dispatcher":\n    x = Role.LEADER\nq(role="grid_worker")\n'
    assert [w for _, w in role_names_in(src)] == ["'dispatcher'", "Role.LEADER", "role='grid_worker'"]
    assert TEMPLATE_ROLE.search('{% if a.role == "admin" %}')


def test_every_role_has_a_row_and_every_capability_a_holder():
    assert set(CAPS) == set(Role.values)
    held = {c for caps in CAPS.values() for c in caps}
    assert held == set(Cap)


# --- the table against the product ---------------------------------------------------------------------


PERSONAS = ["zhang", "li", "wang", "zhao", "qian", "zhou", "wu", "liu", "zheng", "sun", "admin"]

# Who may do what over grid A1 of 东村 (东镇). 张阿姨 the resident, 刘党员 the party member, 郑志愿 the
# volunteer and 孙网格 of another town hold nothing there; 王科员 (民政局) only their department's numbers.
WHO_MAY_AT_A1 = {
    "people": "admin li qian wu zhao zhou",
    "phone": "li wu zhao zhou",  # the leader and the administrator need no phone numbers
    "id_number": "li zhou",  # 代办 and papers: the grid worker and the village
    "register": "admin li wu zhou",
    "orders.see": "admin li qian wu zhao zhou",
    "orders.dispatch": "admin zhao",
    "orders.supervise": "admin qian zhao",
    "orders.handle": "wu zhou",  # handed to 东村: the village and the town above it, not the grid below
    "orders.proxy": "admin li wu zhao zhou",
    "orders.triage": "zhao",
    "dashboard": "admin li qian wu zhao zhou",
    "dashboard.departments": "admin qian wang zhao",
    "assess": "admin qian",
    "points.manage": "admin wu zhou",
    "points.file": "admin li wu zhou",
    "points.watch": "admin qian wu zhao zhou",
    "sos.grid": "li",
    "sos.volunteer": "zheng",
    "sos.village": "zhou",
    "sos.centre": "zhao",  # the dispatcher first; leaders and administrators only where there is none
    "party.visit": "li wu zhou",  # 刘党员 visits the households linked to him, not a place
    "party.manage": "admin wu zhou",
    "party.watch": "admin qian wu zhao zhou",
    "notices.publish": "admin qian wu zhou",
    "deliberation.manage": "admin zhou",  # the village committee
    "deliberation.proxy": "admin li zhou",  # who proposes for a resident without a phone (the committee too)
    "deliberation.watch": "admin qian wu zhou",  # the town and the county read the figures
    "mediation.report": "admin li wu zhao zhou",  # residents report their own disputes, not as a patrol
    "mediation.manage": "admin wu",  # the town registers its villages' mediators
    "mediation.watch": "admin qian wu zhao zhou",  # the 小事不出村 figures; told of red flags
    "integrations.manage": "admin",  # hotline sources and their secrets, webhooks
    "integrations.exchange": "admin zhao",  # the dispatch centre imports 12345 files and exports replies
    "privacy.handle": "admin wu zhou",  # who keeps the register answers correction and deletion requests
    "privacy.audit": "admin qian",  # the county audits who read whose numbers
}


@pytest.fixture
def place(world, settings):
    """A household in A1 nobody of the personas lives in, an orders of theirs in several states."""
    c = world.c
    h = org.household_create(grid=c.a1, address="东村A1湾组88号")
    r = org.resident_create(
        household=h, name="吴大伯", gender="M", birth_date=dt.date(1950, 3, 1), relation="head",
        phone="13912345678", id_number=make_id(),
    )  # fmt: skip
    return world, h, r


def make_id() -> str:
    from gongzhi.test import make_id_number

    return make_id_number("429999", dt.date(1950, 3, 1), 77, "M")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def order_for(world: Any, resident: Resident, state: str, *, to: Unit | None = None) -> WorkOrder:
    c = world.c
    o = wo.workorder_submit(
        by=c.u_zhao, kind=Kind.COMPLAINT, category=world.streetlight, text="门口路灯不亮", channel=Channel.HOTLINE,
        owner=resident, grid=c.a1,
    ).order  # fmt: skip
    if state == State.SUBMITTED:
        return o
    wo.workorder_dispatch(order=o, to=to, by=c.u_zhao)
    o.refresh_from_db()
    if state == State.DISPATCHED:
        return o
    handler = world.u_feng if to.department is not None and to.department == world.housing else c.u_zhou
    wo.workorder_accept(order=o, by=handler)
    wo.workorder_resolve(order=WorkOrder.objects.get(pk=o.pk), by=handler, reply="已修好")
    return WorkOrder.objects.get(pk=o.pk)


def actions(client: Client, order: WorkOrder) -> list[str]:
    r = client.get(f"/api/v1/workorders/{order.pk}")
    return r.json()["actions"] if r.status_code == 200 else []


def test_every_persona_and_capability_the_table_says_is_what_the_product_does(place):
    world, household, resident = place
    c = world.c
    a1 = c.a1.path
    housing = Unit(department=world.housing)
    village = Unit(node=c.v1)
    submitted = order_for(world, resident, State.SUBMITTED)
    to_village = order_for(world, resident, State.DISPATCHED, to=village)
    to_housing = order_for(world, resident, State.DISPATCHED, to=housing)
    resolved = order_for(world, resident, State.RESOLVED, to=housing)
    chain = {rung["user"].pk: rung["kind"] for rung in _chain(resident) if rung["user"] is not None}
    from privacy import services as privacy

    data_request = privacy.datarequest_file(resident=resident, by=c.u_li, kind="correction", text="电话号码有误")
    users = c.all_users()
    factory = RequestFactory()
    household_admin = admin_site._registry[Household]

    def probe(cap: Cap, user: Any, client: Client) -> bool:
        if cap == Cap.PEOPLE:
            return client.get(f"/api/v1/households/{household.pk}").status_code == 200
        if cap in (Cap.PHONE, Cap.ID_NUMBER):
            r = client.get(f"/api/v1/residents/{resident.pk}")
            field = "phone_masked" if cap == Cap.PHONE else "id_number_masked"
            return r.status_code == 200 and r.json()[field] is False
        if cap == Cap.REGISTER:
            request = factory.get("/admin/")
            request.user = user
            return bool(household_admin.has_change_permission(request, household))
        if cap == Cap.ORDERS_SEE:
            return client.get(f"/api/v1/workorders/{submitted.pk}").status_code == 200
        if cap == Cap.ORDERS_DISPATCH:
            return "dispatch" in actions(client, submitted)
        if cap == Cap.ORDERS_SUPERVISE:
            return "callback" in actions(client, resolved)
        if cap == Cap.ORDERS_HANDLE:
            return "accept" in actions(client, to_village)
        if cap == Cap.ORDERS_PROXY:
            r = client.post(
                "/api/v1/workorders",
                {"kind": "complaint", "category": world.streetlight.code, "text": "路灯坏了", "channel": "hotline",
                 "owner_id": resident.pk, "idempotency_key": f"probe-{user.pk}"},
                content_type="application/json",
            )  # fmt: skip
            return r.status_code == 201
        if cap == Cap.ORDERS_TRIAGE:
            from notify.models import Message

            before = set(Message.objects.filter(user=user).values_list("pk", flat=True))
            wo.notify_dispatchers(submitted, "probe", "%(code)s")
            return Message.objects.filter(user=user, kind="probe").exclude(pk__in=before).exists()
        if cap == Cap.DASHBOARD:
            return client.get(f"/dashboard/node/{c.a1.pk}/").status_code == 200
        if cap == Cap.DASHBOARD_DEPARTMENTS:
            return client.get(f"/dashboard/department/{c.civil_affairs.pk}/").status_code == 200
        if cap == Cap.ASSESS:
            return client.get("/dashboard/assessment/").status_code in (200, 302)
        if cap == Cap.POINTS_MANAGE:
            from points import services as pts
            from points.models import Rule

            claim, _ = pts.claim_submit(
                resident=resident, rule=Rule.objects.get(code="EN01"), quantity=1, description="扫地", by=c.u_zhou,
                key=f"probe-{user.pk}",
            )  # fmt: skip
            r = client.get("/points/manage/")
            return r.status_code == 200 and f'data-claim="{claim.pk}"' in r.content.decode()
        if cap == Cap.POINTS_FILE:
            r = client.post(
                "/api/v1/points/claims",
                {"rule": "EN01", "quantity": 1, "description": "打扫", "resident_id": resident.pk},
                content_type="application/json",
            )
            return r.status_code in (200, 201)
        if cap == Cap.POINTS_WATCH:
            return client.get(f"/points/report/?node={c.v1.pk}").status_code == 200
        if cap == Cap.SOS_GRID:
            return chain.get(user.pk) == "grid_worker"
        if cap == Cap.SOS_VOLUNTEER:
            return chain.get(user.pk) == "volunteer"
        if cap == Cap.SOS_VILLAGE:
            return chain.get(user.pk) == "village_duty"
        if cap == Cap.SOS_CENTRE:
            return user.pk in {u.pk for u in _centre(resident)}
        if cap == Cap.PARTY_VISIT:
            r = client.post(
                "/api/v1/party/visits", {"household_id": household.pk, "notes": "走访了解情况"},
                content_type="application/json",
            )  # fmt: skip
            return r.status_code == 201
        if cap == Cap.PARTY_MANAGE:
            return client.get(f"/api/v1/party/links/{household.pk}/history").status_code == 200
        if cap == Cap.PARTY_WATCH:
            return client.get(f"/api/v1/party/report?node={c.a1.pk}").status_code == 200
        if cap == Cap.NOTICES_PUBLISH:
            r = client.post(
                "/api/v1/notices", {"node_id": c.a1.pk, "title": "通知", "body": "明天停水"},
                content_type="application/json",
            )  # fmt: skip
            return r.status_code == 201
        if cap == Cap.DELIBERATION_MANAGE:
            from deliberation import services as delib

            m = delib.matter_propose(by=c.u_zhang, title="修路", body="A1湾组的路要修了", node=c.a1)
            return client.post(f"/api/v1/deliberation/matters/{m.pk}/agenda").status_code == 200
        if cap == Cap.DELIBERATION_PROXY:
            body = {"title": "装路灯", "body": "湾组路口太黑了", "for_resident_id": resident.pk}
            r = client.post("/api/v1/deliberation/matters", body, content_type="application/json")
            return r.status_code == 201
        if cap == Cap.DELIBERATION_WATCH:
            return client.get(f"/api/v1/deliberation/report?node_id={c.a1.pk}").status_code == 200
        if cap == Cap.MEDIATION_REPORT:
            body = {"node_id": c.a1.pk, "kind": "neighbour", "title": "排水沟纠纷", "account": "两家争吵",
                    "source": "patrol", "parties": [{"name": "王某", "phone": "13800001111"}]}  # fmt: skip
            r = client.post("/api/v1/mediation/cases", body, content_type="application/json")
            return r.status_code == 201 and r.json()["source"] == "patrol"  # a resident's own is "resident"
        if cap == Cap.MEDIATION_MANAGE:
            from mediation.models import Mediator

            body = {"username": user.username, "node_id": c.v1.pk, "kind": "committee", "name": "调解员"}
            r = client.post("/api/v1/mediation/mediators", body, content_type="application/json")
            Mediator.objects.filter(user=user).delete()
            return r.status_code == 201
        if cap == Cap.MEDIATION_WATCH:
            return client.get(f"/api/v1/mediation/figures?node_id={c.a1.pk}").status_code == 200
        if cap == Cap.INTEGRATIONS_MANAGE:
            return client.get("/integrations/sources/new/").status_code == 200
        if cap == Cap.INTEGRATIONS_EXCHANGE:
            return client.get("/integrations/import/").status_code == 200
        if cap == Cap.PRIVACY_HANDLE:
            return client.get(f"/privacy/requests/{data_request.pk}/").status_code == 200
        if cap == Cap.PRIVACY_AUDIT:
            return client.get("/privacy/access-log.csv?from=2026-01-01&to=2026-01-02").status_code == 200
        raise AssertionError(f"no probe for {cap}")

    # What the table says, with the rules each capability's gate adds to it.
    def expected(cap: Cap, user: Any) -> bool:
        if cap == Cap.ORDERS_HANDLE:
            return may(user, cap, to_village.unit_path)
        if cap == Cap.ORDERS_PROXY:  # and the resident must be one the user sees
            return bool(paths(user, cap)) and may(user, Cap.PEOPLE, a1)
        if cap == Cap.POINTS_FILE:
            return may(user, cap, a1) and may(user, Cap.PEOPLE, a1)
        if cap == Cap.DASHBOARD_DEPARTMENTS:
            return may(user, cap, c.civil_affairs.jurisdiction.path) or c.civil_affairs.pk in departments(
                user, Cap.ORDERS_HANDLE
            )
        if cap == Cap.ASSESS:
            return bool(paths(user, cap))
        if cap in (Cap.DELIBERATION_PROXY, Cap.DELIBERATION_WATCH):  # the committee does both
            return may(user, cap, a1) or may(user, Cap.DELIBERATION_MANAGE, a1)
        if cap == Cap.POINTS_MANAGE:
            return may(user, cap, a1)
        if cap == Cap.POINTS_WATCH:  # who runs points there reads the figures too
            return may(user, cap) or may(user, Cap.POINTS_MANAGE, c.v1.path)
        if cap == Cap.SOS_CENTRE:  # the first group of the ladder with anyone over the place
            return may(user, cap, a1) and user.pk == c.u_zhao.pk
        if cap in (Cap.SOS_VOLUNTEER, Cap.SOS_VILLAGE):  # held over the village
            return may(user, cap, c.v1.path) and c.v1.path in paths(user, cap)
        return may(user, cap, a1)

    mismatches = []
    seen = {cap: set() for cap in Cap}
    with frozen(dt.datetime(2026, 11, 10, 10, 0, tzinfo=dt.UTC)):
        for name in PERSONAS:
            user = users[name]
            client = client_for(user)
            for cap in Cap:
                said, did = expected(cap, user), probe(cap, user, client)
                if said != did:
                    mismatches.append(f"{name} {cap}: the table says {said}, the product does {did}")
                if did:
                    seen[cap].add(name)
    assert mismatches == [], "\n".join(mismatches)
    # And the answers themselves, written out by hand: a change to the table shows here for review.
    assert {str(cap): " ".join(sorted(who)) for cap, who in seen.items()} == WHO_MAY_AT_A1
    # A department's clerk handles what is dispatched to the department, nothing handed to a village.
    assert "accept" in actions(client_for(world.u_feng), to_housing)
    assert "accept" not in actions(client_for(world.u_feng), to_village)


def _chain(resident: Resident) -> list[dict[str, Any]]:
    from sos.services import default_chain

    return default_chain(Resident.objects.select_related("household").get(pk=resident.pk))


def _centre(resident: Resident) -> list[Any]:
    from sos.models import Call
    from sos.services import _centre_users

    return _centre_users(Call(path=resident.path))
