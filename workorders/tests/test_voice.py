"""Speaking and listening (issue 22.3): voice messages filed with an appeal, checked before anything is
written (size, container by its bytes, length where it can be read), played back only to those who may see
the order; and the read-aloud (读给我听) text on the appeal's page and its receipt."""

from __future__ import annotations

import io
import os
import struct
import wave

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import services as accounts
from org.models import Resident
from workorders import services, voice
from workorders.models import Voice, WorkOrder
from workorders.services import Unit
from workorders.tests.helpers import error_code, submit

pytestmark = pytest.mark.django_db

NEW = "/workorders/new/"
API = "/api/v1/workorders"


# --- audio made up for the tests: headers as recorders write them (nothing is decoded on the server) ------


def webm(size: int = 4000) -> bytes:
    """An EBML header naming the "webm" doc type, then filler: what Chrome's MediaRecorder starts with."""
    head = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
    return head + b"\x00" * (size - len(head))


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(seconds * rate))
    return buf.getvalue()


def ogg_page(granule: int, packet: bytes, header_type: int = 0) -> bytes:
    return b"OggS" + struct.pack("<BBqIIIB", 0, header_type, granule, 1, 0, 0, 1) + bytes([len(packet)]) + packet


def ogg_opus(seconds: float) -> bytes:
    """An Ogg Opus stream's first page (OpusHead, pre-skip 312) and a last page at `seconds`."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    return ogg_page(0, head, 2) + b"\x00" * 500 + ogg_page(int(seconds * 48000) + 312, b"\x00" * 20, 4)


def mp3() -> bytes:
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 2000


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def upload(data: bytes, name: str = "voice.webm", content_type: str = "audio/webm") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files() -> list[str]:
    out: list[str] = []
    for root, _dirs, files in os.walk(settings.MEDIA_ROOT):
        out += [os.path.join(root, f) for f in files]
    return out


def form(**extra) -> dict:
    base = {"kind": "complaint", "cat": "0101", "text": "", "key": "k-voice-1"}
    base.update(extra)
    return base


def filed_with_voice(world, client_as, data: bytes | None = None, **extra) -> WorkOrder:
    r = client_as(world.c.u_zhang).post(NEW, form(voice=upload(data or webm()), voice_duration="12.5", **extra))
    assert r.status_code == 302, r.content.decode()[:3000]
    return WorkOrder.objects.get()


def neighbour(world):
    """A resident of the same village with an account of her own: not a party to 张阿姨's appeal."""
    user = accounts.user_create(username="chen", password="x-pass-123456", display_name="陈大姐")
    Resident.objects.filter(pk=world.c.chen.pk).update(user=user)
    return user


# --- filing ---------------------------------------------------------------------------------------------


def test_a_resident_files_with_a_voice_message_only_and_it_is_routed_as_usual(world, client_as):
    o = filed_with_voice(world, client_as)
    v = Voice.objects.get(order=o)
    assert o.text == "（语音留言）"  # the words were left out: the order says there is a message to hear
    assert o.title.startswith("市政设施")
    assert (o.state, o.owner_id, o.channel) == ("submitted", world.c.zhang.pk, "web")
    # Routing as for any appeal of the category: the rule's unit is suggested to the dispatcher, who sees it.
    assert o.suggested_department_id == world.housing.pk
    assert o.tracking_code in client_as(world.c.u_zhao).get("/workorders/console/").content.decode()
    assert (v.content_type, v.size, v.duration_s, v.by_id) == ("audio/webm", 4000, 12.5, world.c.u_zhang.pk)
    [path] = stored_files()
    assert path.endswith(".webm") and o.tracking_code in path
    with open(path, "rb") as f:
        assert f.read() == webm()


def test_words_and_a_voice_message_together_keep_the_words(world, client_as):
    o = filed_with_voice(world, client_as, text="路灯不亮，详见语音")
    assert o.text == "路灯不亮，详见语音"
    assert Voice.objects.filter(order=o).count() == 1


