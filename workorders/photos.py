"""Photos of a problem: checked to be images, turned upright, shrunk, and re-encoded as JPEG.

Re-encoding drops EXIF entirely — a phone photo's GPS position and device name must not reach the
public or the handling unit. Pillow's decompression-bomb guard refuses absurd pixel counts.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.clock import now
from core.errors import ApiError, Conflict, ValidationFailed
from workorders.deadlines import setting
from workorders.models import Photo, WorkOrder

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "MPO"})
Image.MAX_IMAGE_PIXELS = 50_000_000


class PhotoTooLarge(ApiError):
    status = 413
    code = "workorder.photo_too_large"


def photo_prepare(data: bytes) -> tuple[bytes, int, int]:
    """Check that `data` is a photo and re-encode it: (JPEG bytes, width, height). Raises the API errors."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, ValueError) as exc:
        raise ValidationFailed(
            _("This file is not a photo we can read (JPEG, PNG, WebP or GIF)."),
            code="workorder.photo_not_image",
            fields={"photo": [_("This file is not a photo we can read (JPEG, PNG, WebP or GIF).")]},
        ) from exc
    if fmt not in ACCEPTED_FORMATS:
        raise ValidationFailed(
            _("This file is not a photo we can read (JPEG, PNG, WebP or GIF)."),
            code="workorder.photo_not_image",
            fields={"photo": [_("This file is not a photo we can read (JPEG, PNG, WebP or GIF).")]},
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            img = ImageOps.exif_transpose(opened)
            img = img.convert("RGB")
            side = setting("PHOTO_MAX_SIDE")
            img.thumbnail((side, side))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85, optimize=True)  # no exif= argument: nothing carried over
            return out.getvalue(), img.width, img.height
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ValidationFailed(
            _("This photo could not be read."),
            code="workorder.photo_not_image",
            fields={"photo": [_("This photo could not be read.")]},
        ) from exc


def check_size(size: int) -> None:
    limit = setting("PHOTO_MAX_BYTES")
    if size > limit:
        raise PhotoTooLarge(
            _("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
            fields={"photo": [_("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)}]},
        )


def photo_add(*, order: WorkOrder, by: Any, upload: Any, stage: str = Photo.Stage.REPORT) -> Photo:
    """Store one uploaded file (anything with .size and .read()) as a photo of the order."""
    check_size(upload.size)
    data = upload.read(setting("PHOTO_MAX_BYTES") + 1)
    check_size(len(data))
    jpeg, width, height = photo_prepare(data)
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update().get(pk=order.pk)
        if Photo.objects.filter(order=locked, stage=stage).count() >= setting("PHOTO_MAX_COUNT"):
            raise Conflict(_("This order already has as many photos as it can take."), code="workorder.photo_limit")
        photo = Photo(order=locked, uuid=uuid.uuid4().hex, stage=stage, width=width, height=height,
                      size=len(jpeg), by=by, at=now())  # fmt: skip
        photo.image.save("photo.jpg", ContentFile(jpeg), save=False)
        photo.save()
    return photo
