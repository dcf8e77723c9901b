"""Photos of a problem: checked to be images, turned upright, shrunk, and re-encoded as JPEG.

Re-encoding drops EXIF entirely — a phone photo's GPS position and device name must not reach the
public or the handling unit.

A photo is refused from its header, before any pixel is decoded, when it has more pixels than
GONGZHI["WORKORDERS"]["PHOTO_MAX_PIXELS"] (default 40 million: any phone camera's photo fits). A PNG of
9900×9900 one-bit pixels is 12 KB on the wire and ~580 MiB once decoded; the byte limit alone does not
stop it. With the pixel limit, the memory one upload can take is bounded by configuration. Pillow's own
decompression-bomb guard stays behind it as a backstop.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.clock import now
from core.errors import ApiError, Conflict, ValidationFailed
from workorders.deadlines import setting
from workorders.models import Photo, WorkOrder

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "MPO"})
Image.MAX_IMAGE_PIXELS = 50_000_000
DEFAULT_MAX_PIXELS = 40_000_000


class PhotoTooLarge(ApiError):
    status = 413
    code = "workorder.photo_too_large"


def max_pixels() -> int:
    """The most pixels (width × height) a photo may have: GONGZHI["WORKORDERS"]["PHOTO_MAX_PIXELS"]."""
    return int(settings.GONGZHI.get("WORKORDERS", {}).get("PHOTO_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def _not_image(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="workorder.photo_not_image", fields={"photo": [message]})


def _too_many_pixels(limit: int) -> ValidationFailed:
    message = _("This photo has too many pixels (at most %(mp)s million). Please send a smaller photo.") % {
        "mp": f"{limit / 1_000_000:g}"
    }
    return ValidationFailed(message, code="workorder.photo_too_many_pixels", fields={"photo": [message]})


def photo_prepare(data: bytes) -> tuple[bytes, int, int]:
    """Check that `data` is a photo and re-encode it: (JPEG bytes, width, height). Raises the API errors.

    The pixel count is read from the header (Image.open decodes nothing) and checked before any pixel
    is decoded: verify() only walks the file's structure, and the decoding below happens only within
    the limit."""
    limit = max_pixels()
    unreadable = _("This file is not a photo we can read (JPEG, PNG, WebP or GIF).")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise _not_image(unreadable)
            width, height = probe.size
            if width * height > limit:
                raise _too_many_pixels(limit)
            probe.verify()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(limit) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _not_image(unreadable) from exc
    try:
        with Image.open(io.BytesIO(data)) as opened:
            side = setting("PHOTO_MAX_SIDE")
            if opened.format in ("JPEG", "MPO"):
                # A JPEG can be decoded straight at 1/2, 1/4 or 1/8 scale: a large photo never needs
                # its full size in memory to become a small one.
                opened.draft("RGB", (side, side))
            img = ImageOps.exif_transpose(opened)
            img = img.convert("RGB")
            img.thumbnail((side, side))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85, optimize=True)  # no exif= argument: nothing carried over
            return out.getvalue(), img.width, img.height
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(limit) from exc
    except (OSError, ValueError) as exc:
        raise _not_image(_("This photo could not be read.")) from exc


def check_size(size: int) -> None:
    limit = setting("PHOTO_MAX_BYTES")
    if size > limit:
        raise PhotoTooLarge(
            _("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
            fields={"photo": [_("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)}]},
        )


def upload_prepare(upload: Any) -> tuple[bytes, int, int]:
    """An uploaded file (anything with .size and .read()) checked by size (declared and read, never more than
    the limit read) and by pixels, re-encoded as JPEG without EXIF: (jpeg, width, height). Every app's photos
    come in through here."""
    check_size(upload.size)
    data = upload.read(setting("PHOTO_MAX_BYTES") + 1)
    check_size(len(data))
    return photo_prepare(data)


def photo_add(*, order: WorkOrder, by: Any, upload: Any, stage: str = Photo.Stage.REPORT) -> Photo:
    """Store one uploaded file (anything with .size and .read()) as a photo of the order."""
    jpeg, width, height = upload_prepare(upload)
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update().get(pk=order.pk)
        if Photo.objects.filter(order=locked, stage=stage).count() >= setting("PHOTO_MAX_COUNT"):
            raise Conflict(_("This order already has as many photos as it can take."), code="workorder.photo_limit")
        photo = Photo(order=locked, uuid=uuid.uuid4().hex, stage=stage, width=width, height=height,
                      size=len(jpeg), by=by, at=now())  # fmt: skip
        photo.image.save("photo.jpg", ContentFile(jpeg), save=False)
        photo.save()
    return photo


def photo_response(order: WorkOrder, photo_id: int) -> FileResponse:
    """One photo of `order` (which the caller has already checked the user may see) as a JPEG response;
    Http404 when the order has no such photo or its file is gone. Pages and the API both serve it so."""
    photo = Photo.objects.filter(order=order, pk=photo_id).first()
    if photo is None:
        raise Http404
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response
