"""The HTTP gateway: SMS handed to a county's SMS platform (or a WeChat bridge) as a signed JSON POST, against a
fake platform on 127.0.0.1. Anything but a 2xx raises, so the outbox retries with its backoff."""

from __future__ import annotations

import datetime as dt

import pytest

from core import signing
from core.clock import SHANGHAI
from notify import services
from notify.gateways import GatewayError, HttpGateway, get_gateway
from notify.models import Message
from notify.tests.test_webhooks_receiver import Answer, Receiver, free_port

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
SECRET = "whsec_sms_platform"


@pytest.fixture
def platform(settings):
    with Receiver(SECRET) as r:
        settings.NOTIFY_HTTP_GATEWAY = {"URL": r.url, "SECRET": SECRET, "TIMEOUT": 2}
        yield r


def test_a_message_is_posted_signed(platform, at):
    at(T0)
    HttpGateway().send(phone="13800001234", text="您的诉求已办结，请评价")
    (req,) = platform.requests
    assert req.signature_ok is True
    assert req.headers[signing.TIMESTAMP_HEADER] == str(int(T0.timestamp()))
    assert req.json == {"phone": "13800001234", "text": "您的诉求已办结，请评价"}
    assert "您的诉求".encode() in req.body and req.headers["Content-Type"] == "application/json"
    # Whoever checks it with another secret refuses it.
    with pytest.raises(signing.BadSignature):
        signing.verify(
            "whsec_other", req.body, timestamp=req.headers[signing.TIMESTAMP_HEADER],
            signature_header=req.headers[signing.SIGNATURE_HEADER],
        )  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(500, body=b"quota exceeded"), "HTTP 500: quota exceeded"),
        (Answer(403, body=b""), "HTTP 403"),
        (Answer(302, location="/login"), "HTTP 302: redirect to /login not followed"),
    ],
)
def test_an_answer_that_is_not_2xx_raises(platform, answer, said):
    platform.script = [answer]
    with pytest.raises(GatewayError, match=said):
        HttpGateway().send(phone="13800001234", text="x")
    assert len(platform.requests) == 1


def test_a_platform_that_is_down_or_slow_raises(settings, platform):
    settings.NOTIFY_HTTP_GATEWAY = {"URL": f"http://127.0.0.1:{free_port()}/sms", "SECRET": SECRET, "TIMEOUT": 2}
    with pytest.raises(GatewayError, match=r"(?i)refused"):
        HttpGateway().send(phone="13800001234", text="x")
    settings.NOTIFY_HTTP_GATEWAY = {"URL": platform.url, "SECRET": SECRET, "TIMEOUT": 0.3}
    platform.script = [Answer(200, delay=1.5)]
    with pytest.raises(GatewayError, match="timed out"):
        HttpGateway().send(phone="13800001234", text="x")


@pytest.mark.parametrize(
    "conf",
    [
        {"URL": "", "SECRET": SECRET},
        {"URL": "http://127.0.0.1:9/sms", "SECRET": ""},
        {"URL": "file:///etc/passwd", "SECRET": SECRET},
    ],
)
def test_without_an_address_and_a_secret_nothing_is_sent(settings, conf):
    settings.NOTIFY_HTTP_GATEWAY = {**conf, "TIMEOUT": 1}
    with pytest.raises(GatewayError):
        HttpGateway().send(phone="13800001234", text="x")


@pytest.mark.django_db
def test_the_outbox_sends_through_it_and_retries_when_it_fails(settings, platform, county, at):
    settings.NOTIFY_GATEWAY = "notify.gateways.HttpGateway"
    assert isinstance(get_gateway(), HttpGateway)
    at(T0)
    m = services.message_queue(user=county.u_li, kind="workorder.supervise", text="督办：请报告进展")
    platform.script = [Answer(503, body=b"busy")]
    assert services.send_one() is True
    m.refresh_from_db()
    assert (m.sent_at, m.attempts, m.last_error) == (None, 1, "HTTP 503: busy")
    retry_at = at(m.send_after)
    assert services.send_one() is True
    m.refresh_from_db()
    assert (m.sent_at, m.attempts, m.last_error) == (retry_at, 2, "")
    assert [r.json for r in platform.requests] == [{"phone": "13312345678", "text": "督办：请报告进展"}] * 2
    assert all(r.signature_ok for r in platform.requests)
    assert Message.objects.filter(sent_at__isnull=True).count() == 0
