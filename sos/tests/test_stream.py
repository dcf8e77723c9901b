"""The live feed over Server-Sent Events: what a screen receives, from whichever process wrote it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from accounts import services as accounts
from sos import services
from sos.models import CallEvent


async def _next_event(it, timeout: float = 10) -> dict:
    while True:
        chunk = await asyncio.wait_for(it.__anext__(), timeout)
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith("id: "):
            lines = dict(line.split(": ", 1) for line in text.strip().split("\n"))
            return {"id": int(lines["id"]), **json.loads(lines["data"])}


@pytest.mark.django_db(transaction=True)
def test_a_responder_screen_receives_a_call_raised_after_it_connected(world):
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)

    async def run():
        client = AsyncClient()
        await client.aforce_login(c.u_li)
        response = await client.get("/sos/stream/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        it = response.streaming_content.__aiter__()
        assert (await it.__anext__()).startswith(b"retry:")  # connected: from here on it hears everything
        await sync_to_async(services.call_raise)(profile=profile, kind="emergency", channel="button", by=c.u_zhang)
        first = await _next_event(it)
        second = await _next_event(it)
        await it.aclose()
        return first, second

    first, second = async_to_sync(run)()
    assert first["event"]["action"] == "raise"
    assert second["event"]["action"] == "alert" and second["event"]["to_users"] == [c.u_li.pk]
    assert second["call"]["resident_name"] == "张阿姨" and second["call"]["state"] == "raised"


@pytest.mark.django_db(transaction=True)
def test_a_reconnecting_screen_gets_what_it_missed_and_an_outsider_gets_nothing(world):
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)
    before = CallEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    services.call_raise(profile=profile, kind="service", channel="button", by=c.u_zhang)
    _t, raw = accounts.token_create(user=c.u_li, name="screen")

    async def run():
        client = AsyncClient()
        bearer = {"Authorization": f"Bearer {raw}"}
        response = await client.get("/sos/stream/", headers={**bearer, "Last-Event-ID": str(before)})
        assert response.status_code == 200, response.content
        it = response.streaming_content.__aiter__()
        missed = [await _next_event(it), await _next_event(it)]
        await it.aclose()
        outsider = AsyncClient()
        await outsider.aforce_login(c.u_sun)
        r2 = await outsider.get(f"/sos/stream/?after={before}")
        it2 = r2.streaming_content.__aiter__()
        got = None
        try:
            got = await _next_event(it2, timeout=1.5)
        except TimeoutError:
            pass
        finally:
            await it2.aclose()
        anonymous = await AsyncClient().get("/sos/stream/")
        bad = await client.get("/sos/stream/", headers={**bearer, "Last-Event-ID": "abc"})
        return missed, got, anonymous, bad

    missed, got, anonymous, bad = async_to_sync(run)()
    assert [m["event"]["action"] for m in missed] == ["raise", "alert"]
    assert got is None
    assert (anonymous.status_code, bad.status_code) == (401, 400)
    # In the API's error shape, like every other answer a token client gets.
    assert anonymous.json()["error"]["code"] == "auth.required"
    assert bad.json()["error"]["code"] == "malformed_request"
    assert "Last-Event-ID" in bad.json()["error"]["fields"]


@pytest.mark.django_db
def test_the_streams_rule_is_the_api_rule_for_every_persona(world, care):
    """viewer_for holds sos.selectors.calls_for in memory: for every persona, the same calls."""
    from sos.selectors import calls_for
    from sos.stream import _rows, viewer_for

    c = world.c
    chen = services.care_register(resident=c.chen, by=c.u_zhou)
    services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang)
    services.call_raise(profile=chen, kind="service", channel="staff", by=c.u_zhou)
    rows = _rows(0)
    personas = [v for k, v in vars(c).items() if k.startswith("u_")] + [world.u_feng]
    assert len(personas) >= 10
    for user in personas:
        viewer = viewer_for(user)
        streamed = {r["call"]["id"] for r in rows if viewer.sees(r)}
        assert streamed == set(calls_for(user).values_list("pk", flat=True)), user


# --- a viewer who may no longer watch ---------------------------------------------------------------


def _revoke_token(c, token) -> None:
    accounts.token_revoke(token=token)


def _remove_roles(c, token) -> None:
    from accounts.models import RoleAssignment

    for assignment in RoleAssignment.objects.filter(user=c.u_wu):
        accounts.role_revoke(assignment=assignment)


def _deactivate(c, token) -> None:
    c.u_wu.is_active = False
    c.u_wu.save()


def _off_the_chain(c, token) -> None:
    profile = c.zhang.care
    services.chain_set(profile=profile, by=c.u_li, rungs=[{"user": c.u_li, "kind": "grid_worker"}])


async def _log_out(c, token, client) -> None:
    await client.alogout()


def _session_gone(c, token) -> None:
    from django.contrib.sessions.models import Session

    Session.objects.all().delete()  # expired or removed behind the stream's back: no counter moves


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("viewer", "bearer", "revoke", "seconds"),
    [
        ("u_wu", True, _revoke_token, 1.5),  # 吴镇干's screen on an API token, revoked
        ("u_wu", False, _remove_roles, 1.5),  # logged in, and his roles taken away
        ("u_wu", True, _deactivate, 1.5),  # his account switched off
        ("u_wu", False, _deactivate, 1.5),
        ("u_wu", False, _log_out, 1.5),
        ("u_liu", False, _off_the_chain, 1.5),  # 刘党员 sees 张阿姨's calls through her chain, then is taken off it
        ("u_wu", False, _session_gone, 16),  # found at the next full re-check (RECHECK_SECONDS)
    ],
)
def test_an_open_stream_stops_within_a_second_once_its_viewer_may_no_longer_watch(
    world, monkeypatch, viewer, bearer, revoke, seconds
):
    """Nothing more is delivered, not even what was already on its way to the screen: the stream says
    `revoked` and ends. The clock is the project's (core.clock): no real second passes."""
    from core.clock import frozen
    from sos import stream
    from workorders.tests.helpers import at

    monkeypatch.setattr(stream, "POLL_SECONDS", 0.01)
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)
    user = getattr(c, viewer)
    token, raw = accounts.token_create(user=user, name="screen")
    t0 = at("2025-06-03 10:00:00")

    async def run():
        with frozen(t0):
            client = AsyncClient()
            if bearer:
                response = await client.get("/sos/stream/", headers={"Authorization": f"Bearer {raw}"})
            else:
                await client.aforce_login(user)
                response = await client.get("/sos/stream/")
            assert response.status_code == 200
            it = response.streaming_content.__aiter__()
            assert (await it.__anext__()).startswith(b"retry:")
            await sync_to_async(services.call_raise)(profile=profile, kind="emergency", channel="button", by=c.u_zhang)
            seen = await _next_event(it)  # the screen is live
            if asyncio.iscoroutinefunction(revoke):
                await revoke(c, token, client)
            else:
                await sync_to_async(revoke)(c, token)
            await sync_to_async(services.call_raise)(profile=profile, kind="service", channel="button", by=c.u_zhang)
            last = await sync_to_async(lambda: CallEvent.objects.order_by("-id").values_list("id", flat=True)[0])()
            h = stream.hub()
            for _ in range(500):  # the poller has read the new call and queued it for the screen
                if (h.last_id or 0) >= last:
                    break
                await asyncio.sleep(0.01)
        rest = []
        with frozen(t0 + dt.timedelta(seconds=seconds)):
            try:
                while True:
                    chunk = await asyncio.wait_for(it.__anext__(), 3)
                    rest.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
            except StopAsyncIteration:
                ended = True
            except TimeoutError:
                ended = False
            finally:
                await it.aclose()
        return seen, rest, ended

    seen, rest, ended = async_to_sync(run)()
    assert seen["event"]["action"] == "raise"
    assert not [r for r in rest if "event: call" in r], rest
    assert ended and rest and rest[-1].startswith("event: revoked")


