"""The whole site on one port, at WSGI speed: the ASGI application `manage.py serve` (and `make run`) hands
to granian.

Every request but the live streams goes to the WSGI application (gongzhi.wsgi) on a pool of WEB_THREADS
threads: the body is read on the event loop, the view runs in one hop to a thread, and the response comes
back whole (a streaming response — a file, an export — is sent a chunk at a time from that same thread).
Django's own ASGI handler runs a sync view through asgiref's thread-sensitive executor, and a2wsgi hops
between the loop and the thread for every read and every write; both cost more CPU per request than the
WSGI server itself (bench/intake.py --server serve|granian|uvicorn, README). The paths of ASYNC_PATHS — the
one-key-call stream, an async view holding a connection open for hours — go to Django's ASGI handler,
where one event loop serves them all. Lifespan events (granian and uvicorn send them) are acknowledged
here; Django's handler speaks only HTTP.

`django_application` is Django's plain ASGI handler, for a server that serves only the stream (the
deployment's separate stream process, deploy/).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")

from a2wsgi.wsgi import build_environ
from django.conf import settings
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from gongzhi.wsgi import application as wsgi_application  # noqa: E402

log = logging.getLogger("gongzhi.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Paths served by async views (prefixes): everything else is a sync view and goes to the WSGI pool.
ASYNC_PATHS: tuple[str, ...] = ("/sos/stream/",)
# A request body is read whole before the view runs: kept in memory up to BODY_IN_MEMORY, spooled to a temporary
# file above it (a hotline file of 200 MB costs no memory). One declared or grown larger than BODY_MAX is refused
# with 413 before any view runs; Django's own limits (DATA_UPLOAD_MAX_MEMORY_SIZE, a photo's size, a hotline
# file's) answer after it, with their own messages.
BODY_MAX = int(os.environ.get("GONGZHI_REQUEST_BODY_MAX", str(256 * 1024 * 1024)))
BODY_IN_MEMORY = 1024 * 1024

_pool = ThreadPoolExecutor(max_workers=settings.WEB_THREADS, thread_name_prefix="gongzhi-wsgi")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _start(status: str, headers: list[tuple[str, str]]) -> Message:
    return {
        "type": "http.response.start",
        "status": int(status.split(" ", 1)[0]),
        "headers": [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers],
    }


def _call(environ: dict[str, Any], send: Send, loop: asyncio.AbstractEventLoop) -> Message | None:
    """In a pool thread: run the WSGI app. An ordinary response comes back as (start, body) messages for
    the loop to send; a streaming one is sent from here, chunk by chunk, and None comes back."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None, /) -> Any:
        started[:] = [status, headers]

    result = wsgi_application(environ, start_response)
    try:
        if not getattr(result, "streaming", False):
            body = b"".join(result)
            start = _start(*started)
            start["body"] = body
            return start

        def push(message: Message) -> None:
            asyncio.run_coroutine_threadsafe(_coroutine(send, message), loop).result()

        push(_start(*started))
        for chunk in result:
            if chunk:
                push({"type": "http.response.body", "body": chunk, "more_body": True})
        push({"type": "http.response.body", "body": b""})
        return None
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # Django's request_finished: this thread's database connections are let go


async def _coroutine(send: Send, message: Message) -> None:
    # asyncio.run_coroutine_threadsafe wants a coroutine; granian's send() returns an awaitable of its own.
    await send(message)


async def _too_large(send: Send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Request body too large"})


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _sync_view(scope: Scope, receive: Receive, send: Send) -> None:
    if _declared_length(scope) > BODY_MAX:
        await _too_large(send)
        return
    body = tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY)  # noqa: SIM115 - closed below
    try:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > BODY_MAX:
                await _too_large(send)
                return
            body.write(chunk)
            if not message.get("more_body", False):
                break
        body.seek(0)
        if any(b"_" in name for name, _value in scope.get("headers", ())):
            # X_Forwarded_For would become HTTP_X_FORWARDED_FOR beside the real one: such names are dropped, as
            # gunicorn and nginx (by default) do.
            scope = {**scope, "headers": [(n, v) for n, v in scope["headers"] if b"_" not in n]}
        environ: dict[str, Any] = build_environ(scope, body)  # type: ignore[arg-type,assignment]
        # The length read, whatever the request said (or did not say: chunked, HTTP/2): Django reads this many.
        environ["CONTENT_LENGTH"] = str(size)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        start = await loop.run_in_executor(_pool, functools.partial(context.run, _call, environ, send, loop))
    finally:
        body.close()
    if start is not None:
        body_message = {"type": "http.response.body", "body": start.pop("body")}
        await send(start)
        await send(body_message)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and not scope["path"].startswith(ASYNC_PATHS):
        await _sync_view(scope, receive, send)
    else:
        await django_application(scope, receive, send)  # type: ignore[arg-type]
