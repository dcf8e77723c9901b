"""HMAC-SHA256 signatures for what Gongzhi exchanges with other systems: webhooks and the HTTP gateway
going out, a hotline system's pushed orders coming in. One scheme both ways, so a county's integrator
writes one checker:

    X-Gongzhi-Timestamp: 1796529600                      (Unix seconds when it was signed)
    X-Gongzhi-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>

The timestamp is inside what is signed, so a captured request cannot be replayed later with a new one;
a receiver refuses a timestamp more than REPLAY_SECONDS away from its own clock. Several signatures may
be sent separated by commas (a secret being rotated): one that matches is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets

from core import clock

TIMESTAMP_HEADER = "X-Gongzhi-Timestamp"
SIGNATURE_HEADER = "X-Gongzhi-Signature"
REPLAY_SECONDS = 300
_PREFIX = "sha256="


class BadSignature(Exception):
    """The request is not signed with the secret, or its timestamp is missing, malformed or too old."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "missing", "malformed", "stale", "mismatch"


def new_secret() -> str:
    return "whsec_" + _secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers to send with `body`."""
    ts = int(clock.now().timestamp()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secrets: list[str] | str,
    body: bytes,
    *,
    timestamp: str | None,
    signature_header: str | None,
    tolerance: int = REPLAY_SECONDS,
) -> int:
    """Check a received request; returns its timestamp. Raises BadSignature with the reason."""
    if not timestamp or not signature_header:
        raise BadSignature("missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature("malformed")
    ts = int(timestamp)
    if abs(clock.now().timestamp() - ts) > tolerance:
        raise BadSignature("stale")
    keys = [secrets] if isinstance(secrets, str) else secrets
    offered = [s.strip() for s in signature_header.split(",") if s.strip()][:5]
    for key in keys:
        if not key:
            continue
        expected = signature(key, ts, body)
        if any(hmac.compare_digest(expected.encode(), s.encode("utf-8", "replace")) for s in offered):
            return ts
    raise BadSignature("mismatch")
