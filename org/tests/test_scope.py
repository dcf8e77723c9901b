"""Scope is airtight: every persona against every household, through the gate, the API and the pages."""

from __future__ import annotations

import pytest

from core.models import PersonalDataAccess
from org import access

# persona → households they may see (by County attribute name)
VISIBLE = {
    "zhang": {"h_zhang"},  # a resident: their own household
    "li": {"h_zhang", "h_liu"},  # grid worker of A1
    "wang": set(),  # department clerk: none of the tree's people
    "zhao": {"h_zhang", "h_liu", "h_chen", "h_huang", "h_sun"},  # dispatcher of the county
    "qian": {"h_zhang", "h_liu", "h_chen", "h_huang", "h_sun"},  # leader of the county
    "zhou": {"h_zhang", "h_liu", "h_chen"},  # village staff of V1
    "wu": {"h_zhang", "h_liu", "h_chen", "h_huang"},  # town staff of T1
    "liu": {"h_liu", "h_zhang", "h_chen"},  # party member: own + linked households
    "zheng": set(),  # volunteer
    "sun": {"h_sun"},  # the outsider grid worker in the other town
    "admin": {"h_zhang", "h_liu", "h_chen", "h_huang", "h_sun"},  # superuser
}
HOUSEHOLDS = ["h_zhang", "h_liu", "h_chen", "h_huang", "h_sun"]


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_gate_lists_exactly_the_households_in_scope(county, persona):
    user = county.all_users()[persona]
    expected = {getattr(county, h).pk for h in VISIBLE[persona]}
    assert set(access.households_for(user).values_list("pk", flat=True)) == expected
    residents = set(access.residents_for(user).values_list("household_id", flat=True))
    assert residents == expected


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_api_household_list_and_detail_respect_scope(county, client_as, persona):
    user = county.all_users()[persona]
    client = client_as(user)
    listed = {row["id"] for row in client.get("/api/v1/households?page_size=100").json()["items"]}
    assert listed == {getattr(county, h).pk for h in VISIBLE[persona]}
    for h in HOUSEHOLDS:
        household = getattr(county, h)
        response = client.get(f"/api/v1/households/{household.pk}")
        if h in VISIBLE[persona]:
            assert response.status_code == 200, (persona, h)
            assert response.json()["address"] == household.address
        else:
            # Not yours looks exactly like missing.
            assert response.status_code == 404, (persona, h)
            assert response.json() == client.get("/api/v1/households/999999").json()


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_api_resident_detail_respects_scope(county, client_as, persona):
    user = county.all_users()[persona]
    client = client_as(user)
    for h in HOUSEHOLDS:
        resident = getattr(county, h).members.first()
        status = client.get(f"/api/v1/residents/{resident.pk}").status_code
        assert status == (200 if h in VISIBLE[persona] else 404), (persona, h)


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_pages_respect_scope(county, client_as, persona):
    user = county.all_users()[persona]
    client = client_as(user)
    for h in HOUSEHOLDS:
        household = getattr(county, h)
        page = client.get(f"/org/households/{household.pk}/")
        assert page.status_code == (200 if h in VISIBLE[persona] else 404), (persona, h)
        resident = household.members.first()
        page = client.get(f"/org/residents/{resident.pk}/")
        assert page.status_code == (200 if h in VISIBLE[persona] else 404), (persona, h)
    listing = client.get("/org/households/").content.decode()
    for h in HOUSEHOLDS:
        assert (getattr(county, h).address in listing) == (h in VISIBLE[persona]), (persona, h)


def test_village_user_cannot_search_into_another_village(county, client_as):
    client = client_as(county.u_zhou)
    # 黄婶 lives in 西村 (V2); 周村干 keeps 东村 (V1).
    assert client.get("/api/v1/residents", {"q": "黄婶"}).json()["count"] == 0
    assert client.get("/api/v1/households", {"q": "黄婶"}).json()["count"] == 0
    assert client.get("/api/v1/residents", {"q": "5555"}).json()["count"] == 0  # 黄婶's phone tail
    assert client.get("/api/v1/households", {"node": county.v2.pk}).status_code == 404
    assert client.get("/api/v1/residents", {"node": county.t2.pk}).status_code == 404
    assert county.h_huang.address not in client.get("/org/households/", {"q": "黄婶"}).content.decode()
    assert client.get("/org/households/", {"node": county.v2.pk}).status_code == 404
    # …while their own village is searchable by name and by masked phone.
    assert client.get("/api/v1/residents", {"q": "张阿姨"}).json()["count"] == 1
    assert client.get("/api/v1/residents", {"q": "138****1234"}).json()["count"] == 1
    assert client.get("/api/v1/households", {"q": "1234"}).json()["items"][0]["id"] == county.h_zhang.pk


