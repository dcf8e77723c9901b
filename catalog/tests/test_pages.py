"""The published catalogue pages: public, searchable, and each item leads to the submit form."""

from __future__ import annotations

import re

from catalog.models import ServiceItem


def html(response) -> str:
    return response.content.decode()


def items(page: str) -> set[str]:
    return set(re.findall(r'data-item="([^"]+)"', page))


def test_catalogue_lists_published_items_for_anyone(world, client_as):
    ServiceItem.objects.filter(code="S008").update(is_published=False)
    r = client_as(None).get("/catalog/")
    assert r.status_code == 200
    page = html(r)
    assert items(page) == {f"S00{i}" for i in range(1, 8)}
    assert "残疾证代办" in page and "民政" in page and "纪检监察" in page  # items and the top-level categories
    assert "身份证" in page  # what to bring


def test_catalogue_search_and_filters(world, client_as):
    client = client_as(world.c.u_zhang)
    assert items(html(client.get("/catalog/", {"q": "残疾"}))) == {"S001"}
    assert items(html(client.get("/catalog/", {"q": "S005"}))) == {"S005"}
    assert items(html(client.get("/catalog/", {"category": "03"}))) == {"S001", "S002", "S003", "S004", "S005", "S006"}
    sub = html(client.get("/catalog/", {"category": "0302"}))
    assert items(sub) == {"S002", "S005"} and "养老服务" in sub
    assert items(html(client.get("/catalog/", {"mode": "online"}))) == {"S007"}
    assert items(html(client.get("/catalog/", {"level": "village"}))) == {"S005", "S006"}
    for bad in ({"level": "galaxy"}, {"mode": "x"}, {"category": "zz"}, {"page": "abc"}, {"q": "x" * 41}):
        r = client.get("/catalog/", bad)
        assert r.status_code == 200 and 'role="alert"' in html(r)


def test_item_page_links_to_the_submit_form_with_the_item(world, client_as):
    page = html(client_as(None).get("/catalog/items/S001/"))
    assert "残疾证代办" in page and "近期一寸照片" in page and "残疾类别" in page
    assert 'href="/workorders/new/?item=S001"' in page
    # Anonymous visitors are asked to log in first, then come back to the form with the item chosen.
    r = client_as(None).get("/workorders/new/", {"item": "S001"})
    assert r.status_code == 302 and "next=/workorders/new/%3Fitem%3DS001" in r["Location"]
    form = html(client_as(world.c.u_zhang).get("/workorders/new/", {"item": "S001"}))
    assert 'name="item" value="S001"' in form


def test_item_page_of_a_missing_or_withdrawn_item_is_404(world, client_as):
    ServiceItem.objects.filter(code="S002").update(is_published=False)
    assert client_as(None).get("/catalog/items/S002/").status_code == 404
    assert client_as(None).get("/catalog/items/NOPE/").status_code == 404
