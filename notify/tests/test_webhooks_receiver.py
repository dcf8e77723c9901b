"""A fake receiving system for the webhook and HTTP gateway tests: an HTTP server on 127.0.0.1 (a free port) in a
thread, which records every request, checks its signature with core.signing.verify, and answers as the test says
— fail so many times, be slow, answer 404 or a redirect. No test touches the network beyond it.

    with Receiver(secret) as r:
        r.fail_each = 3                      # each event's first three attempts: 500
        r.script = [Answer(302, location="/elsewhere")]   # the next answers, in order
        ... r.url ...; r.requests; r.acks    # event id → how many times it was acknowledged (2xx)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core import signing

# The receiver's clock is the machine's while a test's may be frozen in 2026: it checks the signature, and the
# tests check the timestamp against their own clock.
ANY_TIME = 10**11


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    location: str = ""
    body: bytes = b'{"ok":true}'


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None  # None: the receiver was given no secret to check with
    answered: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        try:
            return str(self.json.get("id", ""))
        except (ValueError, AttributeError):
            return ""


@dataclass
class Receiver:
    secret: str | list[str] | None = None
    fail_each: int = 0  # each event id's first n attempts answer `fail_status`
    fail_status: int = 500
    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=Answer)
    requests: list[Received] = field(default_factory=list)
    acks: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)
    hold: threading.Event | None = None  # when set by a test: each request waits for it (a receiver that hangs)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer_for(self, received: Received) -> Answer:
        if received.signature_ok is False:
            return Answer(401, body=b'{"error":"bad signature"}')
        event_id = received.event_id
        with self.lock:
            self.seen[event_id] += 1
            if self.script:
                return self.script.pop(0)
            if self.seen[event_id] <= self.fail_each:
                return Answer(self.fail_status, body=b"busy")
            return self.default

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok: bool | None = None
                if receiver.secret:
                    try:
                        signing.verify(
                            receiver.secret,
                            body,
                            timestamp=self.headers.get(signing.TIMESTAMP_HEADER),
                            signature_header=self.headers.get(signing.SIGNATURE_HEADER),
                            tolerance=ANY_TIME,
                        )
                        ok = True
                    except signing.BadSignature:
                        ok = False
                received = Received(self.path, dict(self.headers.items()), body, ok)
                with receiver.lock:
                    receiver.requests.append(received)
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                answer = receiver.answer_for(received)
                if answer.delay:
                    time.sleep(answer.delay)
                received.answered = answer.status
                if 200 <= answer.status < 300:  # counted before it is sent: the sender may read it at once
                    with receiver.lock:
                        receiver.acks[received.event_id] += 1
                try:
                    self.send_response(answer.status)
                    if answer.location:
                        self.send_header("Location", answer.location)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    return  # the sender gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, n: int, seconds: float = 30) -> bool:
        """Whether at least n requests came within `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if len(self.requests) >= n:
                return True
            time.sleep(0.02)
        return False


def free_port() -> int:
    """A port nothing listens on (a receiver that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the receiver itself ----------------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - our receiver
    try:
        with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310 - the test's own receiver
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_the_receiver_checks_signatures_and_follows_its_script():
    with Receiver("whsec_test") as r:
        body = b'{"id":"e1"}'
        assert _post(r.url, body, signing.sign("whsec_test", body)) == 200
        assert _post(r.url, body, signing.sign("whsec_other", body)) == 401
        assert _post(r.url, body, {}) == 401
        r.script = [Answer(503)]
        assert _post(r.url, body, signing.sign("whsec_test", body)) == 503
        assert [x.signature_ok for x in r.requests] == [True, False, False, True]
        assert r.acks == Counter({"e1": 1})


@pytest.mark.parametrize("n", [0, 2])
def test_the_receiver_fails_each_event_so_many_times(n):
    with Receiver(fail_each=n) as r:
        for event in ("a", "b"):
            codes = [_post(r.url, json.dumps({"id": event}).encode(), {}) for _ in range(n + 1)]
            assert codes == [500] * n + [200]
        assert r.acks == Counter({"a": 1, "b": 1})
