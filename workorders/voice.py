"""Speaking and listening (issue 22.3): voice messages left with an appeal (语音留言), and the text the
"read it to me" (读给我听) button speaks with the browser's own speech synthesis.

What is checked of a voice message, before anything is written (a bad one makes no order and no file):

- its size: at most GONGZHI["WORKORDERS"]["VOICE_MAX_BYTES"] (default 2 MB), by the size the client
  declared and by the bytes read (never more than the limit plus one byte is read);
- its container, from its first bytes, never from the declared content type or the file name: WebM (an
  EBML header naming the "webm" doc type), Ogg whose first stream is Opus, Vorbis, FLAC or Speex, MP4/M4A
  (an "ftyp" box), MPEG audio (MP3, or AAC in ADTS frames; an ID3 tag must be followed by a frame header)
  and WAV (RIFF/WAVE with a readable "fmt " chunk). Anything else — text, an image, a PDF — is refused.
  The stored content type is the one these bytes name;
- its length, at most GONGZHI["WORKORDERS"]["VOICE_MAX_SECONDS"] (default 60 s, with one second's grace
  for a recorder that stops a little late), where the file tells it cheaply: WAV from its header (data
  size ÷ byte rate), Ogg Opus/Vorbis from the last page's granule position, MP4 from the movie header
  (when it carries one: a fragmented MP4, as Safari records, says 0 there). For WebM (what Chrome and
  Firefox record: their files carry no duration) and MP3/AAC, the length the recording page reports is
  taken on trust and checked against the limit; the byte limit bounds what such a file can hold.

What is not checked: that the audio decodes (nothing is decoded: no codec runs on the server), which
codec a WebM or MP4 holds, or that an MP4 or WebM holds no video track besides the sound. The file is
kept as sent and served back only to those who may see the order, with the content type its bytes name
(and `X-Content-Type-Options: nosniff` from the security middleware).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import ApiError, Conflict, ValidationFailed
from workorders.models import Voice, WorkOrder
from workorders.states import State

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_SECONDS = 60
DEFAULT_MAX_COUNT = 1
# A recorder stopped by a timer at 60 s writes a few frames more; a second's grace is not a longer message.
GRACE_SECONDS = 1.0


class VoiceTooLarge(ApiError):
    status = 413
    code = "workorder.voice_too_large"


def _setting(name: str, default: int) -> int:
    return int(settings.GONGZHI.get("WORKORDERS", {}).get(name, default))


def max_bytes() -> int:
    return _setting("VOICE_MAX_BYTES", DEFAULT_MAX_BYTES)


def max_seconds() -> int:
    return _setting("VOICE_MAX_SECONDS", DEFAULT_MAX_SECONDS)


def max_count() -> int:
    return _setting("VOICE_MAX_COUNT", DEFAULT_MAX_COUNT)


def size_label() -> str:
    """The byte limit as people read it: "2" (MB)."""
    return f"{max_bytes() / (1024 * 1024):g}"


# --- errors ---------------------------------------------------------------------------------------


def _not_audio() -> ValidationFailed:
    message = _("This file is not a voice recording we can read (WebM, Ogg, MP4/M4A, MP3 or WAV).")
    return ValidationFailed(message, code="workorder.voice_not_audio", fields={"voice": [message]})


def _too_long() -> ValidationFailed:
    message = _("A voice message may be at most %(s)d seconds long. Please record a shorter one.") % {
        "s": max_seconds()
    }
    return ValidationFailed(message, code="workorder.voice_too_long", fields={"voice": [message]})


def check_size(size: int) -> None:
    if size > max_bytes():
        message = _("A voice message may be at most %(mb)s MB.") % {"mb": size_label()}
        raise VoiceTooLarge(message, fields={"voice": [message]})


# --- recognising the container, and its length where that is cheap -------------------------------


@dataclass(frozen=True)
class Container:
    content_type: str
    ext: str
    duration: Callable[[bytes], float | None]


def _unknown(data: bytes) -> float | None:
    return None


def _wav_duration(data: bytes) -> float | None:
    """Seconds from the header: the "data" chunk's size (or the bytes present, if fewer) ÷ the byte rate.
    Raises ValueError when the chunks cannot be walked or no byte rate is given."""
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise ValueError("short fmt chunk")
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif cid == b"data":
            if not byte_rate:
                raise ValueError("data before fmt, or no byte rate")
            return min(size, len(data) - body) / byte_rate
        pos = body + size + (size & 1)
    raise ValueError("no data chunk")


_OGG_AUDIO = (b"OpusHead", b"\x01vorbis", b"\x7fFLAC", b"Speex   ")


def _ogg_first_codec(data: bytes) -> bytes | None:
    """The codec of the first stream: its first packet starts right after the first page's segment table."""
    if len(data) < 28:
        return None
    start = 27 + data[26]
    head = data[start : start + 8]
    return next((c for c in _OGG_AUDIO if head.startswith(c)), None)