@pytest.mark.django_db
def test_a_change_that_takes_nothing_from_the_viewer_leaves_the_stream_open(world, monkeypatch):
    """Someone else's role taken away, the viewer given one more: the counters move, the viewer is
    re-checked, and the screen goes on receiving (what it newly may see included)."""
    from core.clock import frozen
    from sos import stream
    from workorders.tests.helpers import at

    monkeypatch.setattr(stream, "POLL_SECONDS", 0.01)
    c = world.c
    zhang = services.care_register(resident=c.zhang, by=c.u_li)
    huang = services.care_register(resident=c.huang, by=c.u_wu)  # 西村: not in 李网格's area
    t0 = at("2025-06-03 10:00:00")

    async def run():
        with frozen(t0):
            client = AsyncClient()
            await client.aforce_login(c.u_li)
            response = await client.get("/sos/stream/")
            it = response.streaming_content.__aiter__()
            assert (await it.__anext__()).startswith(b"retry:")

            def change():
                from accounts.models import Role, RoleAssignment

                accounts.role_revoke(assignment=RoleAssignment.objects.get(user=c.u_sun))
                accounts.role_assign(user=c.u_li, role=Role.GRID_WORKER, node=c.b1)

            await sync_to_async(change)()
        with frozen(t0 + dt.timedelta(seconds=1.5)):
            (listener,) = stream.hub().listeners
            before = listener.sees
            first = asyncio.ensure_future(_next_event(it))
            for _ in range(500):  # the stream has looked again and taken over the wider gate
                if listener.sees != before:
                    break
                await asyncio.sleep(0.01)
            await sync_to_async(services.call_raise)(profile=huang, kind="service", channel="button", by=c.u_wu)
            await sync_to_async(services.call_raise)(profile=zhang, kind="service", channel="button", by=c.u_zhang)
            got = [await first] + [await _next_event(it) for _ in range(3)]
            await it.aclose()
        return got

    got = async_to_sync(run)()
    assert [(g["call"]["resident_name"], g["event"]["action"]) for g in got] == [
        ("黄婶", "raise"), ("黄婶", "alert"), ("张阿姨", "raise"), ("张阿姨", "alert"),
    ]  # fmt: skip


