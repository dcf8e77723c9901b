"""Smart dispatch on work orders: free text without a category, the text model's guess at intake, auto-dispatch
only above the threshold and only where allowed, a dispatcher's corrections kept for the next training, the
training command on generated history, and the accuracy report."""

from __future__ import annotations

import json
import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import UNCLASSIFIED, Category
from core.errors import ValidationFailed
from org.models import Level
from triage import services as triage
from triage.models import Classifier
from workorders import services
from workorders.models import Event, WorkOrder
from workorders.services import Unit, routing
from workorders.states import State
from workorders.tests.helpers import error_code, fresh, intake_body, post, submit

PLACES = ["村口", "小学门口", "桥头", "三组", "卫生室旁边", "菜市场", "老屋场", "新农村小区"]
OPENERS = ["", "你好，", "市民来电反映：", "麻烦问一下，", "诉求人称，"]
CLOSERS = ["", "希望尽快处理。", "请相关部门管一管。", "谢谢！", "已经好几天了。"]
# (category code, unit label maker, core phrases): three matters a county really gets, said many ways.
MATTERS = {
    "010101": ["路灯不亮", "路灯坏了晚上黑漆漆的", "灯杆上的灯一直闪", "路灯晚上不开", "好几盏路灯都熄了"],
    "020101": ["垃圾没人清运", "垃圾桶满了发臭", "垃圾堆在路边没人拉走", "垃圾池好多天没清", "生活垃圾乱堆"],
    "030201": ["高龄津贴没有发", "八十岁老人补贴怎么申请", "老人高龄补助停发了", "高龄津贴到哪里领",
               "九十岁的补贴少了"],
}  # fmt: skip


def appeal(code: str, rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)}{rng.choice(PLACES)}{rng.choice(MATTERS[code])}，{rng.choice(CLOSERS)}"


def units(world) -> dict[str, str]:
    return {
        "010101": f"dept:{world.housing.pk}",
        "020101": "level:5",
        "030201": f"dept:{world.c.civil_affairs.pk}",
    }


def rows(world, n: int = 40, seed: int = 1) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    u = units(world)
    return [(appeal(code, rng), code, u[code]) for code in MATTERS for _ in range(n)]


@pytest.fixture
def model(world):
    """A model trained on generated history, made current."""
    return triage.classifier_store(trained=triage.train(rows(world), seed=0), orders=120)


# --- free text ---------------------------------------------------------------------------------------


def test_free_text_without_a_category_is_filed_as_to_be_classified(world):
    o = submit(world, category=None, text="小区电梯坏了三天，老人上不了楼")
    o = fresh(o)
    assert o.category.code == UNCLASSIFIED and o.category.name == "待分类"
    assert o.title == "小区电梯坏了三天，老人上不了楼"  # the text's start, not "待分类：…"
    assert o.model_version is None and o.suggested_category is None  # no model trained yet
    assert o.suggested_department is None and o.suggested_node is not None  # the rules' fallback (兜底→镇)


def test_the_api_takes_free_text_of_10000_characters_and_refuses_more(world, client_as):
    c = client_as(world.c.u_zhang)
    body = intake_body(text="路" * 10_000)
    del body["category"]
    r = post(c, "/api/v1/workorders", body)
    assert r.status_code == 201, r.content
    assert r.json()["order"]["category_name"] == "待分类"
    before = WorkOrder.objects.count()
    r = post(c, "/api/v1/workorders", body | {"text": "路" * 10_001})
    assert r.status_code in (400, 422) and WorkOrder.objects.count() == before


def test_the_resident_page_offers_a_not_sure_tile_that_files_free_text(world, client_as):
    c = client_as(world.c.u_zhang)
    page = c.get("/workorders/new/").content.decode()
    assert f'data-category="{UNCLASSIFIED}"' in page and "直接描述" in page
    english = client_as(world.c.u_zhang, lang="en").get("/workorders/new/").content.decode()
    assert "Not sure which? Just describe it" in english


# --- the model's guess at intake ------------------------------------------------------------------------


def test_a_trained_model_guesses_category_and_unit_of_unseen_words(world, model):
    o = fresh(submit(world, category=None, text="我们新农村小区门口那几盏路灯晚上全都不亮，走路摔了一跤"))
    assert o.model_version == model.pk
    assert o.suggested_category.code == "010101"
    assert o.category_confidence > 0.5
    assert o.suggested_department == world.housing  # the model's unit (or the rules' for its category)
    assert o.category.code == UNCLASSIFIED and o.state == State.SUBMITTED  # auto-dispatch is off by default
    o2 = fresh(submit(world, category=None, text="爷爷今年满八十了，高龄补贴到哪里去办"))
    assert o2.suggested_category.code == "030201" and o2.suggested_department == world.c.civil_affairs


