"""Every form of the one-key call pages refuses a NUL byte and an over-long field with the form's message,
and changes nothing (compared row by row), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from gongzhi.test import assert_refuses_bad_input
from sos import forms, services
from sos.models import Call

pytestmark = pytest.mark.django_db


def test_every_sos_form_refuses_nul_and_over_long_fields(world, care, client_as):
    c = world.c
    li, zhang = client_as(c.u_li), client_as(c.u_zhang)
    raised = services.call_raise(profile=care, kind=Call.Kind.SERVICE, channel=Call.Channel.STAFF, by=c.u_li).call
    services.call_acknowledge(call=raised, by=c.u_li)
    posts = 0
    posts += assert_refuses_bad_input(zhang, "/sos/raise/", {"kind": "emergency", "key": "k1"}, forms.RaiseForm)
    posts += assert_refuses_bad_input(
        li, f"/sos/calls/{raised.pk}/resolve/", {"outcome": "已送医", "minutes_spent": "30"}, forms.ResolveForm
    )
    posts += assert_refuses_bad_input(li, f"/sos/calls/{raised.pk}/cancel/", {"note": "误触"}, forms.NoteForm)
    posts += assert_refuses_bad_input(
        li, f"/sos/calls/{raised.pk}/workorder/", {"text": "需要维修", "category": "030201"}, forms.WorkorderForm
    )
    posts += assert_refuses_bad_input(
        li, "/sos/profiles/register/", {"resident": c.liu.pk, "needs": "行动不便"}, forms.RegisterForm
    )
    posts += assert_refuses_bad_input(
        li, f"/sos/profiles/{care.pk}/", {"form": "contacts", "cname_0": "张小明", "cphone_0": "13900001111"},
        forms.ContactsForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        li, f"/sos/profiles/{care.pk}/", {"form": "chain", "kind_0": "other", "name_0": "邻", "phone_0": "13911112222"},
        forms.ChainForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        li, f"/sos/profiles/{care.pk}/raise/", {"kind": "service", "channel": "staff", "note": "电话求助"},
        forms.StaffRaiseForm,
    )  # fmt: skip
    assert posts >= 60  # every text field of every form, twice


def test_a_nul_byte_in_a_field_the_form_does_not_know_is_refused_too(world, care, client_as):
    from gongzhi.test import db_fingerprint

    zhang = client_as(world.c.u_zhang)
    before = db_fingerprint()
    r = zhang.post("/sos/raise/", {"kind": "emergency", "smuggled": "x\x00"}, follow=True)
    assert [str(m) for m in r.context["messages"]] and db_fingerprint() == before
    assert not Call.objects.exists()
