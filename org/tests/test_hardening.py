"""Holes found in review, each pinned by a test: admin oracles, leaks through widgets, odd input."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db.models.deletion import ProtectedError
from django.test import Client, RequestFactory, override_settings

from accounts import services as accounts
from accounts.lockout import client_ip
from accounts.models import ApiToken, Role, User
from core import clock
from core.models import PersonalDataAccess
from core.validators import is_valid_id_number, validate_phone
from org.models import HouseholdLink, Node, Resident

# --- the admin for masked roles --------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["id_number=%s", "id_number__startswith=%s", "phone=13600005555", "phone_tail=5555", "birth_date=1960-02-29"],
)
def test_admin_url_filters_cannot_search_masked_fields(county, client_as, query):
    if "%s" in query:
        query = query % county.huang.id_number[:6]
    r = client_as(county.u_qian).get(f"/admin/org/resident/?{query}")
    # Django answers a disallowed lookup with 400 (DisallowedModelAdminLookup), never a filtered list.
    assert r.status_code == 400
    assert PersonalDataAccess.objects.count() == 0


def test_admin_declared_filters_still_work(county, client_as):
    r = client_as(county.u_qian).get("/admin/org/resident/?gender__exact=F")
    assert r.status_code == 200
    assert "张阿姨" in r.content.decode() and "刘党员" not in r.content.decode()


@pytest.mark.parametrize("persona", ["qian", "wu"])
def test_admin_birth_date_hidden_where_id_number_is_masked(county, client_as, persona):
    html = client_as(county.all_users()[persona]).get(f"/admin/org/resident/{county.huang.pk}/change/").content.decode()
    if persona == "wu":  # town staff of 东镇 sees 黄婶 (西村) with the phone whole, the ID masked
        assert "13600005555" in html
    assert "1960" not in html  # neither in a date widget nor in the masked ID number
    assert county.huang.id_number not in html


def test_admin_forms_offer_no_raw_id_boxes_and_no_logins(county, client_as):
    client = client_as(county.u_zhou)
    html = client.get("/admin/org/resident/add/").content.decode()
    assert "vForeignKeyRawIdAdminField" not in html
    assert 'name="user"' not in html
    # The household choices are the clerk's village only.
    assert "东村A1湾组1号" in html and "西村B1湾组1号" not in html and "南村C1湾组1号" not in html
    # Party links and service points are read-only for staff: nothing to post a foreign id into.
    assert client.get("/admin/org/householdlink/add/").status_code == 403
    assert client.get("/admin/org/partymember/add/").status_code == 403
    r = client.post("/admin/org/householdlink/add/", {"household": county.h_sun.pk, "member": 1, "since": "2025-01-01"})
    assert r.status_code == 403
    assert "南村" not in r.content.decode()


def test_admin_cannot_attach_login_to_resident(county, client_as):
    client = client_as(county.u_zhou)
    r = client.post(
        "/admin/org/resident/add/",
        {"household": county.h_chen.pk, "name": "新人", "gender": "M", "relation": "child", "user": county.u_wang.pk},
    )
    assert r.status_code == 302
    created = Resident.objects.get(name="新人")
    assert created.user_id is None and created.path == county.a2.path  # through the service
    assert not HouseholdLink.objects.filter(household=county.h_sun).exists()


def test_admin_cannot_create_resident_in_another_village(county, client_as):
    r = client_as(county.u_zhou).post(
        "/admin/org/resident/add/", {"household": county.h_huang.pk, "name": "外人", "gender": "M", "relation": "child"}
    )
    assert r.status_code == 200  # the form comes back: that household is not a choice
    assert not Resident.objects.filter(name="外人").exists()


def test_admin_edit_rights_follow_each_role_not_the_union(county, client_as):
    # The leader (county, view only) is also grid worker of A1: may edit A1 only.
    accounts.role_assign(user=county.u_qian, role=Role.GRID_WORKER, node=county.a1)
    client = client_as(county.u_qian)
    form = {"grid": county.c1.pk, "number": "1", "address": "hijacked"}
    inline = {"members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"}
    r = client.post(f"/admin/org/household/{county.h_sun.pk}/change/", {**form, **inline})
    assert r.status_code == 403
    county.h_sun.refresh_from_db()
    assert county.h_sun.address == "南村C1湾组1号"
    r = client.post(
        f"/admin/org/household/{county.h_zhang.pk}/change/",
        {"grid": county.a1.pk, "number": "1", "address": "东村A1湾组1号（新）", **inline},
    )
    assert r.status_code == 302
    county.h_zhang.refresh_from_db()
    assert county.h_zhang.address == "东村A1湾组1号（新）"


def test_admin_household_inline_is_read_only_and_visible(county, client_as):
    html = client_as(county.u_zhou).get(f"/admin/org/household/{county.h_liu.pk}/change/").content.decode()
    assert "刘小宝" in html  # members are shown …
    assert "members-0-name" not in html  # … but not as editable inline rows
    assert "139****2222" in html and "13900002222" not in html


def test_admin_resident_household_cannot_be_changed(county, client_as):
    client = client_as(county.u_zhou)
    r = client.post(
        f"/admin/org/resident/{county.liu.pk}/change/",
        {"household": county.h_chen.pk, "name": "刘党员", "gender": "M", "relation": "head",
         "birth_date": "1975-06-01", "phone": "13900002222", "id_number": county.liu.id_number},
    )  # fmt: skip
    assert r.status_code == 302
    county.liu.refresh_from_db()
    assert county.liu.household_id == county.h_liu.pk


def test_admin_node_wrong_level_is_a_form_error(county, client_as):
    r = client_as(county.u_admin).post(
        "/admin/org/node/add/", {"parent": county.v1.pk, "level": 4, "kind": "town", "name": "错层", "code": "bad1"}
    )
    assert r.status_code == 200
    assert "errornote" in r.content.decode()
    assert not Node.objects.filter(code="bad1").exists()


def test_admin_users_cannot_be_changed_by_staff(county, client_as):
    client = client_as(county.u_zhou)
    assert client.post(f"/admin/accounts/user/{county.u_zhou.pk}/change/", {"is_superuser": "on"}).status_code == 403
    county.u_zhou.refresh_from_db()
    assert not county.u_zhou.is_superuser


# --- pages and API: odd input answers 4xx, never 500 -------------------------------------------


def test_unicode_digits_are_not_ids(county, client_as):
    client = client_as(county.u_zhou)
    assert client.get("/org/households/", {"node": "²"}).status_code == 200
    r = client.post("/accounts/tokens/", {"action": "revoke", "id": "²"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/api/v1/households?q=a%00b", "/api/v1/nodes/search?q=%00", "/org/households/?q=%00", "/api/v1/residents?q=x%00"],
)
def test_nul_bytes_are_refused(county, client_as, url):
    r = client_as(county.u_qian).get(url)
    assert r.status_code == 400
    if url.startswith("/api/"):
        assert r.json()["error"]["code"] == "malformed_request"


def test_nul_in_json_body_is_a_malformed_request(county):
    r = Client().post(
        "/api/v1/auth/token",
        data=json.dumps({"username": "li\x00", "password": "x"}),
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_request"
    assert ApiToken.objects.count() == 0


def test_api_unknown_path_and_method_use_the_error_shape(county, client_as):
    client = client_as(county.u_qian)
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/api/v1/households", data="{}", content_type="application/json")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_api_search_strips_whitespace(county, client_as):
    client = client_as(county.u_zhou)
    assert client.get("/api/v1/residents", {"q": "  张阿姨 "}).json()["count"] == 1
    r = client.get("/api/v1/nodes/search", {"q": "   "})
    assert r.status_code == 422


def test_page_404_is_translated(county, client_as):
    html = client_as(county.u_zhou).get(f"/org/households/{county.h_sun.pk}/").content.decode()
    assert "页面不存在" in html


# --- numbers, logs, tokens ------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["13812345678\n", "138１２３４５６７８", "1381234567"])
def test_phone_validator_refuses_odd_digits(phone):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_phone(phone)


def test_id_validator_refuses_fullwidth_and_newline():
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("11010519491231002X\n")
    assert not is_valid_id_number("１1010519491231002X")


def test_resident_home_never_shows_party_members_personal_phone(county, client_as):
    User.objects.filter(pk=county.u_liu.pk).update(work_phone="")
    html = client_as(county.u_zhang).get("/").content.decode()
    assert "刘党员" in html and "13900002222" not in html
    assert PersonalDataAccess.objects.count() == 0


def test_access_log_survives_attempts_to_delete_the_person(county, client_as):
    client_as(county.u_li).get(f"/api/v1/residents/{county.zhang.pk}")
    assert PersonalDataAccess.objects.filter(resident=county.zhang).exists()
    with pytest.raises(ProtectedError):
        PersonalDataAccess.objects.model.resident.field.related_model.objects.filter(pk=county.zhang.pk).delete()


def test_tokens_page_marks_expired_and_is_not_cached(county, client_as):
    accounts.token_create(user=county.u_li, name="old", expires_at=clock.now() - dt.timedelta(days=1))
    r = client_as(county.u_li).get("/accounts/tokens/")
    assert r["Cache-Control"] == "no-store"
    assert "已过期" in r.content.decode()


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_client_ip_behind_one_proxy():
    rf = RequestFactory()
    forged = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="127.0.0.1")
    assert client_ip(forged) == "203.0.113.7"  # the hop our proxy appended, not what the client wrote
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


def test_client_ip_without_proxy_ignores_forwarded_header():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="198.51.100.1")
    assert client_ip(request) == "198.51.100.1"