def test_a_database_blip_holds_the_viewer_as_last_checked_for_a_while_then_ends_the_stream(monkeypatch):
    """While the change counters cannot be read nothing new reaches the stream anyway (the hub reads
    nothing either); past RECHECK_SECONDS the stream can no longer vouch for its viewer and ends."""
    from django.db import OperationalError

    from core.clock import frozen
    from sos import stream
    from sos.selectors import CallGate
    from workorders.tests.helpers import at

    def down():
        raise OperationalError("database is locked")

    monkeypatch.setattr(stream, "_marker", down)
    gate = CallGate(user_id=1, profile_ids=frozenset(), staff_paths=("/1/",))
    t0 = at("2025-06-03 10:00:00")

    async def run():
        with frozen(t0):
            watch = stream._Watch(stream.Hub(), stream._Credential(token="gz_x"), gate, (0, 0, 0))
        answers = []
        for seconds in (2, 10, stream.RECHECK_SECONDS + 1, stream.RECHECK_SECONDS + 30):
            with frozen(t0 + dt.timedelta(seconds=seconds)):
                answers.append(await watch.current())
        return answers

    assert async_to_sync(run)() == [gate, gate, None, None]


# --- many screens at once, and a poller that dies (issue 23; the hub alone: test_stream_race.py) -----


def _count_pollers(monkeypatch) -> dict[str, int]:
    """How many of the hub's pollers were started, and the most that ran at once."""
    from sos import stream

    counts = {"started": 0, "running": 0, "most": 0}
    run = stream.Hub._run

    async def counted(self):
        counts["started"] += 1
        counts["running"] += 1
        counts["most"] = max(counts["most"], counts["running"])
        try:
            await run(self)
        finally:
            counts["running"] -= 1

    monkeypatch.setattr(stream.Hub, "_run", counted)
    return counts


async def _take(it, n: int) -> list[dict]:
    return [await _next_event(it) for _ in range(n)]


def _event_ids(after: int) -> list[int]:
    return list(CallEvent.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True))


