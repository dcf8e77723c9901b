"""Hot topics (未诉先办): recent appeals about one matter of one place grouped by their words, flagged once to
the grid and town when enough households raise it in a few days, on the dispatcher's console and pages
scoped to the viewer's part of the county; unrelated appeals of the same place stay apart."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from core.clock import frozen, now
from notify.models import Message
from workorders import hot
from workorders.models import Channel, HotTopic, WorkOrder
from workorders.states import State
from workorders.tests.helpers import submit

# One burst water main by the school, in the words of six households.
PIPE = [
    "小学门口的自来水管爆了，水冲到马路上，已经淌了一上午",
    "学校门口那条路全是水，听说是自来水主管破了，孩子们上学要蹚水",
    "市民来电反映，小学门口水管破裂漏水严重，路面积水，请尽快抢修",
    "小学旁边自来水管爆裂，水哗哗地流，麻烦自来水公司快来修",
    "今早小学门口水管爆了，路上积水很深，电动车都过不去",
    "诉求人称，小学门口自来水管道破裂，漏水两天了还没人来修",
]
# Same place, same days, other matters.
OTHERS = [
    "村口路灯不亮已经一周了，晚上出行不安全",
    "隔壁养狗天天叫，晚上睡不着觉",
    "八十岁老人高龄津贴这个月没有发",
]


def _file(world, text: str, at: dt.datetime, phone: str, grid=None, by=None):
    c = world.c
    with frozen(at):
        return submit(
            world,
            by=by or c.u_li,
            text=text,
            channel=Channel.PATROL,
            grid=grid or c.a1,
            lat=(grid or c.a1).lat,
            lng=(grid or c.a1).lng,
            contact_name="居民",
            contact_phone=phone,
        )


def _plant(world, texts=PIPE, *, hours_apart: float = 6, start: dt.datetime | None = None, phone0: int = 0):
    start = start or now() - dt.timedelta(days=2)
    return [
        _file(world, t, start + dt.timedelta(hours=i * hours_apart), f"1390000{phone0 + i:04d}")
        for i, t in enumerate(texts)
    ]


def test_six_households_in_two_days_make_one_rising_topic_flagged_once_to_grid_and_town(world):
    c = world.c
    pipe = _plant(world)
    others = _plant(world, OTHERS, phone0=100)
    _topics, flagged = hot.scan()
    assert flagged == 1
    rising = HotTopic.objects.get(rising=True)
    assert set(rising.orders.values_list("pk", flat=True)) == {o.pk for o in pipe}
    assert rising.households == 6 and rising.order_count == 6
    assert any(w in "".join(rising.keywords) for w in ("水管", "自来水", "小学"))
    assert not any(o.hot_topics.exists() for o in others)  # unrelated appeals of the same grid stay apart
    told = set(Message.objects.filter(kind="workorder.hot_topic").values_list("user__username", flat=True))
    assert {"li", "zhou", "wu", "zhao"} <= told  # the grid, the village, the town and the county's dispatcher
    assert "sun" not in told  # another town's grid worker
    assert "zhang" not in told  # a resident
    note = Message.objects.filter(kind="workorder.hot_topic", user=c.u_li).get()
    assert note.link == f"/workorders/hot/{rising.pk}/" and "6" in note.text

    # Scanned again (the worker runs every few minutes): the same topic, not flagged twice.
    assert hot.scan()[1] == 0
    assert Message.objects.filter(kind="workorder.hot_topic", user=c.u_li).count() == 1
    # A seventh household: the topic grows, keeps its identity, is not flagged again.
    late = _file(world, "小学门口水管爆了到现在还在漏水，自来水都停了", now() - dt.timedelta(hours=1), "13900009999")
    hot.scan()
    grown = HotTopic.objects.get(pk=rising.pk)
    assert grown.order_count == 7 and late.hot_topics.filter(pk=rising.pk).exists()
    assert Message.objects.filter(kind="workorder.hot_topic", user=c.u_li).count() == 1


def test_the_same_matter_spread_over_weeks_is_a_topic_but_not_rising(world):
    _plant(world, PIPE[:4], hours_apart=24 * 3, start=now() - dt.timedelta(days=13))
    _topics, flagged = hot.scan()
    assert flagged == 0
    topic = HotTopic.objects.get()
    assert topic.rising is False and topic.flagged_at is None and topic.households == 4
    assert sum(topic.trend) <= 4  # the last week's appeals per day
    assert not Message.objects.filter(kind="workorder.hot_topic").exists()


def test_the_same_words_in_another_town_are_another_matter(world, settings):
    settings.GONGZHI = {**settings.GONGZHI, "TRIAGE": {**settings.GONGZHI["TRIAGE"], "HOT_HOUSEHOLDS": 3}}
    c = world.c
    start = now() - dt.timedelta(days=1)
    a = [_file(world, t, start + dt.timedelta(hours=i), f"1380000{i:04d}") for i, t in enumerate(PIPE[:3])]
    b = [
        _file(world, t, start + dt.timedelta(hours=i), f"1370000{i:04d}", grid=c.c1, by=c.u_sun)
        for i, t in enumerate(PIPE[3:])
    ]
    hot.scan()
    topics = list(HotTopic.objects.all())
    assert len(topics) == 2
    assert {frozenset(t.orders.values_list("pk", flat=True)) for t in topics} == {
        frozenset(o.pk for o in a),
        frozenset(o.pk for o in b),
    }


def test_fewer_households_than_the_setting_are_not_flagged(world):
    _plant(world, PIPE[:4])  # 4 households; the setting is 5
    assert hot.scan() == (1, 0)
    assert not HotTopic.objects.filter(rising=True).exists()


def test_a_topic_is_no_longer_rising_when_its_window_has_passed(world):
    _plant(world)
    hot.scan()
    later = now() + dt.timedelta(days=30)
    hot.scan(at=later)
    assert not HotTopic.objects.filter(rising=True).exists()


# --- pages -----------------------------------------------------------------------------------------


@pytest.fixture
def topic(world) -> HotTopic:
    _plant(world)
    hot.scan()
    return HotTopic.objects.get(rising=True)


@pytest.mark.parametrize("who", ["u_zhao", "u_wu", "u_zhou", "u_li", "u_qian"])
def test_staff_above_the_place_see_the_topic_with_the_appeals_behind_it(world, client_as, topic, who):
    c = client_as(getattr(world.c, who))
    listing = c.get("/workorders/hot/")
    assert listing.status_code == 200
    assert f"/workorders/hot/{topic.pk}/" in listing.content.decode()
    page = c.get(f"/workorders/hot/{topic.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert all(o.tracking_code in body for o in topic.orders.all())


def test_another_towns_staff_get_404_and_an_empty_list(world, client_as, topic):
    c = client_as(world.c.u_sun)
    assert c.get(f"/workorders/hot/{topic.pk}/").status_code == 404
    assert f"/workorders/hot/{topic.pk}/" not in c.get("/workorders/hot/").content.decode()
    assert client_as(world.c.u_zhao).get("/workorders/hot/999999/").status_code == 404


def test_residents_may_not_see_hot_topics(world, client_as, topic):
    c = client_as(world.c.u_zhang)
    assert c.get("/workorders/hot/").status_code == 403
    assert c.get(f"/workorders/hot/{topic.pk}/").status_code == 403
    assert client_as().get("/workorders/hot/").status_code == 302  # to the login page


def test_the_dispatcher_console_links_rising_topics(world, client_as, topic):
    body = client_as(world.c.u_zhao).get("/workorders/console/").content.decode()
    assert "/workorders/hot/" in body


def test_the_rollup_worker_scans_for_hot_topics(world):
    _plant(world)
    out = StringIO()
    call_command("run_rollups", "--once", stdout=out)
    assert HotTopic.objects.filter(rising=True).count() == 1


def test_the_command_centre_board_shows_rising_topics_under_its_node(world, client_as, topic):
    c = world.c
    board = client_as(c.u_qian).get("/dashboard/").content.decode()
    assert 'data-card="rising"' in board and f"/workorders/hot/{topic.pk}/" in board
    # The other town's board (the county leader looking at 南镇): not there.
    other = client_as(c.u_qian).get(f"/dashboard/?node={c.t2.pk}").content.decode()
    assert 'data-card="rising"' in other and f"/workorders/hot/{topic.pk}/" not in other


def test_a_topic_that_no_longer_groups_goes_unless_it_was_flagged(world):
    three = _plant(world, PIPE[:3])
    assert hot.scan() == (1, 0)
    WorkOrder.objects.filter(pk=three[0].pk).update(state=State.CANCELLED)  # withdrawn: two are no topic
    hot.scan()
    assert not HotTopic.objects.exists()
    # A flagged one stays, no longer rising, for whoever was told about it.
    six = _plant(world, phone0=500)
    hot.scan()
    flagged = HotTopic.objects.get(rising=True)
    WorkOrder.objects.filter(pk__in=[o.pk for o in six[:4]]).update(state=State.CANCELLED)
    hot.scan()
    flagged.refresh_from_db()
    assert flagged.rising is False and flagged.flagged_at is not None
