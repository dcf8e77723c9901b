"""The tree: level rules, path ranges on both databases, path copies kept in step."""

from __future__ import annotations

import pytest
from django.db import connection

from org import services
from org.models import Household, Level, Node, PartyMember, Resident, path_range


def test_subtree_range_does_not_catch_sibling_with_longer_id(db):
    # "/1/5/" must not contain "/1/50/", and must contain "/1/5/9/": only byte order gets this right.
    rows = [
        Node(level=Level.GRID, kind="grid", name=p, code=p, path=p) for p in ["/1/5/", "/1/5/9/", "/1/50/", "/1/4/"]
    ]
    Node.objects.bulk_create(rows)
    inside = set(Node.objects.filter(path_range("/1/5/")).values_list("path", flat=True))
    assert inside == {"/1/5/", "/1/5/9/"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="collation is a PostgreSQL matter")
def test_path_columns_use_c_collation_on_postgresql(db):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name, collation_name FROM information_schema.columns "
            "WHERE column_name = 'path' AND table_name LIKE 'org_%%'"
        )
        rows = dict(cur.fetchall())
    assert rows and set(rows.values()) == {"C"}, rows


def test_level_rules(county):
    with pytest.raises(services.TreeError):
        services.node_create(parent=county.county, level=Level.GRID, kind="grid", name="x", code="x1")
    with pytest.raises(services.TreeError):
        services.node_create(parent=None, level=Level.TOWN, kind="town", name="x", code="x2")
    with pytest.raises(services.TreeError):
        services.nodes_bulk_create(parent=county.a1, items=[{"kind": "grid", "name": "x", "code": "x3"}])
    with pytest.raises(services.TreeError):
        services.household_create(grid=county.v1, address="not a grid")
    with pytest.raises(services.TreeError):
        services.households_bulk_create([Household(grid=county.v1, address="not a grid", tags=[])])
    with pytest.raises(ValueError, match="rich"):
        services.household_create(grid=county.a1, address="x", tags=["rich"])
    assert Node.objects.filter(code__startswith="x").count() == 0


def test_bulk_residents_are_validated(county):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.residents_bulk_create([Resident(household=county.h_liu, name="x", gender="M", phone="12345")])
    with pytest.raises(ValidationError):
        services.residents_bulk_create(
            [Resident(household=county.h_liu, name="x", gender="M", id_number="110105194912310021")]
        )
    assert Resident.objects.filter(name="x").count() == 0


def test_household_move_carries_path_copies(county):
    services.household_move(household=county.h_liu, grid=county.b1)
    assert set(Resident.objects.filter(household=county.h_liu).values_list("path", flat=True)) == {county.b1.path}
    assert PartyMember.objects.get(resident=county.liu).path == county.b1.path
    assert Household.objects.filter(county.v2.subtree_q()).count() == 2


def test_paths_and_tails_filled_by_services(county):
    assert county.a1.path == f"{county.county.path}{county.t1.pk}/{county.v1.pk}/{county.a1.pk}/"
    zhang = Resident.objects.get(pk=county.zhang.pk)
    assert zhang.path == county.a1.path and zhang.phone_tail == "1234"