def _ogg_duration(data: bytes) -> float | None:
    """Opus: (last granule − pre-skip) ÷ 48 000; Vorbis: last granule ÷ its sample rate. Others: unknown."""
    codec = _ogg_first_codec(data)
    start = 27 + data[26]
    if codec == b"OpusHead":
        rate, skip = 48_000, struct.unpack_from("<H", data, start + 10)[0] if len(data) >= start + 12 else 0
    elif codec == b"\x01vorbis" and len(data) >= start + 16:
        rate, skip = struct.unpack_from("<I", data, start + 12)[0], 0
    else:
        return None
    last = data.rfind(b"OggS", max(0, len(data) - 65_536))
    if last < 0 or last + 14 > len(data) or not rate:
        return None
    granule = struct.unpack_from("<q", data, last + 6)[0]
    if granule < 0:
        return None  # -1: no packet ends on that page
    return max(0, granule - skip) / rate


def _mp4_duration(data: bytes) -> float | None:
    """moov/mvhd's duration ÷ timescale; None when there is none (a fragmented MP4 says 0)."""
    box = _mp4_box(data, 0, len(data), b"moov")
    if box is None:
        return None
    mvhd = _mp4_box(data, box[0], box[1], b"mvhd")
    if mvhd is None:
        return None
    pos = mvhd[0]
    if pos + 4 > len(data):
        return None
    version = data[pos]
    if version == 1 and pos + 32 <= len(data):
        timescale, duration = struct.unpack_from(">IQ", data, pos + 20)
    elif version == 0 and pos + 20 <= len(data):
        timescale, duration = struct.unpack_from(">II", data, pos + 12)
    else:
        return None
    if not timescale or not duration or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return float(duration / timescale)


def _mp4_box(data: bytes, start: int, end: int, want: bytes) -> tuple[int, int] | None:
    """(body start, body end) of the first box of type `want` between start and end."""
    pos = start
    for _i in range(1000):  # a bounded walk: a file of tiny boxes must not keep the server busy
        if pos + 8 > end:
            return None
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            if pos + 16 > end:
                return None
            size, head = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head:
            return None
        if kind == want:
            return pos + head, min(pos + size, end)
        pos += size
    return None