def test_without_words_or_a_voice_message_the_page_asks_for_a_description(world, client_as):
    r = client_as(world.c.u_zhang).post(NEW, form())
    assert r.status_code == 422
    assert not WorkOrder.objects.exists()


def test_a_resent_form_makes_one_order_and_one_voice_message(world, client_as):
    client = client_as(world.c.u_zhang)
    for _i in range(2):
        r = client.post(NEW, form(voice=upload(webm())))
        assert r.status_code == 302
    assert WorkOrder.objects.count() == 1
    assert Voice.objects.count() == 1
    assert len(stored_files()) == 1


def test_a_voice_message_too_large_is_a_413_with_its_message_and_makes_nothing(world, client_as):
    before = (WorkOrder.objects.count(), Voice.objects.count(), len(stored_files()))
    r = client_as(world.c.u_zhang).post(NEW, form(voice=upload(webm(2 * 1024 * 1024 + 1)), text="路灯坏了"))
    assert r.status_code == 413
    page = r.content.decode()
    assert 'role="alert"' in page and "语音留言最大 2 MB。" in page
    assert "路灯坏了" in page  # what she typed is kept
    assert (WorkOrder.objects.count(), Voice.objects.count(), len(stored_files())) == before == (0, 0, 0)


def test_the_byte_limit_is_a_setting(world, client_as, settings):
    settings.GONGZHI = {**settings.GONGZHI, "WORKORDERS": {**settings.GONGZHI["WORKORDERS"], "VOICE_MAX_BYTES": 3000}}
    r = client_as(world.c.u_zhang).post(NEW, form(voice=upload(webm(4000))))
    assert r.status_code == 413
    assert not WorkOrder.objects.exists()


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"This is a shopping list, not a recording.\n" * 20, "voice.webm", "audio/webm"),  # text renamed
        (jpeg(), "voice.webm", "audio/webm"),  # an image declared as sound
        (jpeg(), "photo.jpg", "image/jpeg"),
        (b"%PDF-1.7\n" + b"\x00" * 200, "voice.m4a", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3" + b"\x42\x82\x88matroska" + b"\x00" * 100, "v.mkv", "audio/webm"),  # Matroska video
        (b"OggS" + b"\x00" * 22 + b"\x01" + b"\x10" + b"\x80theora" + b"\x00" * 100, "v.ogg", "audio/ogg"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "v.wav", "audio/wav"),  # no readable chunks
        (b"", "empty.webm", "audio/webm"),
    ],
)
def test_a_file_that_is_not_a_recording_is_a_422_with_its_message_and_makes_nothing(
    world, client_as, data, name, content_type
):
    r = client_as(world.c.u_zhang).post(NEW, form(voice=upload(data, name, content_type), text="路灯坏了"))
    assert r.status_code == 422
    page = r.content.decode()
    assert 'role="alert"' in page and "这个文件不是我们能播放的录音" in page
    assert "请重新录制或选择语音留言。" in page
    assert (WorkOrder.objects.count(), Voice.objects.count(), stored_files()) == (0, 0, [])


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (wav(62), ""),  # the WAV header tells its length
        (ogg_opus(70), ""),  # so does the Ogg stream's last page
        (wav(62), "10"),  # what the file tells wins over what the page says
        (webm(), "75"),  # WebM tells nothing: the recorder's word is checked
    ],
)
def test_a_voice_message_longer_than_a_minute_is_refused(world, client_as, data, declared):
    r = client_as(world.c.u_zhang).post(NEW, form(voice=upload(data), voice_duration=declared))
    assert r.status_code == 422
    assert "语音留言最长 60 秒" in r.content.decode()
    assert (WorkOrder.objects.count(), Voice.objects.count(), stored_files()) == (0, 0, [])


@pytest.mark.parametrize(
    ("data", "content_type", "duration"),
    [
        (wav(3), "audio/wav", 3.0),
        (wav(60.5), "audio/wav", 60.5),  # a recorder stopped a little late
        (ogg_opus(42), "audio/ogg", 42.0),
        (mp3(), "audio/mpeg", 12.5),  # as the page measured it
        (webm(), "audio/webm", 12.5),
    ],
)
def test_each_accepted_container_is_stored_with_the_type_its_bytes_name(world, client_as, data, content_type, duration):
    o = filed_with_voice(world, client_as, data)
    v = Voice.objects.get(order=o)
    assert (v.content_type, v.duration_s) == (content_type, duration)


