"""Place names as people say them: 一组 is in every village, so a grid is named with its town and village."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from org.models import Node
from org.selectors import place

pytestmark = pytest.mark.django_db


def test_a_grid_is_named_with_its_town_and_village(county) -> None:
    assert place(county.a1) == f"{county.t1.name}·{county.v1.name}·{county.a1.name}"
    assert place(county.v1) == f"{county.t1.name}·{county.v1.name}"
    assert place(county.t1) == county.t1.name
    assert place(None) == ""
    assert Template("{% load places %}{{ g|place }}").render(Context({"g": county.a1})).startswith(county.t1.name)


def test_a_renamed_village_is_named_anew(county) -> None:
    assert county.v1.name in place(county.a1)
    v1 = Node.objects.get(pk=county.v1.pk)
    v1.name = "新村"
    v1.save()
    assert place(Node.objects.get(pk=county.a1.pk)) == f"{county.t1.name}·新村·{county.a1.name}"


def test_the_dispatchers_list_names_the_grid_with_its_village(world, client_as) -> None:
    import json

    from workorders.tests.helpers import intake_body

    c = world.c
    r = client_as(c.u_zhang).post("/api/v1/workorders", json.dumps(intake_body()), content_type="application/json")
    assert r.status_code == 201
    page = client_as(c.u_zhao).get("/workorders/console/").content.decode()
    assert place(c.a1) in page
