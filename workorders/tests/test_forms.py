"""Every form of the work-order pages — intake, each step on an order's page, the console's bulk
dispatch — refuses a NUL byte and an over-long field with the form's message, and changes nothing
(compared row by row), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from gongzhi.test import assert_refuses_bad_input, db_fingerprint
from workorders import forms
from workorders.states import State
from workorders.tests.helpers import order_in

pytestmark = pytest.mark.django_db

# A valid body for each step: the test spoils one text field at a time.
VALID = {
    "dispatch": {"to": "n:0", "note": "请尽快处理"},
    "reassign": {"to": "n:0", "note": "改派"},
    "transfer": {"to": "n:0", "note": "转办"},
    "return": {"reason": "不属于本单位", "suggest": ""},
    "start": {"note": "已开始"},
    "suspend": {"reason": "等待居民"},
    "resume": {"note": "继续"},
    "resolve": {"reply": "已修好"},
    "answer": {"reply": "已答复"},
    "rate": {"solved": "1", "satisfaction": "5", "comment": "很好"},
    "callback": {"kind": "callback", "reached": "1", "solved": "1", "satisfaction": "5", "note": "回访"},
    "reopen": {"reason": "没修好"},
    "rule_unreasonable": {"reason": "诉求不合理"},
    "close": {"note": "办结"},
    "mark_duplicate": {"primary": "ABC"},
    "cancel": {"reason": "已自行解决"},
    "extension_request": {"days": "3", "reason": "采购"},
    "extension_decide": {"extension": "1", "approve": "1", "note": "同意"},
    "supervise": {"level": "urge", "note": "请加快"},
    "note": {"note": "备注", "public": "1"},
}


def test_every_step_form_refuses_nul_and_over_long_fields(world, client_as):
    order = order_in(world, State.ACCEPTED)
    zhao = client_as(world.c.u_zhao)
    posts = 0
    for step, valid in VALID.items():
        posts += assert_refuses_bad_input(zhao, f"/workorders/{order.pk}/{step}/", valid, forms.STEP_FORMS[step])
    assert posts >= 50  # every text field of every step, twice (25 text fields)


def test_the_intake_form_refuses_nul_and_over_long_fields(world, client_as):
    zhang = client_as(world.c.u_zhang)
    valid = {"kind": "complaint", "cat": world.streetlight.code, "text": "路灯坏了", "address": "村口", "key": "k-1"}
    posts = assert_refuses_bad_input(zhang, "/workorders/new/", valid, forms.SubmitForm)
    assert posts >= 20


def test_bulk_dispatch_refuses_nul_and_over_long_fields(world, client_as):
    order = order_in(world, State.SUBMITTED)
    zhao = client_as(world.c.u_zhao)
    valid = {"ids": [str(order.pk)], "mode": "chosen", "to": "d:1", "next": "/workorders/console/"}
    assert assert_refuses_bad_input(zhao, "/workorders/console/dispatch/", valid, forms.BulkDispatchForm) >= 5


def test_a_nul_byte_in_an_assisting_unit_or_an_unknown_field_is_refused(world, client_as):
    order = order_in(world, State.SUBMITTED)
    zhao = client_as(world.c.u_zhao)
    before = db_fingerprint()
    for body in ({"to": "n:1", "assist": ["d:1\x00"]}, {"to": "n:1", "smuggled": "x\x00"}):
        r = zhao.post(f"/workorders/{order.pk}/dispatch/", body)
        assert r.status_code == 422
    assert db_fingerprint() == before
