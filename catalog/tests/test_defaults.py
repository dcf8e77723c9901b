"""The default catalogue follows 12345 practice: fifteen areas, each three levels deep, codes nested in their
parents' codes, and loading it twice adds nothing."""

from __future__ import annotations

import pytest

from catalog import defaults
from catalog.models import Category, TimeClass

AREAS = (
    "城乡建设", "环境保护", "民政", "农村农业", "政法", "劳动和社会保障", "交通运输", "教育文体", "商贸旅游",
    "卫生计生", "党务政务", "经济管理", "国土资源", "科技与信息产业", "纪检监察",
)  # fmt: skip


def walk(nodes: list, parent: str = "", depth: int = 1):
    """(code, name, time class, parent code, depth, number of children) for every node of the tree."""
    for code, name, time_class, *rest in nodes:
        children = rest[0] if rest else []
        yield code, name, time_class, parent, depth, len(children)
        yield from walk(children, code, depth + 1)


def test_the_tree_has_the_12345_areas_and_other():
    names = [name for _code, name, _tc, _children in defaults.TREE]
    assert names == [*AREAS, "其他"]
    assert [code for code, *_ in defaults.TREE] == [f"{i:02d}" for i in range(1, 16)] + ["99"]


def test_every_area_has_second_and_third_levels():
    for _code, name, _tc, children in defaults.TREE:
        assert children, name
        for _code2, name2, _tc2, leaves in children:
            assert leaves, (name, name2)
            assert all(len(leaf) == 3 for leaf in leaves), (name, name2)  # nothing below the third level


def test_codes_are_unique_and_nested_in_their_parents():
    nodes = list(walk(defaults.TREE))
    codes = [code for code, *_ in nodes]
    assert len(codes) == len(set(codes))
    for code, name, time_class, parent, depth, _n in nodes:
        assert len(code) == 2 * depth and code.isdigit(), (code, name)
        assert code.startswith(parent), (code, parent)
        assert time_class in ("", *TimeClass.values), code
        assert 0 < len(name) <= 40, code
    leaves = [n for n in nodes if n[4] == 3]
    assert 120 <= len(leaves) <= 200


def test_codes_the_rest_of_the_system_relies_on_keep_their_place():
    nodes = {code: (name, parent) for code, name, _tc, parent, _d, _n in walk(defaults.TREE)}
    for code in ("01", "0101", "010101", "03", "0302", "030201", "0501", "050101", "990101"):
        assert code in nodes
    for _code, _name, cat_code, *_ in defaults.ITEMS:
        assert nodes[cat_code][1] == cat_code[:4]  # service items point at leaves
    assert nodes["0102"] == ("供水供电", "01") and nodes["0501"] == ("矛盾纠纷", "05")


@pytest.mark.django_db
def test_load_defaults_twice_adds_nothing_the_second_time(county):
    before = Category.objects.count()  # any a migration made
    added, items = defaults.load_defaults()
    assert added == len(list(walk(defaults.TREE))) == Category.objects.count() - before
    assert items == len(defaults.ITEMS)
    assert defaults.load_defaults() == (0, 0)
    assert Category.objects.count() == before + added
    cats = {c.code: c for c in Category.objects.select_related("parent")}
    for code, name, time_class, parent, depth, _n in walk(defaults.TREE):
        c = cats[code]
        assert (c.name, c.time_class, c.level) == (name, time_class, depth)
        assert (c.parent.code if c.parent else "") == parent
    # A missing category, even an inner one, comes back under its parent.
    Category.objects.filter(code="150202").delete()
    assert defaults.load_defaults() == (1, 0)
    assert Category.objects.get(code="150202").parent == cats["1502"]
