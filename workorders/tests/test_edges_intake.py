"""The submit page at its edges: a location outside the area served is refused, and the resident can clear
it and send again, keeping what she wrote — she does not have to start over."""

from __future__ import annotations

import re

import pytest

from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

NEW = "/workorders/new/"
OUTSIDE = ("39.904200", "116.407400")  # Beijing: far outside the test county


def html(response) -> str:
    return response.content.decode()


def hidden(page: str, name: str) -> str:
    m = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert m, f"the form carries {name}"
    return m.group(1)


def form_of(page: str, **extra: str) -> dict[str, str]:
    """What the browser posts from the drawn form: its hidden fields and the text, plus `extra`."""
    data = {name: hidden(page, name) for name in ("key", "kind", "cat", "lat", "lng")}
    m = re.search(r'<textarea id="text" name="text"[^>]*>([^<]*)</textarea>', page)
    data["text"] = m.group(1) if m else ""
    data.update(extra)
    return data


def test_a_rejected_location_can_be_cleared_and_the_appeal_sent(world, client_as):
    client = client_as(world.c.u_zhang)
    page = html(client.get(NEW, {"kind": "complaint", "cat": "0101"}))
    assert 'name="clear_location"' not in page  # nothing to clear yet
    lat, lng = OUTSIDE
    refused = client.post(NEW, {**form_of(page), "text": "村口路灯坏了三天", "lat": lat, "lng": lng})
    assert refused.status_code == 422
    page = html(refused)
    assert 'role="alert"' in page
    assert (hidden(page, "lat"), hidden(page, "lng")) == (lat, lng)  # still there…
    assert re.search(r'<input type="checkbox"[^>]* name="clear_location" value="1"', page)  # …and a way to drop it
    assert "村口路灯坏了三天" in page
    assert not WorkOrder.objects.exists()

    # She ticks "do not send this location" and sends again: placed in her home's grid.
    sent = client.post(NEW, form_of(page, clear_location="1"))
    assert sent.status_code == 302, html(sent)
    o = WorkOrder.objects.get()
    assert (o.lat, o.lng, o.grid.name, o.text) == (None, None, "A1湾组", "村口路灯坏了三天")


def test_a_cleared_location_stays_cleared_when_the_page_comes_back(world, client_as):
    """Another mistake on the same post (an empty description): the page returns without the location."""
    client = client_as(world.c.u_zhang)
    page = html(client.get(NEW, {"kind": "complaint", "cat": "0101"}))
    lat, lng = OUTSIDE
    r = client.post(NEW, form_of(page, text=" ", lat=lat, lng=lng, clear_location="1"))
    assert r.status_code == 422
    page = html(r)
    assert (hidden(page, "lat"), hidden(page, "lng")) == ("", "")
    assert 'name="clear_location"' not in page
    assert "lies outside" not in page and "服务范围" not in page  # the location was not judged at all
    assert client.post(NEW, form_of(page, text="路灯坏了")).status_code == 302
    assert WorkOrder.objects.get().lat is None


def test_a_location_inside_the_area_can_be_left_out_too(world, client_as):
    client = client_as(world.c.u_zhang)
    page = html(client.get(NEW, {"kind": "complaint", "cat": "0101", "lat": "31.180100", "lng": "115.020200"}))
    assert hidden(page, "lat") == "31.180100" and 'name="clear_location"' in page
    r = client.post(NEW, form_of(page, text="路灯坏了", clear_location="1"))
    assert r.status_code == 302, html(r)
    assert WorkOrder.objects.get().lat is None
    # Unticked, the location is used.
    page = html(client.get(NEW, {"kind": "complaint", "cat": "0101", "lat": "31.180100", "lng": "115.020200"}))
    r = client.post(NEW, form_of(page, text="另一盏路灯坏了"))
    assert r.status_code == 302, html(r)
    assert str(WorkOrder.objects.latest("id").lat) == "31.180100"
