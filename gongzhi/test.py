"""A small county with personas, built through the services, for every app's tests.

测试市 (county)
├── 东镇 T1
│   ├── 东村 V1 ── A1: 张阿姨's household (elderly_alone), 刘家 (3 people) · A2: 陈家
│   └── 西村 V2 ── B1: 黄家
└── 南镇 T2
    └── 南村 V3 ── C1: 孙家
Personas: 张阿姨 (resident, A1), 李网格 (grid worker, A1), 王科员 (民政局 clerk), 赵调度 (dispatcher),
钱领导 (leader), 周村干 (village staff, V1), 吴镇干 (town staff, T1), 刘党员 (party member living in A1,
linked to 张阿姨's and 陈家's households), 郑志愿 (volunteer, V1), and the outsider 孙网格 (grid worker, C1).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from accounts import services as accounts
from accounts.models import Role, User
from core.validators import id_check_char
from org import services as org
from org.models import Department, Household, Level, Node, Resident, ServicePoint

PASSWORD = "correct-horse-battery"  # noqa: S105 - test-only

GRID_CENTRES = {
    "a1": (Decimal("31.180000"), Decimal("115.020000")),
    "a2": (Decimal("31.180000"), Decimal("115.036000")),
    "b1": (Decimal("31.225000"), Decimal("115.020000")),
    "c1": (Decimal("31.315000"), Decimal("115.020000")),
}


def make_id_number(region: str, birth: dt.date, seq: int, gender: str) -> str:
    """A valid ID number: region, birth date, sequence (odd for men), check character."""
    seq3 = seq * 2 + (1 if gender == "M" else 0)
    body = f"{region}{birth:%Y%m%d}{seq3 % 1000:03d}"
    return body + id_check_char(body)


@dataclass
class County:
    county: Node
    t1: Node
    t2: Node
    v1: Node
    v2: Node
    v3: Node
    a1: Node
    a2: Node
    b1: Node
    c1: Node
    h_zhang: Household
    h_liu: Household
    h_chen: Household
    h_huang: Household
    h_sun: Household
    zhang: Resident  # 张阿姨
    liu: Resident  # 刘党员, head of 刘家
    chen: Resident
    huang: Resident
    sun_resident: Resident
    civil_affairs: Department
    point_v1: ServicePoint
    # users
    u_zhang: User
    u_li: User
    u_wang: User
    u_zhao: User
    u_qian: User
    u_zhou: User
    u_wu: User
    u_liu: User
    u_zheng: User
    u_sun: User
    u_admin: User

    def all_users(self) -> dict[str, User]:
        return {k[2:]: v for k, v in self.__dict__.items() if k.startswith("u_")}


def _user(username: str, name: str, **kw: Any) -> User:
    return accounts.user_create(username=username, password=PASSWORD, display_name=name, **kw)


def build_county() -> County:
    c = org.node_create(parent=None, level=Level.COUNTY, kind="county_city", name="测试市", code="429999")
    t1 = org.node_create(parent=c, level=Level.TOWN, kind="town", name="东镇", code="429999101")
    t2 = org.node_create(parent=c, level=Level.TOWN, kind="town", name="南镇", code="429999102")
    v1 = org.node_create(parent=t1, level=Level.VILLAGE, kind="village", name="东村", code="429999101001")
    v2 = org.node_create(parent=t1, level=Level.VILLAGE, kind="village", name="西村", code="429999101002")
    v3 = org.node_create(parent=t2, level=Level.VILLAGE, kind="village", name="南村", code="429999102001")
    # Grid centres about 1.5 km apart (A1–A2), 5 km (A–B) and 15 km (A–C): work orders are located by them.
    a1 = org.node_create(
        parent=v1,
        level=Level.GRID,
        kind="villager_group",
        name="A1湾组",
        code="429999101001001",
        lat=GRID_CENTRES["a1"][0],
        lng=GRID_CENTRES["a1"][1],
    )
    a2 = org.node_create(
        parent=v1,
        level=Level.GRID,
        kind="villager_group",
        name="A2湾组",
        code="429999101001002",
        lat=GRID_CENTRES["a2"][0],
        lng=GRID_CENTRES["a2"][1],
    )
    b1 = org.node_create(
        parent=v2,
        level=Level.GRID,
        kind="villager_group",
        name="B1湾组",
        code="429999101002001",
        lat=GRID_CENTRES["b1"][0],
        lng=GRID_CENTRES["b1"][1],
    )
    c1 = org.node_create(
        parent=v3,
        level=Level.GRID,
        kind="villager_group",
        name="C1湾组",
        code="429999102001001",
        lat=GRID_CENTRES["c1"][0],
        lng=GRID_CENTRES["c1"][1],
    )

    h_zhang = org.household_create(grid=a1, address="东村A1湾组1号", number="1", tags=["elderly_alone"])
    h_liu = org.household_create(grid=a1, address="东村A1湾组2号", number="2")
    h_chen = org.household_create(grid=a2, address="东村A2湾组3号", number="3", tags=["disabled", "low_income"])
    h_huang = org.household_create(grid=b1, address="西村B1湾组1号", number="1")
    h_sun = org.household_create(grid=c1, address="南村C1湾组1号", number="1")

    def person(h: Household, name: str, g: str, born: dt.date, rel: str, phone: str, seq: int) -> Resident:
        return org.resident_create(
            household=h,
            name=name,
            gender=g,
            birth_date=born,
            relation=rel,
            phone=phone,
            id_number=make_id_number("429999", born, seq, g),
        )

    zhang = person(h_zhang, "张阿姨", "F", dt.date(1948, 3, 9), "head", "13800001234", 1)
    liu = person(h_liu, "刘党员", "M", dt.date(1975, 6, 1), "head", "13900002222", 2)
    person(h_liu, "刘妻", "F", dt.date(1977, 8, 15), "spouse", "13900003333", 3)
    person(h_liu, "刘小宝", "M", dt.date(2015, 1, 20), "child", "", 4)
    chen = person(h_chen, "陈大爷", "M", dt.date(1950, 11, 2), "head", "13700004444", 5)
    huang = person(h_huang, "黄婶", "F", dt.date(1960, 2, 29), "head", "13600005555", 6)
    sun_resident = person(h_sun, "孙大伯", "M", dt.date(1955, 4, 4), "head", "13500006666", 7)

    civil = org.department_create(name="民政局", code="D01", level="county", jurisdiction=c, phone="0713-2000001")
    point = org.service_point_create(
        node=v1,
        name="东村党群服务中心",
        kind=ServicePoint.Kind.PARTY_MASSES_CENTER,
        address="东村村委会",
        phone="0713-2000002",
        opening_hours="周一至周五 8:30-12:00 14:30-17:30",
        services=["社保办理", "代办证件"],
    )
    member = org.party_member_create(resident=liu, branch=v1, is_center_household=True)
    org.household_link(member=member, household=h_zhang, since=dt.date(2025, 1, 1))
    org.household_link(member=member, household=h_chen, since=dt.date(2025, 1, 1))

    u_zhang = _user("zhang", "张阿姨")
    Resident.objects.filter(pk=zhang.pk).update(user=u_zhang)
    u_li = _user("li", "李网格", work_phone="13312345678", is_staff=True)
    accounts.role_assign(user=u_li, role=Role.GRID_WORKER, node=a1)
    u_wang = _user("wang", "王科员", is_staff=True)
    accounts.role_assign(user=u_wang, role=Role.DEPT_STAFF, department=civil)
    u_zhao = _user("zhao", "赵调度", is_staff=True)
    accounts.role_assign(user=u_zhao, role=Role.DISPATCHER, node=c)
    u_qian = _user("qian", "钱领导", is_staff=True)
    accounts.role_assign(user=u_qian, role=Role.LEADER, node=c)
    u_zhou = _user("zhou", "周村干", is_staff=True)
    accounts.role_assign(user=u_zhou, role=Role.VILLAGE_STAFF, node=v1)
    u_wu = _user("wu", "吴镇干", is_staff=True)
    accounts.role_assign(user=u_wu, role=Role.TOWN_STAFF, node=t1)
    u_liu = _user("liu", "刘党员", work_phone="13900002222")
    Resident.objects.filter(pk=liu.pk).update(user=u_liu)
    accounts.role_assign(user=u_liu, role=Role.PARTY_MEMBER, node=v1)
    u_zheng = _user("zheng", "郑志愿")
    accounts.role_assign(user=u_zheng, role=Role.VOLUNTEER, node=v1)
    u_sun = _user("sun", "孙网格", work_phone="13311112222", is_staff=True)
    accounts.role_assign(user=u_sun, role=Role.GRID_WORKER, node=c1)
    u_admin = _user("root", "管理员", is_superuser=True)
    accounts.role_assign(user=u_admin, role=Role.ADMIN, node=c)

    for r in (zhang, liu):
        r.refresh_from_db()
    return County(
        county=c, t1=t1, t2=t2, v1=v1, v2=v2, v3=v3, a1=a1, a2=a2, b1=b1, c1=c1,
        h_zhang=h_zhang, h_liu=h_liu, h_chen=h_chen, h_huang=h_huang, h_sun=h_sun,
        zhang=zhang, liu=liu, chen=chen, huang=huang, sun_resident=sun_resident,
        civil_affairs=civil, point_v1=point,
        u_zhang=u_zhang, u_li=u_li, u_wang=u_wang, u_zhao=u_zhao, u_qian=u_qian, u_zhou=u_zhou, u_wu=u_wu,
        u_liu=u_liu, u_zheng=u_zheng, u_sun=u_sun, u_admin=u_admin,
    )  # fmt: skip


@dataclass
class WorkWorld:
    """The persona county plus what work orders need: the default catalogue, a second department
    (住建局, with two clerks so that two people can race to sign for one order) and dispatch rules."""

    c: County
    housing: Department
    u_feng: User  # 冯科员, 住建局
    u_ma: User  # 马科员, 住建局
    streetlight: Any  # catalog.Category 010101 路灯损坏
    elderly: Any  # 030201 高龄津贴 (→ 民政局)
    dispute: Any  # 050101 邻里纠纷 (complex; → the village)
    outage: Any  # 010202 停电 (utility)


def build_work_world(c: County) -> WorkWorld:
    from catalog import defaults
    from catalog.models import Category, DispatchRule

    defaults.load_defaults()
    housing = org.department_create(
        name="住建局", code="D02", level="county", jurisdiction=c.county, phone="0713-2000003"
    )
    u_feng = _user("feng", "冯科员", is_staff=True)
    accounts.role_assign(user=u_feng, role=Role.DEPT_STAFF, department=housing)
    u_ma = _user("ma", "马科员", is_staff=True)
    accounts.role_assign(user=u_ma, role=Role.DEPT_STAFF, department=housing)
    cats = {x.code: x for x in Category.objects.all()}
    DispatchRule.objects.create(name="市政设施→住建局", category=cats["0101"], department=housing)
    DispatchRule.objects.create(name="民生保障→民政局", category=cats["03"], department=c.civil_affairs)
    DispatchRule.objects.create(name="矛盾纠纷→村", category=cats["0501"], handle_at_level=Level.VILLAGE)
    DispatchRule.objects.create(name="兜底→镇", handle_at_level=Level.TOWN, priority=999)
    return WorkWorld(
        c=c, housing=housing, u_feng=u_feng, u_ma=u_ma, streetlight=cats["010101"], elderly=cats["030201"],
        dispute=cats["050101"], outage=cats["010202"],
    )  # fmt: skip


# --- real processes: a server and workers over one database, for the fault and live-browser tests ------

ROOT = Path(__file__).resolve().parent.parent


def process_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of child processes with their own SQLite database in `var_dir` (they cannot see
    the test database's transaction). Rate limits are a thousand times looser, as in the in-process tests
    (conftest's `_rate_limits`): a test that drives many requests is not an attacker."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {
        **env, "GONGZHI_VAR_DIR": str(var_dir), "SECRET_KEY": "test-processes", "LOG_LEVEL": "ERROR",
        "GONGZHI_RATE_LIMIT_FACTOR": "1000", **extra,
    }  # fmt: skip


def manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py in a child process; its output. `manage(env, "shell", "-c", code)` for a query."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def manage_shell(env: dict[str, str], code: str) -> str:
    """The last line Python code printed in `manage.py shell`."""
    return manage(env, "shell", "-c", code).strip().splitlines()[-1]


class Processes:
    """The child processes of a test, stopped (SIGTERM, then SIGKILL) however the test ends."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=self.env)
        self.running.append(proc)
        return proc

    def server(self) -> str:
        """The site as `make run` serves it (`manage.py serve --server-only`: granian, gongzhi.asgi's one-port
        app, the live stream included), one process, on a free port; its base URL once it answers."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env.setdefault("GONGZHI_WEB_WORKERS", "1")
        self.start("manage.py", "serve", "--server-only", "--host", "127.0.0.1", "--port", str(port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.running:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- bad input on the pages: the form's message, and nothing changed -----------------------------------

# Tables a refused post may still touch: the session (it carries the message), the login guard, and the
# log of personal numbers read while the page is drawn again.
_VOLATILE = ("django_session", "axes_", "core_personaldataaccess")


def db_fingerprint() -> str:
    """A digest of every row of every table the product keeps (tests' databases are small)."""
    import hashlib

    from django.apps import apps as django_apps

    h = hashlib.sha256()
    for model in sorted(django_apps.get_models(), key=lambda m: m._meta.db_table):
        table = model._meta.db_table
        if model._meta.proxy or not model._meta.managed or table.startswith(_VOLATILE):
            continue
        for row in model._default_manager.order_by("pk").values_list():
            h.update(repr((table, row)).encode())
    return h.hexdigest()


def bad_values(form_class: Any, form_kwargs: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """For each text field of a page form: (field, a value with a NUL byte, the message expected) and
    (field, one character too many, the message expected)."""
    from django import forms

    from core import validation

    form = form_class(**(form_kwargs or {}))
    out = []
    for name, field in form.fields.items():
        if isinstance(field, forms.CharField):
            out.append((name, "a\x00b", str(validation.NUL)))
        if isinstance(field, forms.CharField) and field.max_length:
            n = field.max_length + 1
            out.append((name, "长" * n, str(validation.TOO_LONG % {"limit_value": field.max_length, "show_value": n})))
    return out


def assert_refuses_bad_input(
    client: Any, url: str, valid: dict[str, Any], form_class: Any, *, form_kwargs: dict[str, Any] | None = None
) -> int:
    """Post `valid` with each text field of `form_class` spoiled in turn (a NUL byte, one character too
    many): the page shows the form's message and the database is as it was. Returns how many posts."""
    import html

    from django.utils import translation

    posts = 0
    for name, value, _message in bad_values(form_class, form_kwargs):
        before = db_fingerprint()
        r = client.post(url, {**valid, name: value}, follow=True)
        # The page again (200, or 422 where a page draws the form anew with its errors), never a crash.
        assert r.status_code in (200, 422), (url, name, r.status_code)
        with translation.override(r.wsgi_request.LANGUAGE_CODE):
            expected = next(m for n, v, m in bad_values(form_class, form_kwargs) if n == name and v == value)
        page = r.content.decode()
        assert expected in page or html.escape(expected) in page, (url, name, expected)
        assert db_fingerprint() == before, f"{url}: a refused {name!r} changed the database"
        posts += 1
    return posts


class _Undo(Exception):
    """Rolls back a move that was accepted: the question was only whether it would be."""


def accepted(call: Any) -> bool:
    """Whether a service would accept `call()` now: it runs in a transaction rolled back either way (a
    button's test: shown exactly when the service would accept the move)."""
    from django.db import transaction

    from core.errors import ApiError

    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except ApiError:
        return False