@pytest.mark.django_db
def test_screens_connecting_at_once_share_one_poller_and_get_each_event_once_in_order(world, monkeypatch):
    """After a restart every screen reconnects within its 2 s retry: 20 streams join in the same tick.
    One poller reads for all of them; each screen gets every event once, in order, and then the next."""
    from sos import stream

    monkeypatch.setattr(stream, "POLL_SECONDS", 0.01)
    pollers = _count_pollers(monkeypatch)
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)
    before = CallEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def raise_call():
        services.call_raise(profile=profile, kind="service", channel="staff", by=c.u_li)

    async def run():
        client = AsyncClient()
        await client.aforce_login(c.u_li)
        its = []
        for _ in range(20):
            response = await client.get("/sos/stream/")
            its.append(response.streaming_content.__aiter__())
        hello = await asyncio.gather(*(it.__anext__() for it in its))  # the 20 joins, together
        for _ in range(3):
            await sync_to_async(raise_call)()
        published = await sync_to_async(_event_ids)(before)
        got = await asyncio.gather(*(_take(it, len(published)) for it in its))
        await sync_to_async(raise_call)()  # one more: what comes next on every screen is its first event
        then = await asyncio.gather(*(_next_event(it) for it in its))
        for it in its:
            await it.aclose()
        return hello, published, got, then

    hello, published, got, then = async_to_sync(run)()
    # Each screen is told where it stands even before any event: a cut stream resumes from there.
    assert hello == [f"retry: 2000\nid: {before}\n\n".encode()] * 20
    assert len(published) == 6  # a raise and an alert to 李网格 for each call
    for frames in got:
        assert [f["id"] for f in frames] == published
    assert all(f["id"] > published[-1] and f["event"]["action"] == "raise" for f in then), then
    assert (pollers["started"], pollers["most"]) == (1, 1)


@pytest.mark.django_db
def test_a_poller_that_dies_ends_its_streams_and_they_resume_from_their_last_id(world, monkeypatch):
    """The hub's poller cancelled under two open screens, one that has had events and one that joined
    after them: both streams end (not `revoked`: the page is not reloaded), a call is raised while nobody
    polls, and each screen, reconnecting with the id it holds (the idle one: the id it was told on
    connecting), gets it once, then what follows; one fresh poller serves them."""
    from sos import stream

    monkeypatch.setattr(stream, "POLL_SECONDS", 0.01)
    pollers = _count_pollers(monkeypatch)
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)

    def raise_call():
        services.call_raise(profile=profile, kind="service", channel="staff", by=c.u_li)

    async def rest(it) -> list[str]:
        out = []
        try:
            while True:
                chunk = await asyncio.wait_for(it.__anext__(), 10)
                out.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        except StopAsyncIteration:
            return out

    async def run():
        client = AsyncClient()
        await client.aforce_login(c.u_li)
        busy = (await client.get("/sos/stream/")).streaming_content.__aiter__()
        await busy.__anext__()
        await sync_to_async(raise_call)()
        seen = [await _next_event(busy), await _next_event(busy)]
        idle = (await client.get("/sos/stream/")).streaming_content.__aiter__()
        hello = (await idle.__anext__()).decode()
        task = stream.hub().task
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        ended = [await rest(busy), await rest(idle)]
        await sync_to_async(raise_call)()  # while nobody polls
        missed = await sync_to_async(_event_ids)(seen[-1]["id"])
        resumed = []
        for last in (str(seen[-1]["id"]), hello.split("id: ")[1].strip()):
            response = await client.get("/sos/stream/", headers={"Last-Event-ID": last})
            resumed.append(response.streaming_content.__aiter__())
        got = [[await _next_event(it) for _ in missed] for it in resumed]  # the backlog
        await sync_to_async(raise_call)()
        live = await sync_to_async(_event_ids)(missed[-1])
        got = [g + [await _next_event(it) for _ in live] for g, it in zip(got, resumed, strict=True)]
        for it in resumed:
            await it.aclose()
        return seen, hello, ended, missed + live, got

    seen, hello, ended, expected, got = async_to_sync(run)()
    assert hello == f"retry: 2000\nid: {seen[-1]['id']}\n\n"  # where the hub stood when the idle one joined
    assert ended == [[], []]  # ended quietly: no `revoked`, nothing more
    assert len(expected) == 4
    assert [[g["id"] for g in frames] for frames in got] == [expected, expected]
    assert (pollers["started"], pollers["most"]) == (2, 1)