def test_department_user_sees_tree_but_no_people(county, client_as):
    client = client_as(county.u_wang)
    assert client.get("/api/v1/households").json()["count"] == 0
    assert client.get("/api/v1/residents").json()["count"] == 0
    detail = client.get(f"/api/v1/nodes/{county.county.pk}").json()
    assert detail["name"] == "测试市"
    assert detail["stats"] is None  # no counts of people either
    home = client.get("/").content.decode()
    assert 'data-stat="households"' not in home


def test_node_scope(county, client_as):
    client = client_as(county.u_zhou)  # village staff of V1
    assert client.get(f"/api/v1/nodes/{county.v1.pk}").status_code == 200
    assert client.get(f"/api/v1/nodes/{county.a1.pk}").status_code == 200
    # ancestors are visible for the breadcrumb …
    assert client.get(f"/api/v1/nodes/{county.t1.pk}").status_code == 200
    # … but siblings and other towns are not
    assert client.get(f"/api/v1/nodes/{county.v2.pk}").status_code == 404
    assert client.get(f"/api/v1/nodes/{county.c1.pk}").status_code == 404
    assert client.get(f"/org/nodes/{county.v2.pk}/").status_code == 404
    # ancestors are not pages to drill into
    assert client.get(f"/org/nodes/{county.t1.pk}/").status_code == 404
    found = client.get("/api/v1/nodes/search", {"q": "村"}).json()
    assert {n["name"] for n in found["items"]} == {"东村"}
    children = client.get("/api/v1/nodes", {"parent": county.v1.pk}).json()
    assert [n["name"] for n in children] == ["A1湾组", "A2湾组"]
    top = client.get("/api/v1/nodes").json()
    assert [n["name"] for n in top] == ["东村"]


# --- masking ------------------------------------------------------------------------------------

# persona → (phone unmasked, id unmasked) when reading 张阿姨's record in detail
UNMASK_ZHANG = {
    "zhang": (True, True),  # her own
    "li": (True, True),  # her grid worker (代办 needs the ID number)
    "zhou": (True, True),  # her village staff
    "wu": (True, False),  # town staff: phone only
    "zhao": (True, False),  # dispatcher: phone only, to call back
    "qian": (False, False),  # leader: neither
    "liu": (True, False),  # her linked party member: phone only
    "admin": (False, False),  # superuser through the API: masked like the admin role
}


@pytest.mark.parametrize("persona", sorted(UNMASK_ZHANG))
def test_resident_detail_masking_and_access_log(county, client_as, persona):
    user = county.all_users()[persona]
    phone_open, id_open = UNMASK_ZHANG[persona]
    before = PersonalDataAccess.objects.count()
    data = client_as(user).get(f"/api/v1/residents/{county.zhang.pk}").json()
    assert data["phone"] == ("13800001234" if phone_open else "138****1234")
    assert data["phone_masked"] is not phone_open
    assert data["id_number"] == (county.zhang.id_number if id_open else "4299**********" + county.zhang.id_number[-4:])
    assert data["id_number_masked"] is not id_open
    assert (data["birth_date"] is not None) is id_open
    logged = set(PersonalDataAccess.objects.filter(user=user, resident=county.zhang).values_list("field", flat=True))
    if persona == "zhang":
        assert logged == set()  # reading one's own record is not logged
    else:
        assert logged == {f for f, shown in (("phone", phone_open), ("id_number", id_open)) if shown}
    assert PersonalDataAccess.objects.count() - before == len(logged)


@pytest.mark.parametrize("persona", ["li", "zhou", "zhao", "qian", "admin"])
def test_lists_are_always_masked(county, client_as, persona):
    client = client_as(county.all_users()[persona])
    for row in client.get("/api/v1/residents?page_size=100").json()["items"]:
        assert row["phone_masked"] and row["id_number_masked"]
        assert "*" in row["id_number"]
    detail = client.get(f"/api/v1/households/{county.h_liu.pk}").json()
    for member in detail["members"]:
        assert member["phone"] in ("", "139****2222", "139****3333")
        assert "*" in member["id_number"]
    assert PersonalDataAccess.objects.count() == 0


def test_page_reveal_is_explicit_and_logged(county, client_as):
    client = client_as(county.u_li)
    url = f"/org/residents/{county.zhang.pk}/"
    page = client.get(url).content.decode()
    assert "138****1234" in page and "13800001234" not in page
    assert PersonalDataAccess.objects.count() == 0
    page = client.post(url, {"reveal": "1"}).content.decode()
    assert "13800001234" in page and county.zhang.id_number in page
    assert set(PersonalDataAccess.objects.values_list("field", "channel")) == {("phone", "page"), ("id_number", "page")}


def test_leader_page_never_reveals(county, client_as):
    client = client_as(county.u_qian)
    url = f"/org/residents/{county.zhang.pk}/"
    page = client.post(url, {"reveal": "1"}).content.decode()
    assert "13800001234" not in page and county.zhang.id_number not in page
    assert PersonalDataAccess.objects.count() == 0
