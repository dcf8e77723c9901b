"""What pages share: the access gates' NotFound shown as the 404 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404

from core.errors import NotFound


def gate(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call an access gate; its NotFound is the 404 page: missing and not yours look the same."""
    try:
        return fn(*args, **kw)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