def _mpeg_frame(data: bytes, pos: int) -> str | None:
    """The content type an MPEG audio frame header at `pos` names: MP3 (layers I–III) or AAC in ADTS."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    b1, b2 = data[pos + 1], data[pos + 2]
    layer = (b1 >> 1) & 3
    if layer == 0:
        # ADTS: a 12-bit sync word, and a sampling index that exists.
        return "audio/aac" if b1 & 0xF0 == 0xF0 and (b2 >> 2) & 0xF < 13 else None
    if (b1 >> 3) & 3 == 1 or b2 >> 4 == 15 or (b2 >> 2) & 3 == 3:
        return None  # a reserved version, a bad bitrate or a reserved sampling rate
    return "audio/mpeg"


def _mpeg(data: bytes) -> str | None:
    pos = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = data[6:10]
        if any(b & 0x80 for b in size):
            return None
        pos = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
        if data[5] & 0x10:
            pos += 10  # a footer
    return _mpeg_frame(data, pos)


def sniff(data: bytes) -> Container | None:
    """The container `data` is, from its first bytes; None when it is none of the accepted ones."""
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: WebM names its doc type in the header's first few dozen bytes (Matroska video is refused).
        return Container("audio/webm", "webm", _unknown) if b"webm" in data[:64] else None
    if data.startswith(b"OggS"):
        return Container("audio/ogg", "ogg", _ogg_duration) if _ogg_first_codec(data) else None
    if data[4:8] == b"ftyp":
        return Container("audio/mp4", "m4a", _mp4_duration)
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return Container("audio/wav", "wav", _wav_duration)
    kind = _mpeg(data)
    if kind == "audio/mpeg":
        return Container(kind, "mp3", _unknown)
    if kind == "audio/aac":
        return Container(kind, "aac", _unknown)
    return None


# --- preparing and storing ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedVoice:
    data: bytes
    content_type: str
    ext: str
    duration_s: float | None


DECLARED_RE = re.compile(r"^\d{1,4}(\.\d{1,3})?$")


def _declared(value: str | None) -> float | None:
    """The length the recording page reported (seconds), when it is a plain number; else none."""
    value = (value or "").strip()
    if not DECLARED_RE.match(value):
        return None
    seconds = float(value)
    return seconds if seconds > 0 and math.isfinite(seconds) else None


def voice_prepare(upload: Any, *, declared: str | None = None) -> PreparedVoice:
    """Check one uploaded file (anything with .size and .read()) as a voice message: size, container, length.
    Raises VoiceTooLarge (413) or ValidationFailed (422, fields={"voice": …}). Nothing is written."""
    if getattr(upload, "size", None) is not None:
        check_size(upload.size)  # the declared size: refuse early; the bytes read decide
    data = upload.read(max_bytes() + 1)
    check_size(len(data))
    container = sniff(data)
    if container is None:
        raise _not_audio()
    try:
        measured = container.duration(data)
    except (ValueError, struct.error) as exc:
        raise _not_audio() from exc
    said = _declared(declared)
    duration = measured if measured is not None else said
    if duration is not None and duration > max_seconds() + GRACE_SECONDS:
        raise _too_long()
    return PreparedVoice(
        data=data,
        content_type=container.content_type,
        ext=container.ext,
        duration_s=round(duration, 1) if duration is not None else None,
    )


def voice_add(*, order: WorkOrder, by: Any, voice: PreparedVoice) -> Voice:
    """Store a prepared voice message with the order (at most VOICE_MAX_COUNT per order: 409 beyond)."""
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update().get(pk=order.pk)
        if Voice.objects.filter(order=locked).count() >= max_count():
            raise Conflict(_("This appeal already has a voice message."), code="workorder.voice_limit")
        row = Voice(order=locked, uuid=uuid.uuid4().hex, content_type=voice.content_type, size=len(voice.data),
                    duration_s=voice.duration_s, by=by, at=now())  # fmt: skip
        row.audio.save(f"voice.{voice.ext}", ContentFile(voice.data), save=False)
        row.save()
    return row


# --- serving ----------------------------------------------------------------------------------------

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _range(header: str, total: int) -> tuple[int, int] | Literal[False] | None:
    """One byte range from a Range header: (first, last); None to send the whole file (no header, or one
    this does not serve: several ranges); False when it cannot be satisfied."""
    m = RANGE_RE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        first = int(m.group(1))
        last = min(int(m.group(2)), total - 1) if m.group(2) else total - 1
    else:
        first, last = max(0, total - int(m.group(2))), total - 1
    if first >= total or first > last:
        return False
    return first, last


def voice_response(request: HttpRequest, order: WorkOrder, voice_id: int) -> HttpResponseBase:
    """One voice message of `order` (which the caller has already checked the user may see); Http404 when the
    order has none such or its file is gone. A single byte range is served (206): Safari asks for ranges
    and plays nothing without them."""
    row = Voice.objects.filter(order=order, pk=voice_id).first()
    if row is None:
        raise Http404
    try:
        handle = row.audio.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    total = row.audio.size
    wanted = _range(request.headers.get("Range", ""), total)
    response: HttpResponseBase
    if wanted is None:
        response = FileResponse(handle, content_type=row.content_type)
    else:
        with handle:
            if isinstance(wanted, tuple):
                first, last = wanted
                handle.seek(first)
                response = HttpResponse(handle.read(last - first + 1), status=206, content_type=row.content_type)
                response["Content-Range"] = f"bytes {first}-{last}/{total}"
            else:
                response = HttpResponse(status=416)
                response["Content-Range"] = f"bytes */{total}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- read it to me (读给我听) -----------------------------------------------------------------------


def speech_lang() -> str:
    """The speech synthesis language of the page's language: Chinese pages speak Mandarin (zh-CN)."""
    lang = (get_language() or "zh-hans").lower()
    return "en" if lang.startswith("en") else "zh-CN"


