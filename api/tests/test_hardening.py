"""What a security review found at the API's door: NUL and control characters, bodies that cannot be read,
over-long addresses, JSON that is not quite JSON, and credentials that are gone. Each answers in the one
error shape and changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.services import token_create, token_revoke
from gongzhi.test import db_fingerprint
from workorders.models import WorkOrder
from workorders.tests.helpers import intake_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders"


def bearer(user) -> dict[str, str]:
    """A token's headers, used once already: its first use is written down (last_used), and the tests compare
    the database before and after a refused request."""
    _token, raw = token_create(user=user, name="t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert Client().get("/api/v1/me", **headers).status_code == 200
    return headers


def shaped(r, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.content[:300])
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    body = r.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def zhang(world):
    return bearer(world.c.u_zhang)


# --- NUL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/track/AB%00CD/", "/catalog/items/%00/", "/api/v1/workorders/track/AB%00CD"])
def test_a_nul_in_a_path_is_refused_before_the_database_sees_it(world, path) -> None:
    r = Client().get(path)
    assert r.status_code == 400
    if path.startswith("/api/"):
        shaped(r, 400, "malformed_request")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "complaint", "category": "010101", "text": "a\\u0000b", "channel": "mobile"}',
        b'{"kind": "complaint", "category": "010101", "text": "ok", "channel": "mobile", "x\\u0000": 1}',
        b'{"kind": "complaint", "category": "010101", "text": "a\\\\\\u0000b", "channel": "mobile"}',
    ],
)
def test_a_nul_in_a_json_body_is_a_malformed_request(world, zhang, raw) -> None:
    before = db_fingerprint()
    r = Client().post(URL, data=raw, content_type="application/json", **zhang)
    shaped(r, 400, "malformed_request")
    assert db_fingerprint() == before


def test_six_letters_that_only_look_like_an_escaped_nul_are_text(world, zhang) -> None:
    raw = json.dumps(intake_body(text="路灯坏了 \\u0000 三天")).encode()  # the backslash itself is escaped
    r = Client().post(URL, data=raw, content_type="application/json", **zhang)
    assert r.status_code == 201, r.content
    assert WorkOrder.objects.get(pk=r.json()["order"]["id"]).text == "路灯坏了 \\u0000 三天"


def test_a_nul_in_a_multipart_field_is_a_malformed_request(world, zhang) -> None:
    order = Client().post(URL, data=json.dumps(intake_body()), content_type="application/json", **zhang).json()["order"]
    r = Client().post(f"{URL}/{order['id']}/photos", {"stage": "re\x00port"}, **zhang)
    shaped(r, 400, "malformed_request")


# --- bodies, addresses, encodings ----------------------------------------------------------------


def test_a_multipart_body_without_its_boundary_is_a_malformed_request(world, zhang) -> None:
    before = db_fingerprint()
    r = Client().post(URL, data=b"--x\r\n", content_type="multipart/form-data", **zhang)
    shaped(r, 400, "malformed_request")
    assert db_fingerprint() == before


@pytest.mark.parametrize("prefix", ["/api/v1/workorders", "/track/"])
def test_an_over_long_address_is_refused(world, settings, prefix) -> None:
    r = Client().get(prefix + "?q=" + "x" * (settings.GONGZHI["URL_MAX"] + 1))
    assert r.status_code == 414
    if prefix.startswith("/api/"):
        shaped(r, 414, "uri_too_long")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_json_that_is_not_utf8_is_a_malformed_request(world, zhang, encoding) -> None:
    before = db_fingerprint()
    raw = json.dumps(intake_body(), ensure_ascii=False).encode(encoding)
    r = Client().post(URL, data=raw, content_type="application/json", **zhang)
    shaped(r, 400, "malformed_request")
    assert db_fingerprint() == before


@pytest.mark.parametrize("solved", ["yes", "true", 1, 0, "1", None])
def test_a_boolean_must_be_a_json_boolean(world, zhang, solved) -> None:
    from workorders.tests.helpers import Clock  # noqa: F401  (the rate call below needs no clock)

    order = Client().post(URL, data=json.dumps(intake_body()), content_type="application/json", **zhang).json()["order"]
    before = db_fingerprint()
    body = {"solved": solved, "satisfaction": 5}
    r = Client().post(f"{URL}/{order['id']}/rate", data=json.dumps(body), content_type="application/json", **zhang)
    error = shaped(r, 422, "validation_error")
    assert "solved" in error["fields"]
    assert db_fingerprint() == before


def test_a_whole_number_must_be_a_json_integer(world, zhang) -> None:
    order = Client().post(URL, data=json.dumps(intake_body()), content_type="application/json", **zhang).json()["order"]
    for satisfaction in ("5", 4.5, True):
        body = {"solved": True, "satisfaction": satisfaction}
        r = Client().post(f"{URL}/{order['id']}/rate", data=json.dumps(body), content_type="application/json", **zhang)
        assert shaped(r, 422, "validation_error")["fields"]["satisfaction"] == ["请填写整数。"], satisfaction


def test_pydantic_details_are_translated(world, zhang) -> None:
    r = Client().post(
        URL,
        data=json.dumps(intake_body(colour="red")),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        **zhang,
    )
    fields = shaped(r, 422, "validation_error")["fields"]
    assert fields == {"colour": ["此字段未知。"]}
    r = Client().post(
        URL,
        data=json.dumps(intake_body(colour="red")),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **zhang,
    )
    assert shaped(r, 422, "validation_error")["fields"] == {"colour": ["This field is not known."]}


# --- credentials that are missing or gone --------------------------------------------------------


def test_unsafe_methods_without_valid_credentials_answer_401_not_a_csrf_failure(world) -> None:
    body = json.dumps(intake_body())
    token, raw = token_create(user=world.c.u_zhang, name="t")
    token_revoke(token=token)
    before = db_fingerprint()
    client = Client(enforce_csrf_checks=True)
    cases = [
        ({}, "auth.required"),
        ({"HTTP_AUTHORIZATION": "Bearer gz_" + "x" * 43}, "auth.invalid_token"),
        ({"HTTP_AUTHORIZATION": f"Bearer {raw}"}, "auth.invalid_token"),
    ]
    for headers, code in cases:
        shaped(client.post(URL, data=body, content_type="application/json", **headers), 401, code)
    assert db_fingerprint() == before


def test_a_logged_in_session_without_the_csrf_token_is_still_refused(world) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.c.u_zhang, backend="django.contrib.auth.backends.ModelBackend")
    before = db_fingerprint()
    shaped(client.post(URL, data=json.dumps(intake_body()), content_type="application/json"), 403, "csrf_failed")
    assert db_fingerprint() == before


# --- control characters --------------------------------------------------------------------------


def test_invisible_controls_are_removed_and_line_breaks_kept_in_a_text(world, zhang) -> None:
    text = "路灯\u202e坏了\x07\x1b[31m三天\r\n晚上\t看不见"
    r = Client().post(URL, data=json.dumps(intake_body(text=text)), content_type="application/json", **zhang)
    assert r.status_code == 201, r.content
    order = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert order.text == "路灯坏了[31m三天\n晚上 看不见"


# --- idempotency keys and ids out of scope ---------------------------------------------------------


@pytest.mark.parametrize("key", ["a key with spaces", "k" * 65, "键"])
def test_an_idempotency_key_header_outside_the_pattern_is_refused(world, zhang, key) -> None:
    before = db_fingerprint()
    r = Client().post(
        URL, data=json.dumps(intake_body()), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **zhang
    )
    assert "Idempotency-Key" in shaped(r, 422, "validation_error")["fields"]
    assert db_fingerprint() == before


def test_the_same_key_with_another_body_is_a_conflict_not_the_first_order(world, zhang) -> None:
    first = Client().post(
        URL, data=json.dumps(intake_body()), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1", **zhang
    )
    assert first.status_code == 201
    again = Client().post(
        URL, data=json.dumps(intake_body()), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1", **zhang
    )
    assert again.status_code == 200 and again.json()["order"]["id"] == first.json()["order"]["id"]
    before = db_fingerprint()
    other = intake_body(text="小区门口的井盖不见了，很危险")
    r = Client().post(URL, data=json.dumps(other), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1", **zhang)
    shaped(r, 409, "workorder.key_reused")
    assert db_fingerprint() == before


def test_a_resident_out_of_scope_answers_like_a_missing_one(world) -> None:
    from org.models import Resident

    grid_worker = bearer(world.c.u_li)  # 李网格: the grid of A1 only
    outside = Resident.objects.exclude(household__grid=world.c.a1).first()
    assert outside is not None
    answers = []
    for owner_id in (outside.pk, 10**9):
        r = Client().post(
            URL,
            data=json.dumps(intake_body(owner_id=owner_id, channel="proxy")),
            content_type="application/json",
            **grid_worker,
        )
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404


def test_an_auto_title_is_one_line(world, zhang) -> None:
    r = Client().post(
        URL, data=json.dumps(intake_body(text="村口\r\n路灯\t坏了\n三天")), content_type="application/json", **zhang
    )
    assert WorkOrder.objects.get(pk=r.json()["order"]["id"]).title.endswith("村口 路灯 坏了 三天")


# --- found in review -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [URL, "/api/v1/auth/token"])
def test_a_form_where_json_is_read_is_a_malformed_request_not_a_crash(world, zhang, path) -> None:
    before = db_fingerprint()
    r = Client().post(path, {"username": "zhang", "password": "x", "text": "路灯坏了"}, **zhang)
    shaped(r, 400, "malformed_request")
    assert db_fingerprint() == before


def test_a_password_is_read_as_typed_and_nested_texts_are_cleaned(world) -> None:
    world.c.u_zhang.set_password(" pw\twith\u200bodd ")
    world.c.u_zhang.save()
    body = {"username": "zhang", "password": " pw\twith\u200bodd "}
    r = Client().post("/api/v1/auth/token", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content

    from workorders.api import SubmitIn

    answers = SubmitIn(kind="service", text="代办残疾证", channel="mobile", form_data={"a": "x\u202ey", "b": ["q\x07"]})
    assert answers.form_data == {"a": "xy", "b": ["q"]}


def test_an_operation_documents_only_the_errors_it_can_give() -> None:
    from api.api import api

    paths = api.get_openapi_schema()["paths"]
    me = paths["/api/v1/me"]["get"]["responses"]
    assert "409" not in me and "413" not in me and "422" not in me
    submit = paths["/api/v1/workorders"]["post"]["responses"]
    assert {"400", "401", "404", "409", "413", "422", "429"} <= set(submit)
