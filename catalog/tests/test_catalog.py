"""The catalogue: time limits and dispatch rules as data, the item form checks, the public API and the
default load."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog import defaults, services
from catalog.models import (
    Category,
    DispatchRule,
    FieldType,
    LimitUnit,
    ServiceItem,
    TimeClass,
    TimeLimitRule,
    Urgency,
)
from core.errors import ValidationFailed
from org.models import Level

pytestmark = pytest.mark.django_db


@pytest.fixture
def cat(county):
    """The default catalogue, by code."""
    defaults.load_defaults()
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def items(cat):
    return {i.code: i for i in ServiceItem.objects.all()}


# --- time limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_class", "urgency", "rule", "amount", "unit", "respond"),
    [
        (TimeClass.GENERAL, Urgency.NORMAL, "一般诉求", 7, LimitUnit.WORKING_DAYS, "4"),
        (TimeClass.COMPLEX, Urgency.NORMAL, "复杂诉求", 15, LimitUnit.WORKING_DAYS, "4"),
        (TimeClass.UTILITY, Urgency.NORMAL, "水电气暖", 24, LimitUnit.HOURS, "1"),
        (TimeClass.GENERAL, Urgency.URGENT, "加急诉求", 3, LimitUnit.WORKING_DAYS, "1"),
        (TimeClass.GENERAL, Urgency.EMERGENCY, "紧急诉求", 2, LimitUnit.WORKING_HOURS, "0.5"),
        # A rule naming both beats either: an emergency power cut has 2 hours on the clock, an urgent one 12.
        (TimeClass.UTILITY, Urgency.EMERGENCY, "水电气暖（紧急）", 2, LimitUnit.HOURS, "0.25"),
        (TimeClass.UTILITY, Urgency.URGENT, "水电气暖（加急）", 12, LimitUnit.HOURS, "0.5"),
        # A rule naming the urgency beats one naming the class.
        (TimeClass.COMPLEX, Urgency.EMERGENCY, "紧急诉求", 2, LimitUnit.WORKING_HOURS, "0.5"),
    ],
)
def test_limits_for_picks_the_most_specific_rule(db, time_class, urgency, rule, amount, unit, respond):
    lim = services.limits_for(time_class=time_class, urgency=urgency)
    assert (lim.rule_name, lim.resolve_amount, lim.resolve_unit, lim.respond_hours, lim.warn_percent) == (
        rule,
        amount,
        unit,
        Decimal(respond),
        75,
    )


def test_a_rule_naming_both_class_and_urgency_beats_both(db):
    TimeLimitRule.objects.filter(time_class=TimeClass.UTILITY, urgency=Urgency.EMERGENCY).update(is_active=False)
    TimeLimitRule.objects.create(
        name="停电紧急",
        time_class=TimeClass.UTILITY,
        urgency=Urgency.EMERGENCY,
        respond_hours=Decimal("0.25"),
        resolve_amount=4,
        resolve_unit=LimitUnit.HOURS,
        warn_percent=50,
    )
    lim = services.limits_for(time_class=TimeClass.UTILITY, urgency=Urgency.EMERGENCY)
    assert (lim.rule_name, lim.resolve_amount, lim.resolve_unit, lim.warn_percent) == ("停电紧急", 4, "hours", 50)
    assert services.limits_for(time_class=TimeClass.GENERAL, urgency=Urgency.EMERGENCY).rule_name == "紧急诉求"


def test_inactive_rules_are_ignored_and_nothing_falls_back_to_the_default(db):
    TimeLimitRule.objects.filter(name="复杂诉求").update(is_active=False)
    assert services.limits_for(time_class=TimeClass.COMPLEX, urgency=Urgency.NORMAL).rule_name == "default"
    TimeLimitRule.objects.all().delete()
    assert services.limits_for(time_class=TimeClass.GENERAL, urgency=Urgency.NORMAL) == services.DEFAULT_LIMITS


def test_a_service_items_promised_days_replace_the_completion_limit_for_normal_urgency(items):
    s002 = items["S002"]  # 10 working days
    lim = services.limits_for(time_class=TimeClass.GENERAL, urgency=Urgency.NORMAL, item=s002)
    assert (lim.resolve_amount, lim.resolve_unit, lim.respond_hours, lim.rule_name) == (
        10,
        LimitUnit.WORKING_DAYS,
        Decimal(4),
        "S002",
    )
    # An urgent or emergency service order keeps the faster limit.
    assert services.limits_for(time_class=TimeClass.GENERAL, urgency=Urgency.URGENT, item=s002).resolve_amount == 3
    assert services.limits_for(time_class=TimeClass.GENERAL, urgency=Urgency.EMERGENCY, item=s002).resolve_unit == (
        LimitUnit.WORKING_HOURS
    )


def test_the_time_class_is_inherited_down_the_tree(cat):
    assert services.effective_time_class(cat["010202"]) == TimeClass.UTILITY  # 停电 under 供水供电
    assert services.effective_time_class(cat["050101"]) == TimeClass.COMPLEX
    assert services.effective_time_class(cat["010101"]) == TimeClass.GENERAL
    assert services.effective_time_class(None) == TimeClass.GENERAL
    # The child's own class wins over the parent's.
    Category.objects.filter(code="010203").update(time_class=TimeClass.COMPLEX)
    assert services.effective_time_class(Category.objects.get(code="010203")) == TimeClass.COMPLEX


# --- dispatch rules ------------------------------------------------------------------------------------


@pytest.fixture
def housing(county):
    from org import services as org

    return org.department_create(name="住建局", code="D02", level="county", jurisdiction=county.county)


def rule(name, **kw):
    return DispatchRule.objects.create(name=name, **kw)


def test_item_rule_beats_category_rule_beats_fallback(county, cat, items, housing):
    civil = county.civil_affairs
    rule("兜底→镇", handle_at_level=Level.TOWN, priority=999)
    rule("民生→民政", category=cat["03"], department=civil)
    rule("残疾证→住建", item=items["S001"], department=housing)
    a1 = county.a1
    s = services.suggest_unit(category=cat["030301"], item=items["S001"], grid=a1)
    assert (s.department, s.node, s.rule.name) == (housing, None, "残疾证→住建")
    s = services.suggest_unit(category=cat["030301"], item=None, grid=a1)
    assert (s.department, s.rule.name) == (civil, "民生→民政")
    s = services.suggest_unit(category=cat["030201"], item=items["S002"], grid=a1)  # another item: category
    assert s.department == civil
    s = services.suggest_unit(category=cat["010101"], item=None, grid=a1)  # nothing else: the fallback
    assert (s.department, s.node, s.rule.name) == (None, county.t1, "兜底→镇")


def test_the_deepest_category_wins(county, cat, housing):
    civil = county.civil_affairs
    rule("城乡建设→民政", category=cat["01"], department=civil)
    rule("路灯→住建", category=cat["010101"], department=housing)
    rule("市政设施→镇", category=cat["0101"], handle_at_level=Level.TOWN)
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.a1).department == housing
    assert services.suggest_unit(category=cat["010102"], item=None, grid=county.a1).node == county.t1
    assert services.suggest_unit(category=cat["010202"], item=None, grid=county.a1).department == civil
    assert services.suggest_unit(category=cat["020101"], item=None, grid=county.a1).rule is None


def test_area_rules(county, cat, housing):
    civil = county.civil_affairs
    rule("市政设施→住建", category=cat["0101"], department=housing)
    rule("南镇市政设施→民政", category=cat["0101"], area=county.t2, department=civil)
    rule("东村市政设施→村", category=cat["0101"], area=county.v1, handle_at_level=Level.VILLAGE)
    # The deepest area among equally specific categories.
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.c1).department == civil
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.a1).node == county.v1
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.b1).department == housing
    # A deeper category anywhere beats a shallower one nearby.
    rule("路灯→住建", category=cat["010101"], department=housing)
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.c1).department == housing


def test_a_local_level_rule_resolves_to_the_orders_own_unit(county, cat):
    rule("纠纷→村", category=cat["0501"], handle_at_level=Level.VILLAGE)
    rule("安全→网格", category=cat["0502"], handle_at_level=Level.GRID)
    assert services.suggest_unit(category=cat["050101"], item=None, grid=county.a1).node == county.v1
    assert services.suggest_unit(category=cat["050101"], item=None, grid=county.a2).node == county.v1
    assert services.suggest_unit(category=cat["050101"], item=None, grid=county.b1).node == county.v2
    assert services.suggest_unit(category=cat["050101"], item=None, grid=county.c1).node == county.v3
    assert services.suggest_unit(category=cat["050201"], item=None, grid=county.c1).node == county.c1
    # With no place there is no local unit to name.
    assert services.suggest_unit(category=cat["050101"], item=None, grid=None).node is None


def test_priority_breaks_ties_and_inactive_rules_do_not_count(county, cat, housing):
    civil = county.civil_affairs
    rule("b", category=cat["0101"], department=civil, priority=20)
    r = rule("a", category=cat["0101"], department=housing, priority=10)
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.a1).department == housing
    r.is_active = False
    r.save()
    assert services.suggest_unit(category=cat["010101"], item=None, grid=county.a1).department == civil


def test_a_rule_has_exactly_one_target(county, cat, housing):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        rule("both", category=cat["01"], department=housing, handle_at_level=Level.TOWN)
    with pytest.raises(IntegrityError), transaction.atomic():
        rule("neither", category=cat["01"])


# --- item forms ------------------------------------------------------------------------------------


@pytest.fixture
def form_item(cat):
    return services.service_item_create(
        code="T001",
        name="测试事项",
        category=cat["990101"],
        form_fields=[
            {"name": "note", "label": "说明", "type": FieldType.TEXT},
            {"name": "count", "label": "人数", "type": FieldType.NUMBER, "required": True},
            {"name": "day", "label": "日期", "type": FieldType.DATE},
            {"name": "kind", "label": "类别", "type": FieldType.CHOICE, "choices": ["甲", "乙"]},
            {"name": "urgent", "label": "是否加急", "type": FieldType.BOOL},
        ],
    )


@pytest.mark.parametrize(
    ("data", "cleaned"),
    [
        ({"count": 3}, {"count": 3}),
        (
            {"count": 2.5, "note": "好", "kind": "乙", "urgent": False},
            {"count": 2.5, "note": "好", "kind": "乙", "urgent": False},
        ),
        ({"count": 1, "day": "2026-10-10"}, {"count": 1, "day": "2026-10-10"}),
        ({"count": 1, "note": "", "day": None}, {"count": 1}),  # empty optional answers are dropped
    ],
)
def test_clean_form_data_accepts(form_item, data, cleaned):
    assert services.clean_form_data(form_item, data) == cleaned


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "form_data.count"),
        ({"count": ""}, "form_data.count"),
        ({"count": "3"}, "form_data.count"),
        ({"count": True}, "form_data.count"),
        ({"count": float("nan")}, "form_data.count"),
        ({"count": float("inf")}, "form_data.count"),
        ({"count": 1, "note": 5}, "form_data.note"),
        ({"count": 1, "note": "字" * 501}, "form_data.note"),
        ({"count": 1, "day": "10/10/2026"}, "form_data.day"),
        ({"count": 1, "day": "2026-02-30"}, "form_data.day"),
        ({"count": 1, "kind": "丙"}, "form_data.kind"),
        ({"count": 1, "urgent": "yes"}, "form_data.urgent"),
        ({"count": 1, "extra": "x"}, "form_data.extra"),
    ],
)
def test_clean_form_data_refuses_naming_the_field(form_item, data, field):
    with pytest.raises(ValidationFailed) as exc:
        services.clean_form_data(form_item, data)
    assert field in exc.value.fields


def test_clean_form_data_without_an_item(db):
    assert services.clean_form_data(None, {}) == {}
    with pytest.raises(ValidationFailed) as exc:
        services.clean_form_data(None, {"x": 1})
    assert "form_data" in exc.value.fields


@pytest.mark.parametrize(
    "fields",
    [
        [{"name": "a", "type": "text"}, {"name": "a", "type": "text"}],  # duplicate name
        [{"name": "not an identifier", "type": "text"}],
        [{"name": "a", "type": "colour"}],
        [{"name": "a", "type": "choice"}],  # a choice without choices
        [{"name": f"f{i}", "type": "text"} for i in range(services.MAX_FORM_FIELDS + 1)],
    ],
)
def test_bad_form_field_definitions_are_refused(cat, fields):
    with pytest.raises(ValidationFailed):
        services.service_item_create(code="T002", name="x", category=cat["990101"], form_fields=fields)
    assert not ServiceItem.objects.filter(code="T002").exists()


def test_categories_have_three_levels_at_most(cat):
    with pytest.raises(ValidationFailed):
        services.category_create(code="01010101", name="第四级", parent=cat["010101"])
    with pytest.raises(ValidationFailed):
        services.category_create(code="88", name="x", time_class="sometimes")
    c = services.category_create(code="88", name="一级", time_class=TimeClass.GENERAL)
    assert c.level == 1


# --- the public catalogue API ----------------------------------------------------------------------


def test_the_category_tree_is_public_and_three_levels_deep(cat, client):
    r = client.get("/api/v1/catalog/categories")
    assert r.status_code == 200
    full = r.json()
    tree = [t for t in full if t["code"] != "00"]  # 待分类, made by a migration rather than the defaults
    assert [t["code"] for t in tree] == [f"{i:02d}" for i in range(1, 16)] + ["99"]
    city = tree[0]
    assert (city["name"], city["level"], city["parent_id"]) == ("城乡建设", 1, None)
    assert [c["code"] for c in city["children"]] == [f"01{i:02d}" for i in range(1, 9)]
    leaf = city["children"][0]["children"][0]
    assert (leaf["code"], leaf["name"], leaf["level"], leaf["children"]) == ("010101", "路灯损坏", 3, [])
    assert city["children"][1]["time_class"] == TimeClass.UTILITY

    def count(nodes):
        return sum(1 + count(n["children"]) for n in nodes)

    assert count(full) == Category.objects.count()
    # Retired categories disappear from the tree.
    Category.objects.filter(code="010103").update(is_active=False)
    city = next(t for t in client.get("/api/v1/catalog/categories").json() if t["code"] == "01")
    assert "010103" not in [leaf["code"] for leaf in city["children"][0]["children"]]


def test_the_item_list_is_public_and_filters(items, cat, client):
    r = client.get("/api/v1/catalog/items")
    assert r.status_code == 200
    data = r.json()
    assert data["count"] == len(items) == 8
    s001 = next(i for i in data["items"] if i["code"] == "S001")
    assert (s001["name"], s001["category_name"], s001["mode"], s001["level"], s001["promised_days"]) == (
        "残疾证代办",
        "残疾证办理",
        "proxy",
        "county",
        15,
    )
    assert s001["materials"] == ["身份证", "户口簿", "近期一寸照片"]
    assert s001["form_fields"][0]["name"] == "disability_kind" and s001["form_fields"][0]["required"] is True

    def codes(query):
        r = client.get(f"/api/v1/catalog/items?{query}")
        assert r.status_code == 200, r.content
        return [i["code"] for i in r.json()["items"]]

    assert codes(f"category={cat['03'].pk}") == ["S001", "S002", "S003", "S004", "S005", "S006"]  # a top level
    assert codes(f"category={cat['0303'].pk}") == ["S001"]
    assert codes(f"category={cat['030402'].pk}") == ["S006"]
    assert codes("level=town") == ["S002", "S003", "S008"]
    assert codes("mode=online") == ["S007"]
    assert codes("q=代办") == ["S001", "S003", "S004"]
    assert codes("q=S005") == ["S005"]
    assert codes("q=居家") == ["S005"]  # by its category's name too (居家养老)
    assert codes("page_size=3&page=3") == ["S007", "S008"]
    for bad in ("level=province", "mode=magic", "category=0", "page_size=1000"):
        assert client.get(f"/api/v1/catalog/items?{bad}").status_code == 422, bad
    # Unpublished items are not listed.
    ServiceItem.objects.filter(code="S008").update(is_published=False)
    assert "S008" not in codes("")


def test_one_item_by_code(items, client):
    r = client.get("/api/v1/catalog/items/S003")
    assert r.status_code == 200
    assert r.json()["form_fields"] == [
        {"name": "members", "label": "家庭人口", "type": "number", "required": True, "choices": []}
    ]
    missing = client.get("/api/v1/catalog/items/S999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    ServiceItem.objects.filter(code="S003").update(is_published=False)
    assert client.get("/api/v1/catalog/items/S003").status_code == 404
    assert client.get("/api/v1/catalog/items/" + "S" * 200).status_code == 404


def test_load_defaults_is_idempotent(county):
    before = Category.objects.count()  # any a migration made
    first = defaults.load_defaults()
    n_cat, n_items = Category.objects.count(), ServiceItem.objects.count()
    assert first == (n_cat - before, n_items) == (16 + 74 + 180, 8)  # areas, second levels, leaves; items
    assert defaults.load_defaults() == (0, 0)
    assert (Category.objects.count(), ServiceItem.objects.count()) == (n_cat, n_items)
    # A county's edits survive a second load; a deleted default comes back.
    Category.objects.filter(code="010101").update(name="路灯不亮")
    ServiceItem.objects.filter(code="S008").delete()
    assert defaults.load_defaults() == (0, 1)
    assert Category.objects.get(code="010101").name == "路灯不亮"
    # Levels and parents are consistent.
    for c in Category.objects.select_related("parent"):
        assert c.level == (1 if c.parent is None else c.parent.level + 1)
