"""The stream's hub under every interleaving of joins, leaves and a dying poller (issue 23, point 1).

After a server restart every screen reconnects within its 2 s retry: joins arrive together. There must
be one poller per hub whatever the order, and each listener must get every event after the id it was
told exactly once, in order. Here the database is a list in memory and sync_to_async a coroutine that
yields once to the loop (where a thread would run): the scheduling is the same on every run, and a
test can hold the poller inside its read to force an interleaving. The streams over a real database
are in test_stream.py."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from sos import stream


class _Feed:
    """CallEvent as the hub reads it (stream._rows, stream._last_id), with gates to hold either read
    (by the name of the function read through sync_to_async: "rows", "last_id")."""

    def __init__(self) -> None:
        self.ids: list[int] = list(range(1, 101))  # what happened before anyone listened
        self.held: dict[str, asyncio.Event] = {}
        self.waiting: set[str] = set()

    @property
    def last(self) -> int:
        return self.ids[-1]

    def publish(self, n: int = 1) -> list[int]:
        new = list(range(self.last + 1, self.last + 1 + n))
        self.ids += new
        return new

    def rows(self, after: int, upto: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return [{"id": i} for i in self.ids if i > after and (upto is None or i <= upto)][:limit]

    def last_id(self) -> int:
        return self.last

    def inline(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            gate = self.held.get(fn.__name__)
            if gate is not None:
                self.waiting.add(fn.__name__)
                await gate.wait()
                self.waiting.discard(fn.__name__)
            await asyncio.sleep(0)  # where a thread would run: others go on meanwhile
            return fn(*args, **kwargs)

        return call

    def hold(self, name: str) -> None:
        self.held[name] = asyncio.Event()

    def release(self, name: str) -> None:
        self.held.pop(name).set()


class _Pollers:
    started = 0
    running = 0
    most = 0


@pytest.fixture
def feed(monkeypatch):
    f = _Feed()
    monkeypatch.setattr(stream, "_rows", f.rows)
    monkeypatch.setattr(stream, "_last_id", f.last_id)
    monkeypatch.setattr(stream, "sync_to_async", f.inline)
    monkeypatch.setattr(stream, "POLL_SECONDS", 0)  # a poller with nothing to read yields once and reads again
    return f


@pytest.fixture
def pollers(monkeypatch):
    """How many pollers were started, and the most that ran at once."""
    p = _Pollers()
    run = stream.Hub._run

    async def counted(self):
        p.started += 1
        p.running += 1
        p.most = max(p.most, p.running)
        try:
            await run(self)
        finally:
            p.running -= 1

    monkeypatch.setattr(stream.Hub, "_run", counted)
    return p


async def _until(done: Callable[[], bool], ticks: int = 10_000) -> None:
    for _ in range(ticks):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def _drain(listener) -> list[int | None]:
    out = []
    while not listener.queue.empty():
        row = listener.queue.get_nowait()
        out.append(None if row is None else row["id"])
    return out


def _everyone(row) -> bool:
    return True


def _even(row) -> bool:
    return row["id"] % 2 == 0


async def _delivered(h: stream.Hub, f: _Feed) -> None:
    await _until(lambda: h.last_id == f.last)


async def _hang_up(h: stream.Hub) -> None:
    """Every screen leaves, and the poller stops (a loop closed under it would end their queues)."""
    for listener in list(h.listeners):
        h.leave(listener)
    await _until(lambda: h.task is None)


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_listeners_joining_together_share_one_poller_and_get_every_event_once(feed, pollers, seed):
    """20 joins in the same tick (seed None, the soak run's reconnect), or spread over the first few
    ticks so that some arrive while the first is still reading where to start."""
    delays = [0 if seed is None else random.Random(seed).randrange(4) for _ in range(20)]

    async def run():
        h = stream.Hub()

        async def join(k: int):
            for _ in range(delays[k]):
                await asyncio.sleep(0)
            return await h.join(_even if k % 3 == 0 else _everyone)

        joined = await asyncio.gather(*(join(k) for k in range(20)))
        for n in (1, 7, 12):
            feed.publish(n)
            await _delivered(h, feed)
        await _hang_up(h)
        return joined

    joined = asyncio.run(run())
    assert (pollers.started, pollers.most) == (1, 1)
    for k, (listener, upto) in enumerate(joined):
        assert upto == 100
        sees = _even if k % 3 == 0 else _everyone
        assert _drain(listener) == [i for i in range(101, 121) if sees({"id": i})], k


@pytest.mark.parametrize("join_first", [False, True])
def test_the_last_listener_leaving_as_another_joins_keeps_the_poller(feed, pollers, join_first):
    async def run():
        h = stream.Hub()
        first, _ = await h.join(_everyone)
        feed.publish(2)
        await _delivered(h, feed)
        task = h.task
        if join_first:
            second, upto = await h.join(_everyone)
            h.leave(first)
        else:
            h.leave(first)  # nobody listens now, but the poller has not looked yet
            second, upto = await h.join(_everyone)
        feed.publish(3)
        await _delivered(h, feed)
        same = h.task is task
        await _hang_up(h)
        return same, _drain(first), _drain(second), upto

    same, first, second, upto = asyncio.run(run())
    assert same and (pollers.started, pollers.most) == (1, 1)
    assert first == [101, 102]
    assert upto == 102 and second == [103, 104, 105]


def test_a_listener_joining_while_the_poller_reads_for_nobody_gets_what_it_reads(feed, pollers):
    """The last listener left while the poller was inside its read; a new one joins before the read
    returns: the poller goes on for it, and what it read is the new listener's, once."""

    async def run():
        h = stream.Hub()
        first, _ = await h.join(_everyone)
        await _delivered(h, feed)
        feed.hold("rows")
        await _until(lambda: "rows" in feed.waiting)
        h.leave(first)
        second, upto = await h.join(_everyone)  # the poller is running: no second one
        feed.publish(4)
        feed.release("rows")
        await _delivered(h, feed)
        feed.publish(1)
        await _delivered(h, feed)
        await _hang_up(h)
        return first, second, upto

    first, second, upto = asyncio.run(run())
    assert (pollers.started, pollers.most) == (1, 1)
    assert _drain(first) == []
    assert upto == 100 and _drain(second) == [101, 102, 103, 104, 105]


def test_after_the_poller_stopped_for_want_of_listeners_joins_at_once_start_exactly_one(feed, pollers):
    async def run():
        h = stream.Hub()
        first, _ = await h.join(_everyone)
        await _delivered(h, feed)
        h.leave(first)
        await _until(lambda: h.task is None)  # it saw nobody and stopped
        feed.publish(3)  # happened while nobody listened: not for the screens that join now
        feed.hold("last_id")  # the first join is slow to find where to start: the others pile up behind it
        joining = asyncio.gather(*(h.join(_everyone) for _ in range(10)))
        await _until(lambda: "last_id" in feed.waiting)
        for _ in range(10):
            await asyncio.sleep(0)
        assert h.task is None and not h.listeners
        feed.release("last_id")
        joined = await joining
        feed.publish(2)
        await _delivered(h, feed)
        await _hang_up(h)
        return joined

    joined = asyncio.run(run())
    assert (pollers.started, pollers.most) == (2, 1)
    for listener, upto in joined:
        assert upto == 103 and _drain(listener) == [104, 105]


@pytest.mark.parametrize("seed", range(6))
def test_joins_and_leaves_in_any_interleaving_keep_one_poller_and_lose_nothing(feed, pollers, seed):
    """A few hundred random steps: screens joining (some together), leaving (the last one too), events
    published, the loop turned a few times. Whatever the order: never two pollers; each listener got,
    in order and once, every event after the id it was told, up to when it left."""
    rnd = random.Random(seed)

    async def run():
        h = stream.Hub()
        joined: list[tuple[Any, int]] = []
        present: list[Any] = []

        async def screen():
            listener, upto = await h.join(_everyone)
            joined.append((listener, upto))
            present.append(listener)

        pending = []
        for _ in range(300):
            step = rnd.random()
            if step < 0.3:
                pending += [asyncio.ensure_future(screen()) for _ in range(rnd.choice((1, 1, 3, 10)))]
            elif step < 0.55 and present:
                for _ in range(rnd.choice((1, len(present)))):  # one, or everybody
                    h.leave(present.pop(rnd.randrange(len(present))))
            elif step < 0.75:
                feed.publish(rnd.randrange(1, 4))
            for _ in range(rnd.randrange(4)):
                await asyncio.sleep(0)
        await asyncio.gather(*pending)
        pending = [asyncio.ensure_future(screen()) for _ in range(3)]  # the last ones stay to the end
        await asyncio.gather(*pending)
        feed.publish(2)
        await _delivered(h, feed)
        await _hang_up(h)
        return joined, present

    joined, present = asyncio.run(run())
    assert pollers.most == 1
    assert pollers.started > 1  # the poller stopped and started again along the way
    for listener, upto in joined:
        got = _drain(listener)
        assert None not in got
        last = got[-1] if got else upto
        assert got == [i for i in feed.ids if upto < i <= last], (upto, got)
        if listener in present:
            assert last == feed.last


def test_a_poller_that_dies_ends_its_streams_and_the_next_joins_start_exactly_one(feed, pollers, caplog):
    def broken(row) -> bool:
        if row["id"] == 103:
            raise RuntimeError("a gate that cannot read this row")
        return True

    async def run():
        h = stream.Hub()
        others = [(await h.join(_everyone))[0] for _ in range(2)]
        await h.join(broken)
        feed.publish(5)
        await _until(lambda: pollers.started == 1 and pollers.running == 0)
        assert h.task is None and not h.listeners
        ended = [_drain(o) for o in others]
        joined = await asyncio.gather(*(h.join(_everyone) for _ in range(5)))
        feed.publish(2)
        await _delivered(h, feed)
        await _hang_up(h)
        return ended, joined

    with caplog.at_level(logging.ERROR, logger="sos.stream"):
        ended, joined = asyncio.run(run())
    # What was read before the fault went out (103 too for a listener served before the broken one);
    # then the stream ends, and the screen resumes from the last id it got.
    assert all(got in ([101, 102, None], [101, 102, 103, None]) for got in ended), ended
    assert "the poller died" in caplog.text and "a gate that cannot read this row" in caplog.text
    assert (pollers.started, pollers.most) == (2, 1)
    for listener, upto in joined:
        assert upto == 105 and _drain(listener) == [106, 107]


def test_a_cancelled_poller_ends_its_streams_and_the_next_join_starts_a_fresh_one(feed, pollers):
    async def run():
        h = stream.Hub()
        first, _ = await h.join(_everyone)
        await _until(lambda: pollers.running == 1)
        await asyncio.sleep(0)  # inside its loop
        task = h.task
        assert task is not None
        task.cancel()
        await _until(task.done)
        assert h.task is None and not h.listeners
        feed.publish(1)
        joined = await asyncio.gather(*(h.join(_everyone) for _ in range(3)))
        feed.publish(1)
        await _delivered(h, feed)
        await _hang_up(h)
        return first, joined, h.task is not task

    first, joined, fresh = asyncio.run(run())
    assert _drain(first) == [None] and fresh
    assert (pollers.started, pollers.most) == (2, 1)
    assert [(upto, _drain(listener)) for listener, upto in joined] == [(101, [102])] * 3


def test_a_poller_cancelled_before_it_ran_leaves_no_listener_unfed(feed, pollers):
    """Its listener is ended by the next join (which starts the next poller): it would otherwise sit in
    the hub past the gap, from an id the fresh poller does not read from."""

    async def run():
        h = stream.Hub()
        first, _ = await h.join(_everyone)
        task = h.task
        assert task is not None
        task.cancel()  # before its first step
        await asyncio.gather(task, return_exceptions=True)
        feed.publish(1)
        second, upto = await h.join(_everyone)
        feed.publish(1)
        await _delivered(h, feed)
        await _hang_up(h)
        return _drain(first), upto, _drain(second)

    assert asyncio.run(run()) == ([None], 101, [102])
    assert (pollers.started, pollers.most) == (1, 1)  # the cancelled one never ran