def test_a_guess_torn_between_siblings_goes_up_a_level(world):
    """高龄津贴, 居家养老 and 养老机构 told in the same words in the county's history: the model cannot tell
    them apart, so it suggests their parent 养老服务, which it is sure of (and which the rules route), not a
    coin toss."""
    rng = random.Random(3)
    history = rows(world)
    for sibling in ("030202", "030203"):
        history += [(appeal("030201", rng), sibling, f"dept:{world.c.civil_affairs.pk}") for _ in range(40)]
    triage.classifier_store(trained=triage.train(history, seed=0), orders=len(history))
    o = fresh(submit(world, category=None, text="爷爷今年满八十了，高龄补贴到哪里去办"))
    assert o.suggested_category.code == "0302" and o.category_confidence >= 0.5
    assert o.suggested_department == world.c.civil_affairs
    # A clear leaf stays a leaf.
    o = fresh(submit(world, category=None, text="我们新农村小区门口那几盏路灯晚上全都不亮"))
    assert o.suggested_category.code == "010101"


def test_a_unit_the_model_names_by_level_is_the_village_of_the_orders_grid(world, model):
    o = fresh(submit(world, category=None, text="三组垃圾池里的垃圾十多天没人清运，臭得很"))
    assert o.suggested_category.code == "020101"
    assert o.unit_confidence >= routing.setting("SUGGEST_UNIT_AT")  # so the unit below is the model's
    assert o.suggested_node == world.c.v1 and o.suggested_department is None


def test_the_guess_is_shown_to_staff_not_to_the_resident(world, model, client_as):
    o = submit(world, category=None, text="路灯坏了晚上黑漆漆的")
    staff = client_as(world.c.u_zhao).get(f"/api/v1/workorders/{o.pk}").json()
    assert staff["suggestion"]["category_code"] == "010101"
    assert staff["suggestion"]["model_version"] == model.pk
    assert 0.5 < staff["suggestion"]["category_confidence"] <= 1
    resident = client_as(world.c.u_zhang).get(f"/api/v1/workorders/{o.pk}").json()
    assert resident["suggestion"] is None
    page = client_as(world.c.u_zhao).get(f"/workorders/{o.pk}/").content.decode()
    assert 'data-field="guess"' in page and "路灯损坏" in page
    assert 'data-field="guess"' not in client_as(world.c.u_zhang).get(f"/workorders/{o.pk}/").content.decode()


def test_service_orders_are_not_guessed(world, model):
    from catalog.models import ServiceItem

    item = ServiceItem.objects.get(code="S002")
    o = fresh(submit(world, category=None, item=item, kind="service", text="老人满八十，申领高龄津贴"))
    assert o.model_version is None and o.category == item.category


# --- auto-dispatch --------------------------------------------------------------------------------------


def allow_auto(code: str) -> None:
    Category.objects.filter(code=code).update(auto_dispatch=True)
    from core.memo import bump

    bump("catalog")


def test_auto_dispatch_is_off_by_default_even_when_sure(world, model):
    allow_auto("01")
    o = fresh(submit(world, category=None, text="村口路灯坏了晚上黑漆漆的"))
    assert o.state == State.SUBMITTED


def test_auto_dispatch_above_the_threshold_classifies_and_dispatches_as_the_system(world, model, settings):
    allow_auto("01")  # 城乡建设 and everything under it
    settings.GONGZHI["TRIAGE"]["AUTO_DISPATCH_AT"] = 0.3
    settings.GONGZHI["TRIAGE"]["SUGGEST_UNIT_AT"] = 0.3
    o = fresh(submit(world, category=None, text="村口路灯坏了晚上黑漆漆的"))
    assert o.state == State.DISPATCHED and o.department == world.housing
    assert o.category.code == "010101"
    acts = list(Event.objects.filter(order=o).order_by("id").values_list("action", "actor_id"))
    assert acts == [("submit", world.c.u_zhang.pk), ("reclassify", None), ("dispatch", None)]
    ev = Event.objects.get(order=o, action="dispatch")
    assert "text model" in ev.note or "模型" in ev.note


def test_no_auto_dispatch_below_the_threshold(world, model, settings):
    allow_auto("01")
    settings.GONGZHI["TRIAGE"]["AUTO_DISPATCH_AT"] = 0.999
    settings.GONGZHI["TRIAGE"]["SUGGEST_UNIT_AT"] = 0.3
    o = fresh(submit(world, category=None, text="村口路灯坏了晚上黑漆漆的"))
    assert o.category_confidence < 0.999 and o.state == State.SUBMITTED


