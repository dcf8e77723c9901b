"""领办实事: a member proposes a project they lead, the village approves or turns it down (with a reason), the
member reports progress and milestones, marks it done, and the village's residents rate it — each step only
for whom it belongs to, bad input refused and nothing changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import Conflict, NotFound, ValidationFailed
from partylink import selectors, services
from partylink.models import Project, ProjectRating
from partylink.services import MilestoneIn

API = "/api/v1/party/projects"


def _propose(c, **kw):
    args = {"title": "修缮村口便民桥", "goals": "桥面防滑、加装护栏，方便老人出行", "budget": Decimal("12000.00"),
            "milestones": [MilestoneIn("采购材料", dt.date(2026, 12, 10)),
                           MilestoneIn("完工验收", dt.date(2026, 12, 30))],
            **kw}  # fmt: skip
    return services.project_propose(by=c.u_liu, village=c.v1, **args)


def test_a_member_leads_a_project_from_proposal_to_the_residents_rating(world, clock):
    c = world.c
    p = _propose(c, beneficiary_ids=[c.h_zhang.pk, c.h_chen.pk])
    assert p.lead.resident_id == c.liu.pk and p.state == "proposed" and p.beneficiaries.count() == 2
    assert p not in selectors.projects_for(c.u_zhang)  # residents see it once approved
    with pytest.raises(NotFound):  # a member does not approve their own
        services.project_decide(project=p, by=c.u_liu, approve=True)
    services.project_decide(project=p, by=c.u_zhou, approve=True, note="同意，村里出资")
    assert selectors.access_project(c.u_zhang, p.pk) == p
    services.project_update(project=p, by=c.u_liu, text="材料已到位", progress=40)
    m = p.milestones.order_by("due_on").first()
    services.milestone_done(project=p, milestone_id=m.pk, by=c.u_liu)
    with pytest.raises(Conflict):
        services.milestone_done(project=p, milestone_id=m.pk, by=c.u_liu)
    with pytest.raises(Conflict) as e:  # not before it is done
        services.project_rate(project=Project.objects.get(pk=p.pk), by=c.u_zhang, stars=5)
    assert e.value.code == "project.not_done"
    services.project_complete(project=Project.objects.get(pk=p.pk), by=c.u_liu)
    done = Project.objects.get(pk=p.pk)
    assert done.state == "done" and done.progress == 100
    services.project_rate(project=done, by=c.u_zhang, stars=4, comment="走起来稳当多了")
    services.project_rate(project=done, by=c.u_zhang, stars=5)  # rating again changes it
    assert list(ProjectRating.objects.values_list("stars", flat=True)) == [5]
    with pytest.raises(NotFound):  # 孙网格 does not live in 东村
        services.project_rate(project=done, by=c.u_sun, stars=1)


def test_turning_down_needs_a_reason_and_ends_it(world, clock):
    c = world.c
    p = _propose(c)
    with pytest.raises(ValidationFailed) as e:
        services.project_decide(project=p, by=c.u_zhou, approve=False)
    assert e.value.code == "project.reason_required" and Project.objects.get(pk=p.pk).state == "proposed"
    services.project_decide(project=p, by=c.u_zhou, approve=False, note="预算超出本年度计划")
    with pytest.raises(Conflict):
        services.project_update(project=Project.objects.get(pk=p.pk), by=c.u_liu, text="开工", progress=10)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"title": ""}, "validation.required"),
        ({"title": "x" * 81}, "validation.too_long"),
        ({"goals": "a\x00b"}, "validation.nul"),
        ({"budget": Decimal("-1")}, "project.bad_budget"),
        ({"budget": Decimal("1.234")}, "project.bad_budget"),
        ({"milestones": [MilestoneIn("步骤", dt.date(2026, 12, 1))] * 13}, "project.too_many_milestones"),
        ({"beneficiary_ids": [999999]}, "project.bad_beneficiary"),
    ],
)
def test_bad_proposals_are_refused_and_change_nothing(world, clock, kw, code):
    c = world.c
    with pytest.raises(ValidationFailed) as e:
        _propose(c, **kw)
    assert e.value.code == code
    assert not Project.objects.exists()


def test_only_a_member_of_the_village_or_its_staff_propose(world, clock):
    c = world.c
    with pytest.raises(NotFound):
        services.project_propose(by=c.u_liu, village=c.v2, title="别村的项目", goals="不是我的村")
    with pytest.raises(NotFound):
        services.project_propose(by=c.u_zhang, village=c.v1, title="群众项目", goals="不是党员")
    with pytest.raises(ValidationFailed):  # staff name a lead
        services.project_propose(by=c.u_zhou, village=c.v1, title="村里项目", goals="谁来领办")
    p = services.project_propose(by=c.u_zhou, village=c.v1, title="村里项目", goals="刘党员领办",
                                 lead=c.liu.party_member)  # fmt: skip
    assert p.lead_id == c.liu.party_member.pk


def test_the_api_and_the_pages(world, client_as, clock):
    c = world.c
    liu, zhou, zhang = client_as(c.u_liu), client_as(c.u_zhou), client_as(c.u_zhang)
    body = {"village_id": c.v1.pk, "title": "老年食堂试运营", "goals": "每周三次午餐", "budget": "3000.50",
            "milestones": [{"title": "选址", "due_on": "2026-12-05"}]}  # fmt: skip
    r = liu.post(API, body, content_type="application/json")
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    assert r.json()["actions"] == []  # the lead waits for the village
    assert zhou.get(f"{API}/{pid}").json()["actions"] == ["approve", "reject", "cancel"]
    assert zhang.get(f"{API}/{pid}").status_code == 404  # not yet approved
    assert liu.post(f"{API}/{pid}/approve", {}, content_type="application/json").status_code == 404
    assert zhou.post(f"{API}/{pid}/reject", {"note": ""}, content_type="application/json").status_code == 422
    a = zhou.post(f"{API}/{pid}/approve", {"note": "同意"}, content_type="application/json")
    assert a.status_code == 200 and a.json()["state"] == "approved"
    assert zhou.post(f"{API}/{pid}/approve", {}, content_type="application/json").status_code == 409
    u = liu.post(f"{API}/{pid}/updates", {"text": "已选好场地", "progress": 30}, content_type="application/json")
    assert u.status_code == 200 and u.json()["progress"] == 30
    assert (
        liu.post(f"{API}/{pid}/updates", {"text": "x", "progress": 130}, content_type="application/json").status_code
        == 422
    )
    assert liu.post(API, {**body, "budget": "-5"}, content_type="application/json").status_code == 422
    assert liu.post(API, {**body, "title": "a\u0000"}, content_type="application/json").status_code == 400
    home = zhang.get("/").content.decode()
    assert 'data-box="projects"' in home and "老年食堂试运营" in home
    page = liu.get(f"/party/projects/{pid}/").content.decode()
    assert f"/party/projects/{pid}/progress/" in page
    liu.post(f"/party/projects/{pid}/complete/")
    assert Project.objects.get(pk=pid).state == "done"
    zhang.post(f"/party/projects/{pid}/rate/", {"stars": "5", "comment": "饭菜可口"})
    assert zhang.get(f"{API}/{pid}").json()["rating"] == 5.0
    bad = zhang.post(f"/party/projects/{pid}/rate/", {"stars": "9"}, follow=True)
    assert list(bad.context["messages"]) and ProjectRating.objects.get().stars == 5
    p = liu.post("/party/projects/", {"village": c.v1.pk, "title": "修路", "goals": "修村道",
                                      "milestones": "明天 开工"}, follow=True)  # fmt: skip
    assert list(p.context["messages"]) and Project.objects.count() == 1


def test_the_village_page_shows_its_projects(world, client_as, clock):
    c = world.c
    p = _propose(c)
    services.project_decide(project=p, by=c.u_zhou, approve=True)
    page = client_as(c.u_zhou).get(f"/org/nodes/{c.v1.pk}/").content.decode()
    assert f'data-project="{p.pk}"' in page
    other = client_as(c.u_zhou).get(f"/org/nodes/{c.a2.pk}/").content.decode()
    assert f'data-project="{p.pk}"' not in other  # a grid below the village has none of its own


def test_edges_a_member_names_themself_a_budget_too_big_to_read_and_a_milestone_after_cancelling(
    world, client_as, clock
):
    c = world.c
    liu = client_as(c.u_liu)
    r = liu.post(API, {"village_id": c.v1.pk, "title": "修路", "goals": "修村道", "lead_id": c.liu.party_member.pk},
                 content_type="application/json")  # fmt: skip
    assert r.status_code == 201, r.content
    bad = liu.post("/party/projects/", {"village": c.v1.pk, "title": "修桥", "goals": "修桥", "budget": "9e99"},
                   follow=True)  # fmt: skip
    assert bad.status_code == 200 and list(bad.context["messages"]) and Project.objects.count() == 1
    p = _propose(c)
    services.project_decide(project=p, by=c.u_zhou, approve=True)
    stale = Project.objects.get(pk=p.pk)
    services.project_cancel(project=Project.objects.get(pk=p.pk), by=c.u_zhou, reason="资金未到位")
    with pytest.raises(Conflict):  # read as under way a moment ago, cancelled since
        services.milestone_done(project=stale, milestone_id=p.milestones.first().pk, by=c.u_liu)
    assert not p.milestones.filter(done_at__isnull=False).exists()
