"""Every form of the command-centre pages refuses a NUL byte and an over-long field with the form's
message, and changes nothing (compared row by row), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from core.clock import today
from dashboards import forms, services
from dashboards.models import Exemption, Result, SpecialItem
from gongzhi.test import assert_refuses_bad_input, db_fingerprint
from workorders.states import State
from workorders.tests.helpers import order_in

pytestmark = pytest.mark.django_db


def _assessment(action: str, group: str = "village") -> str:
    return f"/dashboard/assessment/{today():%Y-%m}/{group}/{action}/"


def test_every_dashboard_form_refuses_nul_and_over_long_fields(world, client_as):
    c = world.c
    qian, feng = client_as(c.u_qian), client_as(world.u_feng)
    appealed = order_in(world, State.REOPENED)
    pending = services.exemption_request(order=appealed, by=world.u_feng, reason="现场核实不属实")
    other = order_in(world, State.RATED)
    posts = 0
    posts += assert_refuses_bad_input(qian, _assessment("compute"), {"reason": "区里更正了一单"}, forms.ComputeForm)
    posts += assert_refuses_bad_input(
        qian, _assessment("specials"), {"unit": f"n:{c.v1.pk}", "points": "2.5", "reason": "创建示范村"},
        forms.SpecialForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        feng, "/dashboard/exemptions/", {"order": str(other.pk), "reason": "居民反映的问题不属实"}, forms.ExemptionForm
    )
    posts += assert_refuses_bad_input(
        qian, f"/dashboard/exemptions/{pending.pk}/decide/", {"decision": "approve", "note": "核实属实"},
        forms.DecideForm,
    )  # fmt: skip
    assert posts == 16  # every text field of every form, twice (publishing posts none)
    assert not Result.objects.exists() and not SpecialItem.objects.exists()
    assert list(Exemption.objects.values_list("pk", "status")) == [(pending.pk, "pending")]


def test_a_nul_byte_in_a_field_a_form_does_not_know_is_refused_too(world, client_as):
    """Publishing posts nothing of its own: a NUL byte smuggled in beside the token still stops it."""
    qian = client_as(world.c.u_qian, lang="en")
    services.result_compute(by=world.c.u_qian, month=today().replace(day=1), group="village")
    before = db_fingerprint()
    for url in (_assessment("publish"), _assessment("compute")):
        r = qian.post(url, {"smuggled": "x\x00"}, follow=True)
        assert r.status_code == 200 and any("NUL" in str(m) for m in r.context["messages"]), url
    assert db_fingerprint() == before
    assert Result.objects.get().published_at is None


def test_the_special_items_points_are_read_by_the_form(world, client_as):
    """Full-width signs from a Chinese keyboard count; words, NaN and infinity do not."""
    c = world.c
    en = client_as(c.u_qian, lang="en")
    for bad in ("lots", "NaN", "Infinity", "", "1\u00002"):
        r = en.post(_assessment("specials"), {"unit": f"n:{c.v1.pk}", "points": bad, "reason": "x"}, follow=True)
        assert r.status_code == 200 and r.context["messages"], bad
    assert not SpecialItem.objects.exists()
    en.post(_assessment("specials"), {"unit": f"n:{c.v1.pk}", "points": "－1.5", "reason": "迟报"})
    assert SpecialItem.objects.get().points == -1.5


def test_an_over_long_appeal_is_refused_not_cut(world, client_as):
    order = order_in(world, State.REOPENED)
    feng = client_as(world.u_feng, lang="en")
    r = feng.post("/dashboard/exemptions/", {"order": str(order.pk), "reason": "长" * 1001}, follow=True)
    assert any("At most 1000 characters" in str(m) for m in r.context["messages"])
    assert not Exemption.objects.exists()
    r = feng.post("/dashboard/exemptions/", {"order": str(order.pk), "reason": "长" * 1000}, follow=True)
    assert Exemption.objects.get().reason == "长" * 1000
