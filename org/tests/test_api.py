"""The county API: shapes, pagination, filters, bad input, the OpenAPI document."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from org import services
from org.models import Household


def test_household_list_shape_and_pagination(county, client_as):
    client = client_as(county.u_zhou)
    first = client.get("/api/v1/households", {"page_size": 2}).json()
    assert first["count"] == 3 and first["pages"] == 2 and len(first["items"]) == 2
    second = client.get("/api/v1/households", {"page_size": 2, "page": 2}).json()
    assert len(second["items"]) == 1
    row = next(r for r in first["items"] + second["items"] if r["id"] == county.h_zhang.pk)
    assert row == {
        "id": county.h_zhang.pk,
        "address": "东村A1湾组1号",
        "number": "1",
        "grid": {"id": county.a1.pk, "name": "A1湾组"},
        "tags": ["elderly_alone"],
        "head_name": "张阿姨",
        "member_count": None,
    }
    # Past the end: an empty page, not an error.
    assert client.get("/api/v1/households", {"page": 9}).json()["items"] == []


def test_household_filters(county, client_as):
    client = client_as(county.u_qian)
    tagged = client.get("/api/v1/households", {"tag": "disabled"}).json()
    assert [r["id"] for r in tagged["items"]] == [county.h_chen.pk]
    in_grid = client.get("/api/v1/households", {"node": county.a1.pk}).json()
    assert {r["id"] for r in in_grid["items"]} == {county.h_zhang.pk, county.h_liu.pk}
    by_name = client.get("/api/v1/households", {"q": "刘小宝"}).json()
    assert [r["id"] for r in by_name["items"]] == [county.h_liu.pk]


def test_household_detail(county, client_as):
    data = client_as(county.u_li).get(f"/api/v1/households/{county.h_liu.pk}").json()
    assert data["member_count"] == 3 and data["head_name"] == "刘党员"
    assert [b["name"] for b in data["breadcrumb"]] == ["测试市", "东镇", "东村"]
    assert {m["relation"] for m in data["members"]} == {"head", "spouse", "child"}
    child = next(m for m in data["members"] if m["relation"] == "child")
    assert child["phone"] == "" and child["age"] is not None
    assert client_as(county.u_li).get(f"/api/v1/households/{county.h_zhang.pk}").json()["party_member"] == "刘党员"


def test_node_detail_stats_and_breadcrumb(county, client_as):
    data = client_as(county.u_qian).get(f"/api/v1/nodes/{county.t1.pk}").json()
    assert data["stats"] == {"towns": 0, "villages": 2, "grids": 3, "households": 4, "residents": 6}
    assert [b["name"] for b in data["breadcrumb"]] == ["测试市"]
    assert data["level_label"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/households", {"page": 0}, "page"),
        ("/api/v1/households", {"page": "abc"}, "page"),
        ("/api/v1/households", {"page": 10_001}, "page"),
        ("/api/v1/households", {"page_size": 101}, "page_size"),
        ("/api/v1/households", {"page_size": -1}, "page_size"),
        ("/api/v1/households", {"q": "x" * 51}, "q"),
        ("/api/v1/households", {"tag": "rich"}, "tag"),
        ("/api/v1/households", {"node": "east"}, "node"),
        ("/api/v1/residents", {"q": "张" * 51}, "q"),
        ("/api/v1/nodes/search", {}, "q"),
        ("/api/v1/nodes/search", {"q": "村", "level": 99}, "level"),
        ("/api/v1/departments", {"level": "province"}, "level"),
        ("/api/v1/service-points", {"kind": "bar"}, "kind"),
    ],
)
def test_bad_query_parameters_are_422(county, client_as, url, params, field):
    r = client_as(county.u_qian).get(url, params)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["code"] == "validation_error"
    assert field in r.json()["error"]["fields"]


def test_bad_path_id_is_404_or_422(county, client_as):
    client = client_as(county.u_qian)
    assert client.get("/api/v1/households/abc").status_code in (404, 422)
    r = client.get("/api/v1/households/0")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_departments_and_service_points(county, client_as):
    client = client_as(county.u_zhang)  # even a resident may read who does what and where
    depts = client.get("/api/v1/departments").json()
    assert [d["name"] for d in depts["items"]] == ["民政局"]
    assert client.get(f"/api/v1/departments/{county.civil_affairs.pk}").json()["code"] == "D01"
    assert client.get("/api/v1/departments/999").status_code == 404
    points = client.get("/api/v1/service-points").json()
    assert points["items"][0]["name"] == "东村党群服务中心"
    assert points["items"][0]["kind_label"]
    # The resident sees their own village for filtering, but not another town's.
    assert client.get("/api/v1/service-points", {"node": county.v1.pk}).json()["count"] == 1
    assert client.get("/api/v1/service-points", {"node": county.v3.pk}).status_code == 404


def test_list_query_count_does_not_grow_with_rows(county, client_as):
    client = client_as(county.u_qian)
    client.get("/api/v1/households")  # warm up the session and scope
    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/households")
    for i in range(30):
        services.household_create(grid=county.a2, address=f"东村A2湾组{100 + i}号")
    with CaptureQueriesContext(connection) as big:
        client.get("/api/v1/households")
    assert len(big) == len(small)
    assert Household.objects.count() == 35


def test_openapi_document_lists_the_endpoints(client_as, county):
    doc = client_as(county.u_qian).get("/api/v1/openapi.json").json()
    paths = set(doc["paths"])
    for p in [
        "/api/v1/me",
        "/api/v1/auth/token",
        "/api/v1/tokens",
        "/api/v1/nodes",
        "/api/v1/nodes/search",
        "/api/v1/nodes/{node_id}",
        "/api/v1/households",
        "/api/v1/households/{household_id}",
        "/api/v1/residents",
        "/api/v1/residents/{resident_id}",
        "/api/v1/departments",
        "/api/v1/service-points",
    ]:
        assert p in paths, p
    assert client_as(county.u_qian).get("/api/v1/docs").status_code == 200


def test_api_docs_load_nothing_from_the_internet(county, client_as):
    html = client_as(county.u_qian).get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html.replace("http://testserver", "")


def test_resident_list_query_count_does_not_grow(county, client_as):
    client = client_as(county.u_qian)
    client.get("/api/v1/residents")
    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/residents")
    for i in range(20):
        services.resident_create(household=county.h_chen, name=f"新人{i}", gender="F")
    client.get("/api/v1/residents")  # the register changed: the viewer's scope is read again once
    with CaptureQueriesContext(connection) as big:
        client.get("/api/v1/residents")
    assert len(big) == len(small)
