"""Photos at the edges: a tiny file of enormous dimensions (a decompression bomb) is refused before it is
decoded, on the API and on the pages; and an API client holding a token can fetch the photos the API
lists, under the API's own auth and scope rules."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.services import token_create
from workorders.models import Photo, WorkOrder
from workorders.tests.helpers import error_code, fresh, housing, submit

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders"


def bomb_png(side: int = 9900) -> bytes:
    """A 1-bit PNG of side×side pixels: a few KB on the wire, hundreds of MiB once decoded as RGB."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def small_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def stored_files() -> list[str]:
    out: list[str] = []
    for root, _dirs, files in os.walk(settings.MEDIA_ROOT):
        out += [os.path.join(root, f) for f in files]
    return out


def upload(client, order_id, data, *, name="photo.png", content_type="image/png", **extra):
    return client.post(
        f"{URL}/{order_id}/photos",
        {"photo": SimpleUploadedFile(name, data, content_type), "stage": "report"},
        **extra,
    )


def bearer(user) -> dict[str, str]:
    _token, secret = token_create(user=user, name="phone")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


# --- 3. decompression bombs --------------------------------------------------------------------------


def test_a_tiny_png_of_huge_dimensions_is_refused_before_it_is_decoded(world, client_as):
    data = bomb_png()
    assert len(data) < 64 * 1024  # it really is small on the wire
    o = submit(world)
    zhang = client_as(world.c.u_zhang)
    # Pixel buffers are allocated by Pillow in C, out of tracemalloc's sight: its own allocator's counters
    # tell how much pixel memory was taken; tracemalloc covers the rest (the upload, the request).
    Image.core.reset_stats()
    tracemalloc.start()
    try:
        r = upload(zhang, o.pk, data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pillow = Image.core.get_stats()
    assert r.status_code == 422, r.content
    assert error_code(r) == "workorder.photo_too_many_pixels"
    assert r.json()["error"]["fields"]["photo"]
    # Decoding it would have cost ~580 MiB; refused from the header, no pixel is decoded at all.
    assert pillow["new_count"] == 0, pillow
    assert pillow["allocated_blocks"] * Image.core.get_block_size() < 50 * 1024 * 1024, pillow
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert not Photo.objects.exists()
    assert stored_files() == []


def test_the_pixel_limit_is_a_setting(world, client_as, settings):
    o = submit(world)
    zhang = client_as(world.c.u_zhang)
    settings.GONGZHI = {**settings.GONGZHI, "WORKORDERS": {**settings.GONGZHI["WORKORDERS"], "PHOTO_MAX_PIXELS": 3000}}
    r = upload(zhang, o.pk, small_jpeg((64, 48)), name="a.jpg", content_type="image/jpeg")  # 3,072 pixels
    assert (r.status_code, error_code(r)) == (422, "workorder.photo_too_many_pixels")
    r = upload(zhang, o.pk, small_jpeg((60, 50)), name="a.jpg", content_type="image/jpeg")  # 3,000: allowed
    assert r.status_code == 201, r.content


def test_the_submit_page_refuses_a_bomb_with_a_message_and_makes_nothing(world, client_as):
    client = client_as(world.c.u_zhang)
    photo = SimpleUploadedFile("bomb.png", bomb_png(), content_type="image/png")
    form = {"kind": "help", "cat": "0101", "text": "路面塌陷", "key": "k-bomb-1", "photo": photo}
    r = client.post("/workorders/new/", form)
    assert r.status_code == 422
    page = r.content.decode()
    assert 'role="alert"' in page and "路面塌陷" in page  # the message, and what she wrote is kept
    assert not WorkOrder.objects.exists()
    assert not Photo.objects.exists()
    assert stored_files() == []


def test_the_order_page_refuses_a_bomb_with_a_message(world, client_as):
    o = submit(world)
    client = client_as(world.c.u_zhang)
    photo = SimpleUploadedFile("bomb.png", bomb_png(), content_type="image/png")
    r = client.post(f"/workorders/{o.pk}/photo/", {"photo": photo})
    assert r.status_code == 422
    assert 'role="alert"' in r.content.decode()
    assert not Photo.objects.exists()


# --- 12a. photos for API clients ------------------------------------------------------------------------


def test_an_api_client_with_a_token_can_fetch_the_photos_the_api_lists(world, client_as):
    c = world.c
    o = submit(world)
    api = client_as(None)
    auth = bearer(c.u_zhang)
    r = upload(api, o.pk, small_jpeg(), name="a.jpg", content_type="image/jpeg", **auth)
    assert r.status_code == 201, r.content
    p = Photo.objects.get(order=o)
    url = r.json()["url"]
    assert url == f"/api/v1/workorders/{o.pk}/photos/{p.pk}"
    [listed] = api.get(f"{URL}/{o.pk}", **auth).json()["photos"]
    assert listed["url"] == url
    got = api.get(url, **auth)
    assert got.status_code == 200
    assert got["Content-Type"] == "image/jpeg"
    assert b"".join(got.streaming_content)[:2] == b"\xff\xd8"
    # The same photo for the handling unit's clerk, once the order is theirs.
    from workorders import services

    services.workorder_dispatch(order=fresh(o), to=housing(world), by=c.u_zhao)
    assert api.get(url, **bearer(world.u_feng)).status_code == 200
    # The pages keep their own address for the photo.
    page = client_as(c.u_zhang).get(f"/workorders/{o.pk}/").content.decode()
    assert f"/workorders/{o.pk}/photos/{p.pk}/" in page


def test_an_api_photo_outside_your_scope_is_404_and_without_credentials_401(world, client_as):
    c = world.c
    o = submit(world)
    p_resp = upload(client_as(c.u_zhang), o.pk, small_jpeg(), name="a.jpg", content_type="image/jpeg")
    assert p_resp.status_code == 201, p_resp.content
    url = p_resp.json()["url"]
    api = client_as(None)
    # Someone who may not see the order: the same 404 as for an order or a photo that does not exist.
    outsider = api.get(url, **bearer(c.u_sun))
    assert outsider.status_code == 404
    assert outsider.json()["error"]["code"] == "not_found"
    other = submit(world, by=c.u_liu, text="另一盏路灯")
    p = Photo.objects.get(order=o)
    assert api.get(f"{URL}/{other.pk}/photos/{p.pk}", **bearer(c.u_liu)).status_code == 404  # not this order's
    assert api.get(f"{URL}/987654/photos/{p.pk}", **bearer(c.u_sun)).json() == outsider.json()
    # No credentials (or a bad token): 401 in the API's error shape, never a login redirect.
    anon = api.get(url)
    assert anon.status_code == 401
    assert anon.json()["error"]["code"] == "auth.required"
    bad = api.get(url, HTTP_AUTHORIZATION="Bearer gz_not_a_token")
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "auth.invalid_token")