def test_no_auto_dispatch_in_a_category_not_allowed_or_against_the_residents_choice(world, model, settings):
    settings.GONGZHI["TRIAGE"]["AUTO_DISPATCH_AT"] = 0.3
    settings.GONGZHI["TRIAGE"]["SUGGEST_UNIT_AT"] = 0.3
    allow_auto("02")  # garbage only
    o = fresh(submit(world, category=None, text="村口路灯坏了晚上黑漆漆的"))
    assert o.state == State.SUBMITTED  # street lights are not allowed
    allow_auto("01")
    # The resident chose 停电: the model's 路灯 does not overrule a person's choice.
    o = fresh(submit(world, category=world.outage, text="村口路灯坏了晚上黑漆漆的"))
    assert o.state == State.SUBMITTED and o.category == world.outage


# --- corrections ----------------------------------------------------------------------------------------


def test_a_dispatcher_must_classify_an_order_to_be_classified(world):
    o = submit(world, category=None, text="小区电梯坏了三天")
    with pytest.raises(ValidationFailed) as e:
        services.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao)
    assert e.value.code == "workorder.unclassified"
    assert fresh(o).state == State.SUBMITTED
    target = world.streetlight
    services.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao, category=target)
    o = fresh(o)
    assert o.state == State.DISPATCHED and o.category == target
    ev = Event.objects.get(order=o, action="reclassify")
    assert ev.actor == world.c.u_zhao and ev.data["from"] == UNCLASSIFIED and ev.data["to"] == target.code


def test_a_dispatch_against_the_suggestion_is_recorded_and_learnt(world, model):
    o = submit(world, category=None, text="路灯坏了晚上黑漆漆的")
    assert fresh(o).suggested_department == world.housing
    # The dispatcher knows better: it is the village's street light, and it is 停电 (the line is cut).
    services.workorder_dispatch(order=fresh(o), to=Unit(node=world.c.v1), by=world.c.u_zhao, category=world.outage)
    ev = Event.objects.get(order=o, action="dispatch")
    assert ev.data["took_suggestion"] is False and ev.data["suggested_unit"] == world.housing.name
    assert ev.data["model"] == model.pk
    village = world.c.u_zhou
    services.workorder_accept(order=fresh(o), by=village)
    learnt = [r for r in routing.training_rows() if "黑漆漆" in r[0]]
    assert len(learnt) == 1 and learnt[0][1:] == ("010202", f"level:{Level.VILLAGE}")


def test_an_order_dispatched_and_not_yet_signed_for_is_not_learnt(world):
    o = submit(world, text="路灯坏了")
    services.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao)
    assert list(routing.training_rows()) == []
    services.workorder_return(order=fresh(o), by=world.u_feng, reason="不是我们的")
    assert list(routing.training_rows()) == []


def test_reclassify_through_the_api_is_a_dispatchers_and_checked(world, model, client_as):
    o = submit(world, category=None, text="路灯坏了晚上黑漆漆的")
    url = f"/api/v1/workorders/{o.pk}/reclassify"
    r = post(client_as(world.c.u_zhang), url, {"category": "010102"})
    assert r.status_code in (403, 404)
    r = post(client_as(world.c.u_zhao), url, {"category": "nope"})
    assert r.status_code == 422 and error_code(r) == "catalog.unknown_category"
    r = post(client_as(world.c.u_zhao), url, {"category": UNCLASSIFIED})
    assert r.status_code == 422 and error_code(r) == "workorder.unclassified"
    r = post(client_as(world.c.u_zhao), url, {"category": "010101", "extra": 1})
    assert r.status_code in (400, 422)
    assert fresh(o).category.code == UNCLASSIFIED
    r = post(client_as(world.c.u_zhao), url, {"category": "010101", "note": "是路灯"})
    assert r.status_code == 200 and r.json()["category_name"] == "路灯损坏"


def test_reclassify_on_the_order_page(world, client_as):
    o = submit(world, category=None, text="路灯坏了晚上黑漆漆的")
    c = client_as(world.c.u_zhao)
    page = c.get(f"/workorders/{o.pk}/").content.decode()
    assert 'data-form="reclassify"' in page and 'name="category"' in page
    r = c.post(f"/workorders/{o.pk}/reclassify/", {"category": "99x"})
    assert r.status_code == 422 and fresh(o).category.code == UNCLASSIFIED
    r = c.post(f"/workorders/{o.pk}/reclassify/", {"category": "010101"})
    assert r.status_code == 302 and fresh(o).category.code == "010101"
    resident = client_as(world.c.u_zhang)
    assert 'data-form="reclassify"' not in resident.get(f"/workorders/{o.pk}/").content.decode()
    r = resident.post(f"/workorders/{o.pk}/reclassify/", {"category": "020101"})
    assert r.status_code in (403, 404) and fresh(o).category.code == "010101"


