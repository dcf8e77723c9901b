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