def test_sniffing_reads_the_bytes_not_the_name():
    def kind(data: bytes) -> str | None:
        found = voice.sniff(data)
        return found.content_type if found is not None else None

    assert kind(webm()) == "audio/webm"
    assert kind(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00") == "audio/mp4"
    assert kind(b"\xff\xf1\x50\x80\x00\x1f\xfc") == "audio/aac"
    assert kind(mp3()) == "audio/mpeg"
    assert kind(jpeg()) is None
    assert kind(b"ID3\x03\x00\x00\x00\x00\x00\x00not a frame") is None


def test_an_mp4_movie_header_tells_the_length():
    mvhd = b"mvhd" + bytes(4) + struct.pack(">IIII", 0, 0, 1000, 65_000) + bytes(80)
    moov = struct.pack(">I", 8 + 8 + len(mvhd) - 4) + b"moov" + struct.pack(">I", 4 + len(mvhd)) + mvhd
    data = b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom" + moov
    container = voice.sniff(data)
    assert container is not None and container.duration(data) == 65.0


# --- playing it back --------------------------------------------------------------------------------


def test_the_voice_message_plays_for_the_owner_the_dispatcher_and_the_handler_only(world, client_as):
    o = filed_with_voice(world, client_as)
    v = Voice.objects.get(order=o)
    url = f"/workorders/{o.pk}/voices/{v.pk}/"
    page = client_as(world.c.u_zhang).get(f"/workorders/{o.pk}/").content.decode()
    assert f'<audio controls preload="none" src="{url}"' in page
    services.workorder_dispatch(order=o, to=Unit(department=world.housing), by=world.c.u_zhao)
    for user in (world.c.u_zhang, world.c.u_zhao, world.u_feng):
        r = client_as(user).get(url)
        assert r.status_code == 200, user
        assert r["Content-Type"] == "audio/webm"
        assert r["Cache-Control"].startswith("private")
        assert b"".join(r.streaming_content) == webm()
    assert url in client_as(world.c.u_zhao).get(f"/workorders/{o.pk}/").content.decode()
    for user in (neighbour(world), world.c.u_sun, world.c.u_wang):  # a neighbour, another town, another department
        assert client_as(user).get(url).status_code == 404, user
    assert client_as(None).get(url).status_code == 302  # to the login page
    assert client_as(world.c.u_zhang).get(f"/workorders/{o.pk}/voices/{v.pk + 1}/").status_code == 404


def test_a_byte_range_is_served_as_safari_asks(world, client_as):
    o = filed_with_voice(world, client_as)
    url = f"/workorders/{o.pk}/voices/{Voice.objects.get().pk}/"
    zhang = client_as(world.c.u_zhang)
    r = zhang.get(url, HTTP_RANGE="bytes=0-1")
    assert (r.status_code, r["Content-Range"], r.content) == (206, "bytes 0-1/4000", b"\x1a\x45")
    assert r["Cache-Control"].startswith("private")
    r = zhang.get(url, HTTP_RANGE="bytes=3990-")
    assert (r.status_code, r["Content-Range"], len(r.content)) == (206, "bytes 3990-3999/4000", 10)
    assert zhang.get(url, HTTP_RANGE="bytes=9000-").status_code == 416


def test_the_api_lists_the_voice_messages_and_serves_them_in_scope(world, client_as):
    o = filed_with_voice(world, client_as)
    v = Voice.objects.get()
    [listed] = client_as(world.c.u_zhang).get(f"{API}/{o.pk}").json()["voices"]
    url = f"{API}/{o.pk}/voices/{v.pk}"
    assert listed == {"id": v.pk, "url": url, "content_type": "audio/webm", "size": 4000, "duration_s": 12.5}
    assert client_as(world.c.u_zhang).get(url).status_code == 200
    assert client_as(world.c.u_sun).get(url).status_code == 404


def test_the_api_takes_one_voice_message_on_her_own_appeal(world, client_as):
    o = submit(world)
    zhang = client_as(world.c.u_zhang)
    r = zhang.post(f"{API}/{o.pk}/voices", {"voice": upload(b"plain text\n" * 10)})
    assert (r.status_code, error_code(r)) == (422, "workorder.voice_not_audio")
    assert r.json()["error"]["fields"]["voice"]
    r = zhang.post(f"{API}/{o.pk}/voices", {"voice": upload(webm(3 * 1024 * 1024))})
    assert (r.status_code, error_code(r)) == (413, "workorder.voice_too_large")
    assert (Voice.objects.count(), stored_files()) == (0, [])
    assert client_as(world.c.u_zhao).post(f"{API}/{o.pk}/voices", {"voice": upload(webm())}).status_code == 403
    r = zhang.post(f"{API}/{o.pk}/voices", {"voice": upload(wav(2), "a.wav", "audio/wav")})
    assert r.status_code == 201, r.content
    assert (r.json()["content_type"], r.json()["duration_s"]) == ("audio/wav", 2.0)
    r = zhang.post(f"{API}/{o.pk}/voices", {"voice": upload(webm())})
    assert (r.status_code, error_code(r)) == (409, "workorder.voice_limit")
    assert Voice.objects.count() == 1


# --- the submit page's recorder block --------------------------------------------------------------------


def test_the_submit_page_offers_a_voice_message(world, client_as):
    page = client_as(world.c.u_zhang).get(NEW, {"kind": "complaint", "cat": "0101"}).content.decode()
    assert 'name="voice" type="file" accept="audio/*"' in page
    assert 'data-voice data-max-seconds="60"' in page
    assert "data-voice-recorder hidden" in page  # shown by the script only where the browser can record
    assert 'src="/static/js/voice.js"' in page


# --- read it to me (读给我听) ---------------------------------------------------------------------------


def test_the_read_aloud_button_and_its_text_are_on_the_appeal_and_the_receipt(world, client_as):
    o = filed_with_voice(world, client_as)
    zhang = client_as(world.c.u_zhang)
    receipt = zhang.get(f"/workorders/{o.pk}/submitted/").content.decode()
    for page in (receipt, zhang.get(f"/workorders/{o.pk}/").content.decode()):
        assert 'data-speak-button data-lang="zh-CN"' in page and "hidden>" in page
        assert "读给我听" in page and 'src="/static/js/speech.js"' in page
        assert "当前状态：已提交。" in page
        assert "接下来，调度中心会把诉求交给负责办理的单位。" in page
    o = services.workorder_dispatch(order=o, to=Unit(department=world.housing), by=world.c.u_zhao)
    o = services.workorder_accept(order=o, by=world.u_feng)
    services.workorder_resolve(order=o, by=world.u_feng, reply="已更换灯泡，恢复照明")
    page = zhang.get(f"/workorders/{o.pk}/").content.decode()
    text = page.split("data-speak-text hidden>")[1].split("</p>")[0]
    assert "当前状态：已办结。" in text
    assert "办理答复：已更换灯泡，恢复照明。" in text
    assert "告诉我们问题是否解决" in text


def test_an_htmx_step_swaps_in_the_new_read_aloud_text(world, client_as):
    o = submit(world)
    r = client_as(world.c.u_zhang).post(f"/workorders/{o.pk}/cancel/", {"reason": "已自行解决"}, HTTP_HX_REQUEST="true")
    page = r.content.decode()
    assert 'id="speak" class="speak" data-speak hx-swap-oob="true"' in page
    assert "当前状态：已撤回。" in page and "<html" not in page


def test_the_read_aloud_text_is_in_english_on_an_english_page(world, client_as):
    o = submit(world)
    page = client_as(world.c.u_zhang, lang="en").get(f"/workorders/{o.pk}/").content.decode()
    assert 'data-lang="en"' in page and "Read it to me" in page
    assert "Status: submitted." in page
