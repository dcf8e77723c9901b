"""The 12345 exchange over the API: a hotline system pushes one order at a time
(`POST /api/v1/hotline/{source}/orders`), signed with its source's secret (core.signing), and may ask for
the state of one it sent (`GET /api/v1/hotline/{source}/orders/{number}`, signed the same way, the body being
empty). Dispatchers' file imports have their pages (integrations.views) and the `hotline_import` command."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router
from ninja.errors import ValidationError
from ninja.responses import Status
from pydantic import ValidationError as PydanticError

from core.errors import ApiError, NotFound, ValidationFailed
from core.schemas import DictSchema, StrictIn
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify
from core.validation import strict_json
from integrations import hotline, services
from integrations.models import HotlineOrder, HotlineSource
from workorders.api import unit_name
from workorders.models import TEXT_MAX
from workorders.states import State

router = Router(tags=["hotline"])


class Unsigned(ApiError):
    status = 401
    code = "hotline.bad_signature"


class TooLarge(ApiError):
    status = 413
    code = "request_too_large"


class HotlinePushIn(StrictIn):
    number: str = Field(min_length=1, max_length=40, description="The hotline's own order number")
    content: str = Field(min_length=2, max_length=TEXT_MAX)
    address: str = Field(min_length=1, max_length=200, description="Placed on the tree by its names (org.places)")
    time: dt.datetime | None = Field(None, description="When the hotline received it (ISO 8601)")
    caller: str = Field("", max_length=40)
    phone: str = Field("", max_length=20)
    category: str = Field("", max_length=60, description="The hotline's category: translated by the source's mapping")
    kind: str = Field("", max_length=20, description="咨询/求助/投诉/举报/建议")
    unit: str = Field(
        "", max_length=60, description="The hotline's handling unit: a department or node, by name or code"
    )
    deadline: dt.datetime | None = None


class HotlineOrderOut(DictSchema):
    number: str
    tracking_code: str
    created: bool
    state: str
    state_label: str
    unit: str | None
    reply: str
    updated_at: dt.datetime


def _source(code: str) -> HotlineSource:
    s = (
        HotlineSource.objects.select_related("account", "node", "default_category")
        .filter(code=code[:20], is_active=True)
        .first()
    )
    if s is None:
        raise NotFound(_("No such hotline source."), code="hotline.not_found")
    return s


def _signed_body(request: HttpRequest, source: HotlineSource) -> bytes:
    limit = services.setting("MAX_PUSH_BYTES")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise TooLarge(_("The order is larger than %(n)s bytes.") % {"n": limit})
    body = request.body
    if len(body) > limit:
        raise TooLarge(_("The order is larger than %(n)s bytes.") % {"n": limit})
    try:
        verify(
            services.push_secrets(source),
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature_header=request.headers.get(SIGNATURE_HEADER),
        )
    except BadSignature as exc:
        messages = {
            "missing": _("Sign the request: %(ts)s and %(sig)s headers.")
            % {"ts": TIMESTAMP_HEADER, "sig": SIGNATURE_HEADER},
            "malformed": _("%(ts)s is not a Unix time in seconds.") % {"ts": TIMESTAMP_HEADER},
            "stale": _("The request was signed more than five minutes from now: a replay, or a clock that is wrong."),
            "mismatch": _("The signature does not match the body and the source's secret."),
        }
        raise Unsigned(
            messages[exc.reason], code=f"hotline.{'stale' if exc.reason == 'stale' else 'bad_signature'}"
        ) from None
    return body


def _out(link: HotlineOrder, created: bool) -> dict[str, Any]:
    o = link.order
    return {
        "number": link.number,
        "tracking_code": o.tracking_code,
        "created": created,
        "state": o.state,
        "state_label": str(State(o.state).label),
        "unit": unit_name(o),
        "reply": o.reply,
        "updated_at": o.updated_at,
    }


@router.post(
    "/hotline/{code}/orders",
    auth=None,
    response={201: HotlineOrderOut, 200: HotlineOrderOut},
    summary="A hotline system pushes one order (HMAC-signed)",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": HotlinePushIn.model_json_schema()}},
            "required": True,
        }
    },
)
def hotline_push(request: HttpRequest, code: str):
    """Signed with the source's secret: `X-Gongzhi-Timestamp` (Unix seconds) and `X-Gongzhi-Signature:
    sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`; a timestamp five minutes away is refused.
    The same number again answers 200 with the order it made."""
    source = _source(code)
    body = _signed_body(request, source)
    try:
        data = strict_json(body)
    except ValueError:
        raise ValidationFailed(_("The body is not UTF-8 JSON."), code="malformed_request") from None
    if not isinstance(data, dict):
        raise ValidationFailed(_("The body is a JSON object."), code="malformed_request")
    try:
        pushed = HotlinePushIn.model_validate(data)
    except PydanticError as exc:
        raise ValidationError([dict(e) for e in exc.errors()]) from None
    values = pushed.model_dump()
    mapping = {**source.mapping, "columns": {f: f for f in hotline.FIELDS}}
    try:
        row = hotline.parse(
            values,
            mapping=mapping,
            area=source.node,
            default_category=source.default_category,
            lookups=hotline.Lookups.load(),
        )
    except hotline.RowError as exc:
        raise ValidationFailed(str(exc), code="hotline.row_refused") from None
    filed = services.hotline_file(source=source, row=row, via=HotlineOrder.Via.PUSH)
    link = HotlineOrder.objects.select_related("order__department", "order__unit_node").get(order=filed.order)
    return Status(201 if filed.created else 200, _out(link, filed.created))


@router.get(
    "/hotline/{code}/orders/{number}",
    auth=None,
    response=HotlineOrderOut,
    summary="The state of an order a hotline pushed (HMAC-signed, empty body)",
)
def hotline_order(request: HttpRequest, code: str, number: str):
    source = _source(code)
    _signed_body(request, source)
    link = (
        HotlineOrder.objects.select_related("order__department", "order__unit_node")
        .filter(source=source, number=number[:40])
        .first()
    )
    if link is None:
        raise NotFound(_("No order with this number came from this hotline."), code="hotline.order_not_found")
    return _out(link, False)
