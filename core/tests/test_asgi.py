"""gongzhi.asgi: the one-port application `make run` serves — sync views on the WSGI pool, the live stream on
Django's ASGI handler, lifespan acknowledged. Driven here with fake WSGI apps and ASGI messages; the real
server (granian) is driven by the process tests (sos/tests/test_fault.py, core/tests/test_serve.py)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import gongzhi.asgi as one_port


def _run(scope: dict[str, Any], chunks: list[bytes], *, disconnect: bool = False) -> list[dict[str, Any]]:
    """Send `chunks` as the request body; the messages the app sent back."""
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    if disconnect:
        incoming[-1]["more_body"] = True
        incoming.append({"type": "http.disconnect"})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(one_port.application(scope, receive, send))
    return sent


def _scope(path: str = "/api/v1/workorders", method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
        "root_path": "", "scheme": "http", "query_string": b"a=1", "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.5", 50123), "headers": [(b"content-type", b"application/json"), (b"x-trace", b"t1")],
    }  # fmt: skip


@pytest.fixture
def echo(monkeypatch):
    seen: dict[str, Any] = {}

    def app(environ, start_response):
        seen.update(environ=environ, body=environ["wsgi.input"].read(), thread=threading.current_thread().name)
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", environ["HTTP_X_TRACE"])])
        return [b"got ", seen["body"]]

    monkeypatch.setattr(one_port, "wsgi_application", app)
    return seen


def test_a_request_reaches_the_wsgi_app_whole_and_its_answer_comes_back(echo):
    sent = _run(_scope(), [b'{"text": ', b'"\xe8\xb7\xaf\xe7\x81\xaf"}'])
    assert echo["body"] == '{"text": "路灯"}'.encode()
    env = echo["environ"]
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["QUERY_STRING"], env["REMOTE_ADDR"]) == (
        "POST", "/api/v1/workorders", "a=1", "10.0.0.5",
    )  # fmt: skip
    assert echo["thread"].startswith("gongzhi-wsgi")  # the view ran on the pool, not the event loop
    assert sent[0] == {"type": "http.response.start", "status": 201,
                       "headers": [(b"content-type", b"text/plain"), (b"x-seen", b"t1")]}  # fmt: skip
    assert sent[1] == {"type": "http.response.body", "body": 'got {"text": "路灯"}'.encode()}
    assert len(sent) == 2


def test_an_oversized_body_is_refused_before_any_view_runs(echo, monkeypatch):
    monkeypatch.setattr(one_port, "BODY_MAX", 10)
    sent = _run(_scope(), [b"12345678", b"90abc"])
    assert sent[0]["status"] == 413 and sent[1]["body"] == b"Request body too large"
    assert echo == {}


def test_a_body_without_content_length_reaches_the_view_whole(echo):
    """Chunked HTTP/1.1 or HTTP/2 without content-length: Django reads CONTENT_LENGTH bytes, so it is set to
    what was read (left out, Django would read nothing and the POST would be lost)."""
    sent = _run(_scope(), [b"part one, ", b"part two"])
    assert echo["body"] == b"part one, part two" and echo["environ"]["CONTENT_LENGTH"] == "18"
    assert sent[0]["status"] == 201


def test_a_declared_length_over_the_limit_is_refused_unread(echo, monkeypatch):
    monkeypatch.setattr(one_port, "BODY_MAX", 1000)
    scope = _scope()
    scope["headers"].append((b"content-length", b"5000"))
    sent = _run(scope, [b"x" * 10])
    assert sent[0]["status"] == 413 and echo == {}


def test_a_large_body_is_spooled_and_arrives_intact(echo, monkeypatch):
    monkeypatch.setattr(one_port, "BODY_IN_MEMORY", 1024)
    chunks = [bytes([i]) * 700 for i in range(5)]
    _run(_scope(), chunks)
    assert echo["body"] == b"".join(chunks)


def test_a_header_name_with_an_underscore_cannot_pose_as_a_forwarded_address(echo):
    scope = _scope()
    scope["headers"] += [(b"x-forwarded-for", b"10.9.9.9"), (b"x_forwarded_for", b"203.0.113.66")]
    _run(scope, [b""])
    assert echo["environ"]["HTTP_X_FORWARDED_FOR"] == "10.9.9.9"


def test_a_client_gone_before_its_body_arrived_runs_nothing(echo):
    assert _run(_scope(), [b"half"], disconnect=True) == []
    assert echo == {}


def test_a_streaming_response_is_sent_chunk_by_chunk_from_the_views_thread(monkeypatch):
    threads: list[str] = []

    class Streaming:
        streaming = True
        closed = False

        def __iter__(self):
            for part in (b"a,b\n", b"", b"1,2\n"):
                threads.append(threading.current_thread().name)
                yield part

        def close(self):
            Streaming.closed = True
            threads.append(threading.current_thread().name)

    def app(environ, start_response):
        threads.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Type", "text/csv")])
        return Streaming()

    monkeypatch.setattr(one_port, "wsgi_application", app)
    sent = _run(_scope(method="GET"), [b""])
    assert [m.get("body") for m in sent] == [None, b"a,b\n", b"1,2\n", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, False]
    assert Streaming.closed and len(set(threads)) == 1  # one thread: its database connection, its transaction


def test_the_live_stream_goes_to_djangos_asgi_handler(echo, monkeypatch):
    called: list[str] = []

    async def django_app(scope, receive, send):
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: ping\n\n"})

    monkeypatch.setattr(one_port, "django_application", django_app)
    sent = _run(_scope("/sos/stream/", "GET"), [b""])
    assert called == ["/sos/stream/"] and sent[1]["body"] == b"event: ping\n\n"
    assert echo == {}


def test_lifespan_is_acknowledged():
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(one_port.application({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


@pytest.mark.django_db(transaction=True)
def test_the_real_site_through_the_bridge(settings):
    """Django's own stack behind it: the health check's JSON and status."""
    settings.WORKER_COMMANDS = []
    sent = _run(_scope("/healthz", "GET"), [b""])
    assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"status": "ok"}'
