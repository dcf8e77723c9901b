"""The live feed over Server-Sent Events: what a screen receives, from whichever process wrote it."""

from __future__ import annotations

import asyncio
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
        return missed, got, anonymous.status_code, bad.status_code

    missed, got, anonymous, bad = async_to_sync(run)()
    assert [m["event"]["action"] for m in missed] == ["raise", "alert"]
    assert got is None
    assert (anonymous, bad) == (401, 400)


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