def _day(t: dt.datetime) -> str:
    """A deadline as it is said: working-day limits end at 24:00, so 00:00 is the day before."""
    local = timezone.localtime(t)
    if local.hour == 0 and local.minute == 0:
        local -= dt.timedelta(days=1)
    return date_format(local, "MONTH_DAY_FORMAT")


def _unit(order: WorkOrder) -> str:
    if order.department is not None:
        return order.department.name
    if order.unit_node is not None:
        return order.unit_node.name
    return ""


def _next_step(order: WorkOrder) -> str:
    state, unit = order.state, _unit(order)
    if state in (State.SUBMITTED, State.RETURNED, State.REOPENED):
        return _("Next, the dispatch centre sends it to the unit that will handle it.")
    if state == State.DISPATCHED:
        if unit:
            return _("Next, %(unit)s signs for it and starts work.") % {"unit": unit}
        return _("Next, the handling unit signs for it and starts work.")
    if state in (State.ACCEPTED, State.IN_PROGRESS):
        who = unit or _("The handling unit")
        if order.due_at:
            return _("%(unit)s is handling it, and should finish by %(day)s.") % {
                "unit": who,
                "day": _day(order.due_at),
            }
        return _("%(unit)s is handling it.") % {"unit": who}
    if state == State.SUSPENDED:
        return _("Work is paused for now, and its time limit with it; it goes on when the reason is cleared.")
    if state == State.RESOLVED:
        if order.rate_by:
            return _("Please tell us whether your problem was solved, and how satisfied you are, by %(day)s.") % {
                "day": _day(order.rate_by)
            }
        return _("Please tell us whether your problem was solved, and how satisfied you are.")
    if state == State.RATED:
        return _("Thank you for your rating. The appeal will be closed after a check.")
    if state == State.DUPLICATE:
        return _("It is handled together with an earlier appeal about the same problem.")
    if state == State.CANCELLED:
        return _("The appeal was withdrawn. Nothing more will be done.")
    return _("The appeal is closed. Nothing more needs to be done.")


def speak_text(order: WorkOrder) -> str:
    """What the read-aloud button says: the appeal's status, the reply (if any) and the next step.

    Built here, in the page's language, from what the page already shows to whoever may see it; the
    script in the page only speaks it. The tracking code is spaced so that it is read letter by letter."""
    code = " ".join(order.tracking_code)
    parts = [
        _("Appeal %(code)s, %(category)s.") % {"code": code, "category": order.category.name},
        _("Status: %(state)s.") % {"state": State(order.state).label},
    ]
    if order.reply:
        # Its own last stop goes: the sentence ends with the page language's (a pause before the next step).
        parts.append(_("The reply: %(reply)s.") % {"reply": order.reply.strip().rstrip("。.！!？?；;")})
    parts.append(_next_step(order))
    return " ".join(parts)