def test_bulk_dispatch_to_the_suggestion_takes_the_guessed_category(world, model):
    o = submit(world, category=None, text="路灯坏了晚上黑漆漆的")
    services.workorder_dispatch_bulk(orders=[fresh(o)], by=world.c.u_zhao)
    o = fresh(o)
    assert o.state == State.DISPATCHED and o.category.code == "010101"


# --- training and the report ------------------------------------------------------------------------------


def decided_history(world, n: int = 25) -> None:
    """`n` appeals of each matter, signed for by the unit a county would send them to."""
    rng = random.Random(7)
    cats = {c.code: c for c in Category.objects.filter(code__in=list(MATTERS))}
    made = []
    for code in MATTERS:
        for _ in range(n):
            made.append((submit(world, category=cats[code], text=appeal(code, rng)), code))
    for o, code in made:
        fields = {"state": State.CLOSED}
        if code == "020101":
            fields["unit_node"] = world.c.v1
        else:
            fields["department"] = world.housing if code == "010101" else world.c.civil_affairs
        WorkOrder.objects.filter(pk=o.pk).update(**fields)


def test_dispatch_train_learns_from_history_and_makes_the_model_current(world):
    decided_history(world)
    out = StringIO()
    call_command("dispatch_train", "--holdout", "0.2", stdout=out)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["orders"] == 75 and report["held_back"] == 15
    assert report["category"]["accuracy"] >= 0.8 and "0.90" in report["category"]["coverage_at_precision"]
    current = Classifier.objects.get(is_current=True)
    assert report["version"] == current.pk and current.orders == 75
    o = fresh(submit(world, category=None, text="八十岁老人的高龄补助好几个月没到账了"))
    assert o.model_version == current.pk and o.suggested_category.code == "030201"
    # Trained again: the new version is current, the old one kept (and can be gone back to).
    call_command("dispatch_train", stdout=StringIO())
    assert Classifier.objects.count() == 2 and Classifier.objects.get(is_current=True).pk != current.pk
    triage.classifier_activate(version=current.pk)
    assert fresh(submit(world, category=None, text="路灯不亮")).model_version == current.pk


def test_dispatch_train_dry_run_keeps_the_current_model(world):
    decided_history(world)
    out = StringIO()
    call_command("dispatch_train", "--dry-run", stdout=out)
    assert Classifier.objects.count() == 0 and "accuracy" in out.getvalue().splitlines()[-1]


def test_dispatch_train_refuses_too_little_history(world):
    decided_history(world, n=5)
    with pytest.raises(CommandError, match="15"):
        call_command("dispatch_train", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("dispatch_train", "--holdout", "1.5", stdout=StringIO())
    assert not Classifier.objects.exists()


def test_the_accuracy_report_compares_guesses_with_what_was_decided(world, model):
    right = submit(world, category=None, text="村口路灯坏了晚上黑漆漆的")
    wrong = submit(world, category=None, text="路灯不亮")
    services.workorder_dispatch(order=fresh(right), to=Unit(department=world.housing), by=world.c.u_zhao,
                                category=world.streetlight)  # fmt: skip
    services.workorder_dispatch(order=fresh(wrong), to=Unit(node=world.c.v1), by=world.c.u_zhao,
                                category=world.outage)  # fmt: skip
    services.workorder_accept(order=fresh(right), by=world.u_feng)
    services.workorder_accept(order=fresh(wrong), by=world.c.u_zhou)
    from core.clock import now

    report = {t.name: t for t in routing.accuracy_report(since=now() - __import__("datetime").timedelta(days=30))}
    t = report["城乡建设"]
    assert t.guessed == 2 and t.category_right == 1 and t.unit_right == 1
    assert t.corrected == 1  # the dispatcher's category differed from the model's once
    assert t.category_accuracy == 0.5


def test_the_smart_dispatch_page_shows_the_model_and_its_record_to_dispatchers_and_leaders(world, model, client_as):
    o = submit(world, category=None, text="村口路灯坏了晚上黑漆漆的")
    services.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao,
                                category=world.streetlight)  # fmt: skip
    services.workorder_accept(order=fresh(o), by=world.u_feng)
    for who in (world.c.u_zhao, world.c.u_qian):  # the county's dispatcher, its leader
        page = client_as(who).get("/workorders/triage/")
        assert page.status_code == 200
        body = page.content.decode()
        assert f'data-field="version">{model.pk}<' in body and "城乡建设" in body
    # A grid worker handles orders but neither dispatches nor supervises; a resident sees nothing of it.
    assert client_as(world.c.u_li).get("/workorders/triage/").status_code == 403
    assert client_as(world.c.u_zhang).get("/workorders/triage/").status_code == 403
    assert client_as().get("/workorders/triage/").status_code == 302
