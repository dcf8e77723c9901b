"""Pages: staff scope home, resident home, household list, language switch, admin scope."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core.models import PersonalDataAccess
from org.models import Household


def stat(html: str, name: str) -> str:
    m = re.search(rf'data-stat="{name}">([^<]*)<', html)
    return m.group(1) if m else ""


def test_anonymous_is_sent_to_login(db):
    r = Client().get("/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")
    assert Client().get("/org/households/").status_code == 302


def test_login_page_is_chinese_by_default(db):
    html = Client().get("/accounts/login/").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "登录" in html


def test_staff_home_shows_scope_with_counts(county, client_as):
    html = client_as(county.u_wu).get("/").content.decode()  # town staff of 东镇
    assert "测试市" in html and "东镇" in html  # breadcrumb
    assert stat(html, "villages") == "2"
    assert stat(html, "grids") == "3"
    assert stat(html, "households") == "4"
    assert stat(html, "residents") == "6"
    assert "南村" not in html  # the other town's village


def test_village_home_children_counts(county, client_as):
    html = client_as(county.u_zhou).get("/").content.decode()
    assert stat(html, "households") == "3"
    assert stat(html, "residents") == "5"
    # A1 has two households (张阿姨, 刘家 of 3); A2 has 陈家.
    assert re.search(r"A1湾组.*?<td class=\"num\"[^>]*>2</td>\s*<td class=\"num\"[^>]*>4</td>", html, re.S)


def test_leader_can_drill_down(county, client_as):
    client = client_as(county.u_qian)
    html = client.get("/").content.decode()
    assert stat(html, "towns") == "2" and stat(html, "households") == "5"
    html = client.get(f"/org/nodes/{county.t2.pk}/").content.decode()
    assert "南村" in html and stat(html, "households") == "1"


def test_department_home_has_no_people(county, client_as):
    html = client_as(county.u_wang).get("/").content.decode()
    assert stat(html, "towns") == "2"
    assert stat(html, "households") == ""
    assert "民政局" in html


def test_resident_home(county, client_as):
    html = client_as(county.u_zhang).get("/").content.decode()
    assert "张阿姨" in html and "东村A1湾组1号" in html
    assert "李网格" in html and 'href="tel:13312345678"' in html  # grid worker with a call button
    assert "刘党员" in html and 'href="tel:13900002222"' in html  # linked party member
    assert "13800001234" not in html and "138****1234" in html  # her own number, masked until she asks
    assert "东村党群服务中心" in html
    assert "孙网格" not in html
    html = client_as(county.u_zhang).get("/?show=numbers").content.decode()
    assert "13800001234" in html  # whole, on her tap
    assert PersonalDataAccess.objects.count() == 0  # her own: not in the log of reads of others' numbers


def test_party_member_home_lists_linked_households(county, client_as):
    html = client_as(county.u_liu).get("/").content.decode()
    assert "东村A1湾组1号" in html and "东村A2湾组3号" in html
    assert "西村" not in html


def test_household_list_page_bad_input_is_a_message(county, client_as):
    client = client_as(county.u_zhou)
    html = client.get("/org/households/", {"page": "abc"}).content.decode()
    assert "页码无效" in html or "not valid" in html
    html = client.get("/org/households/", {"page": "999"}).content.decode()
    assert "没有这一页" in html or "no such page" in html
    html = client.get("/org/households/", {"tag": "rich"}).content.decode()
    assert "未知的户标签" in html or "Unknown household tag" in html
    r = client.get("/org/households/", {"q": "x" * 51})
    assert r.status_code == 200 and "50" in r.content.decode()
    assert client.get("/org/households/", {"node": "east"}).status_code == 200
    assert client.get("/org/households/", {"node": "999999"}).status_code == 404


def test_language_switch_to_english(county, client_as):
    client = client_as(county.u_zhou)
    assert "住户" in client.get("/").content.decode()
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert r.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Households" in html and "住户" not in html


@pytest.mark.parametrize(("persona", "visible"), [("zhou", 3), ("wu", 4), ("li", 2), ("sun", 1)])
def test_admin_household_list_is_scoped(county, client_as, persona, visible):
    client = client_as(county.all_users()[persona])
    html = client.get("/admin/org/household/").content.decode()
    shown = [h for h in Household.objects.all() if f"/admin/org/household/{h.pk}/change/" in html]
    assert len(shown) == visible


def test_admin_other_village_object_is_not_reachable(county, client_as):
    client = client_as(county.u_zhou)
    r = client.get(f"/admin/org/household/{county.h_huang.pk}/change/")
    # Django admin answers an object outside the queryset as missing: a redirect with "does not exist".
    assert r.status_code == 302
    assert client.get(f"/admin/org/household/{county.h_zhang.pk}/change/").status_code == 200
    r = client.post(f"/admin/org/household/{county.h_huang.pk}/change/", {"address": "hijacked"})
    county.h_huang.refresh_from_db()
    assert county.h_huang.address == "西村B1湾组1号"


def test_admin_grid_choices_are_scoped(county, client_as):
    html = client_as(county.u_zhou).get("/admin/org/household/add/").content.decode()
    assert "A1湾组" in html and "A2湾组" in html
    assert "B1湾组" not in html and "C1湾组" not in html


def test_admin_cannot_move_household_into_another_village(county, client_as):
    client = client_as(county.u_zhou)
    r = client.post(
        f"/admin/org/household/{county.h_zhang.pk}/change/",
        {
            "grid": county.b1.pk,
            "number": "1",
            "address": "moved",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 200  # the form comes back with an error
    county.h_zhang.refresh_from_db()
    assert county.h_zhang.grid_id == county.a1.pk


def test_admin_resident_masked_for_leader_and_logged_for_village(county, client_as):
    leader = client_as(county.u_qian).get(f"/admin/org/resident/{county.zhang.pk}/change/").content.decode()
    assert "138****1234" in leader and "13800001234" not in leader
    assert county.zhang.id_number not in leader
    assert PersonalDataAccess.objects.count() == 0
    village = client_as(county.u_zhou).get(f"/admin/org/resident/{county.zhang.pk}/change/").content.decode()
    assert "13800001234" in village and county.zhang.id_number in village
    assert set(PersonalDataAccess.objects.values_list("field", "channel")) == {
        ("phone", "admin"),
        ("id_number", "admin"),
    }


def test_admin_leader_cannot_edit_register(county, client_as):
    client = client_as(county.u_qian)
    r = client.post(f"/admin/org/household/{county.h_zhang.pk}/change/", {"address": "x"})
    assert r.status_code == 403
    county.h_zhang.refresh_from_db()
    assert county.h_zhang.address == "东村A1湾组1号"


def test_admin_department_user_sees_no_register(county, client_as):
    client = client_as(county.u_wang)
    assert client.get("/admin/org/household/").status_code == 403
    assert client.get("/admin/org/resident/").status_code == 403


def test_admin_users_are_superuser_only(county, client_as):
    assert client_as(county.u_zhou).get("/admin/accounts/user/").status_code == 403
    assert client_as(county.u_admin).get("/admin/accounts/user/").status_code == 200


def test_staff_home_query_count_does_not_grow_with_the_tree(county, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from org import services
    from org.models import Level

    client = client_as(county.u_qian)
    client.get("/")
    with CaptureQueriesContext(connection) as before:
        client.get("/")
    for i in range(5):
        town = services.node_create(parent=county.county, level=Level.TOWN, kind="town", name=f"新镇{i}", code=f"n{i}")
        village = services.node_create(parent=town, level=Level.VILLAGE, kind="village", name=f"新村{i}", code=f"nv{i}")
        grid = services.node_create(parent=village, level=Level.GRID, kind="grid", name=f"新组{i}", code=f"ng{i}")
        services.household_create(grid=grid, address=f"新村{i}1号")
    client.get("/")  # the tree changed: the viewer's scope is read again once
    with CaptureQueriesContext(connection) as after:
        html = client.get("/").content.decode()
    assert len(after) == len(before)
    assert stat(html, "towns") == "7" and stat(html, "households") == "10"


def test_logout_is_a_post_and_ends_the_session(county, client_as):
    client = client_as(county.u_zhou)
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot log anyone out
    r = client.post("/accounts/logout/")
    assert r.status_code == 302
    assert client.get("/").status_code == 302
