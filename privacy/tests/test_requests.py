"""Staff answer correction and deletion requests of their part of the tree, on the record, and the resident
is told."""

from __future__ import annotations

import pytest

from accounts import services as accounts
from accounts.models import Role
from core.errors import ApiError
from notify.models import Message
from privacy import services
from privacy.models import DataRequest

pytestmark = pytest.mark.django_db


def _filed(world, resident=None, user=None):
    c = world.c
    return services.datarequest_file(
        resident=resident or c.zhang, by=user or c.u_zhang, kind="deletion", text="请删除我的身份证号"
    )


def test_the_county_lists_and_answers_a_request_on_the_record(world, client_as, clock):
    c = world.c
    clock.set("2026-05-06 10:00")
    req = _filed(world)
    client = client_as(c.u_zhou)
    page = client.get("/privacy/requests/").content.decode()
    assert f'data-request="{req.pk}"' in page
    assert client.get(f"/privacy/requests/{req.pk}/").status_code == 200
    Message.objects.all().delete()
    clock.set("2026-05-07 09:30")
    r = client.post(f"/privacy/requests/{req.pk}/", {"outcome": "done", "reply": "已删除"}, follow=True)
    assert r.status_code == 200
    req.refresh_from_db()
    assert (req.state, req.handled_by_id, req.reply) == ("done", c.u_zhou.pk, "已删除")
    assert req.handled_at == clock.t
    assert "data-handled" in r.content.decode()
    msg = Message.objects.get()
    assert (msg.user_id, msg.kind, msg.link) == (c.u_zhang.pk, "privacy", "/privacy/mine/")
    assert "已删除" in msg.text
    # Answered once: a second answer is refused with a message and changes nothing.
    r = client.post(f"/privacy/requests/{req.pk}/", {"outcome": "refused", "reply": "不行"}, follow=True)
    assert len(list(r.context["messages"])) == 1
    req.refresh_from_db()
    assert (req.state, req.reply) == ("done", "已删除") and Message.objects.count() == 1
    # The resident sees the answer on her page.
    assert "已删除" in client_as(c.u_zhang).get("/privacy/mine/").content.decode()


def test_a_refusal_is_recorded_and_told(world, client_as):
    c = world.c
    req = _filed(world)
    client_as(c.u_admin).post(f"/privacy/requests/{req.pk}/", {"outcome": "refused", "reply": "法律要求保存"})
    req.refresh_from_db()
    assert (req.state, req.handled_by_id) == ("refused", c.u_admin.pk)
    assert Message.objects.filter(user=c.u_zhang, kind="privacy", text__contains="法律要求保存").exists()


@pytest.mark.parametrize(
    "body",
    [{"outcome": "done", "reply": ""}, {"outcome": "maybe", "reply": "好"}, {"outcome": "done", "reply": "字" * 1001}],
)
def test_a_bad_answer_is_a_message_and_changes_nothing(world, client_as, body):
    req = _filed(world)
    r = client_as(world.c.u_zhou).post(f"/privacy/requests/{req.pk}/", body, follow=True)
    assert len(list(r.context["messages"])) == 1
    req.refresh_from_db()
    assert req.state == "open" and req.handled_by is None and req.reply == ""


def test_staff_without_the_capability_or_out_of_scope_get_404(world, client_as):
    c = world.c
    req = _filed(world)
    # Town staff of 南镇 only: the request of a resident of 东镇 is not theirs. A leader audits, and does not
    # answer requests (the register is not theirs to correct).
    south = accounts.user_create(username="nanzhen", password="x-Passw0rd!", display_name="南镇干部", is_staff=True)
    accounts.role_assign(user=south, role=Role.TOWN_STAFF, node=c.t2)
    for user in (c.u_li, c.u_qian, c.u_zhao, c.u_zhang, c.u_sun, south):
        client = client_as(user)
        assert client.get(f"/privacy/requests/{req.pk}/").status_code == 404, user
        r = client.post(f"/privacy/requests/{req.pk}/", {"outcome": "done", "reply": "好"})
        assert r.status_code == 404, user
    assert f'data-request="{req.pk}"' not in client_as(south).get("/privacy/requests/").content.decode()
    for user in (c.u_li, c.u_zhang, c.u_zhao):
        assert client_as(user).get("/privacy/requests/").status_code == 404
    # The leader's page has the access log's export and no requests.
    page = client_as(c.u_qian).get("/privacy/requests/").content.decode()
    assert "access-log.csv" in page and f'data-request="{req.pk}"' not in page
    req.refresh_from_db()
    assert req.state == "open"
    # The service refuses the same way, whoever calls it.
    with pytest.raises(ApiError) as e:
        services.datarequest_handle(request=req, by=south, outcome="done", reply="好")
    assert e.value.status == 404
    # The south leader answers a resident of 南镇.
    theirs = services.datarequest_file(resident=c.sun_resident, by=c.u_sun, kind="correction", text="地址写错了")
    assert client_as(south).get(f"/privacy/requests/{theirs.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_staff_answer_one_request_at_once(world):
    from workorders.tests.test_concurrency import run_threads

    def one(i, go):
        go()
        try:
            return "ok", services.datarequest_handle(request=stale[i], by=people[i], outcome="done", reply=f"已处理{i}")
        except ApiError as exc:
            return "error", exc

    c = world.c
    req = _filed(world)
    stale = [DataRequest.objects.get(pk=req.pk) for _ in range(2)]
    people = [c.u_zhou, c.u_admin]
    results = run_threads(2, one)
    assert sorted(k for k, _ in results) == ["error", "ok"]
    lost = next(r for k, r in results if k == "error")
    assert (lost.status, lost.code) == (409, "datarequest.transition_not_allowed")
    assert Message.objects.filter(user=c.u_zhang, kind="privacy").count() == 1
