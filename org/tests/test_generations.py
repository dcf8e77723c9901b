"""A change throws away only the in-memory copies it touches (core.memo): a resident's edit leaves the tree's
copies (grid centres, place names, the hotline's maps) alone; a change to the tree drops both the tree's
copies and users' scopes, which are read from the tree."""

from __future__ import annotations

import pytest

from core.memo import memo
from core.models import Generation
from org import services
from org.models import Resident

pytestmark = pytest.mark.django_db


def _counters() -> dict[str, int]:
    return dict(Generation.objects.filter(name__in=["tree", "org"]).values_list("name", "value"))


def test_a_residents_edit_keeps_the_grid_index(world, django_assert_num_queries):
    """Intake locates every report in the grid centres kept in memory: a resident changing their phone number
    used to make every process read all the grids again."""
    from workorders.services.intake import locate_grid

    c = world.c
    a1 = c.a1
    assert locate_grid(a1.lat, a1.lng).pk == a1.pk  # the index is built
    index = memo("tree")._entries["grid-index"]
    before = _counters()
    r = Resident.objects.get(pk=c.zhang.pk)
    r.phone = "13800009999"
    r.save()
    after = _counters()
    assert after.get("tree", 0) == before.get("tree", 0) and after["org"] > before.get("org", 0)
    assert locate_grid(a1.lat, a1.lng).pk == a1.pk
    assert memo("tree")._entries["grid-index"] is index  # the same copy: not read again


def test_a_change_to_the_tree_drops_the_trees_copies_and_the_scopes(world):
    c = world.c
    before = _counters()
    memo("tree").get("probe", lambda: "old")
    services.node_update(node=c.v1, name="东村（新名）")
    after = _counters()
    assert after["tree"] > before.get("tree", 0) and after["org"] > before.get("org", 0)
    assert memo("tree").get("probe", lambda: "new") == "new"
