"""Issue 22.3 in a browser: a resident records a voice message in the submit page (Chromium's fake
microphone), hears it, sends it without typing a word, and the appeal carries it; the recording stops by
itself at the limit; the receipt and the appeal offer 读给我听 where the browser can speak."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def microphone_browser(browser):
    """A second Chromium from the same Playwright, with a fake microphone that is always allowed."""
    b = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_MICROPHONE)
    yield b
    b.close()


def test_a_resident_records_a_voice_message_and_sends_it_without_words(
    live_server, microphone_browser, settings, tmp_path
):
    from gongzhi.test import build_county, build_work_world
    from workorders.models import Voice, WorkOrder

    settings.MEDIA_ROOT = tmp_path
    # A short limit, so that the test sees the recorder stop by itself without waiting a minute.
    settings.GONGZHI = {**settings.GONGZHI, "WORKORDERS": {**settings.GONGZHI["WORKORDERS"], "VOICE_MAX_SECONDS": 3}}
    world = build_work_world(build_county())
    world.c.u_zhang.set_password("gongzhi-demo")
    world.c.u_zhang.save()

    context = microphone_browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    context.grant_permissions(["microphone"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "zhang")
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/workorders/new/?kind=complaint&cat=0101")
    record = page.locator("[data-voice-record]")
    assert record.is_visible()  # the browser can record: the recorder, not the bare file input
    assert page.locator("[data-voice-file]").is_hidden()
    assert page.locator("#text").evaluate("t => t.required")
    record.click()
    page.wait_for_selector("[data-voice-record][aria-pressed=true]")
    # It stops by itself at the limit (3 s here), and offers the recording to hear and to discard.
    page.wait_for_selector("[data-voice-playback]:not([hidden])", timeout=8_000)
    assert record.get_attribute("aria-pressed") == "false"
    assert page.locator("[data-voice-discard]").is_visible()
    duration = float(page.input_value("[data-voice-duration]"))
    assert 2.5 <= duration <= 3.0
    assert page.locator("input[name=voice]").evaluate("i => i.files.length") == 1
    assert not page.locator("#text").evaluate("t => t.required")  # the words may be left out now

    # Discarding takes it out of the form; a second, stopped by hand, is the one sent.
    page.click("[data-voice-discard]")
    assert page.locator("input[name=voice]").evaluate("i => i.files.length") == 0
    assert page.locator("#text").evaluate("t => t.required")
    record.click()
    page.wait_for_selector("[data-voice-record][aria-pressed=true]")
    page.wait_for_timeout(1200)
    record.click()
    page.wait_for_selector("[data-voice-playback]:not([hidden])")
    page.click("form.submit-form button[type=submit]")
    page.wait_for_selector("[data-tracking-code]")

    order = WorkOrder.objects.get(tracking_code=page.locator("[data-tracking-code]").inner_text().strip())
    v = Voice.objects.get(order=order)
    assert order.text == "（语音留言）"
    assert v.content_type in ("audio/webm", "audio/ogg") and v.size > 500
    assert v.duration_s is not None and 0.5 <= v.duration_s <= 3.0
    # Where the browser can speak, the receipt offers to read it aloud.
    if page.evaluate("'speechSynthesis' in window"):
        assert page.locator("[data-speak-button]").is_visible()

    page.goto(f"{live_server.url}/workorders/{order.pk}/")
    audio = page.locator("audio[data-voice-message]")
    assert audio.get_attribute("preload") == "none"
    got = page.evaluate(
        "u => fetch(u).then(r => [r.status, r.headers.get('content-type')])", audio.get_attribute("src")
    )
    assert got == [200, v.content_type]
    assert errors == []
    context.close()
