"""What pages share: the access gates' NotFound shown as the 404 page, a service's refusal shown as a
message, keyset pages of a list, and the small parsers of form values."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from core.clock import aware
from core.errors import ApiError, NotFound
from core.formerrors import tags_for
from core.forms import NextForm

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def gate(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call an access gate; its NotFound is the 404 page: missing and not yours look the same."""
    try:
        return fn(*args, **kw)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc


def error_text(exc: ApiError) -> str:
    """A service's refusal as one line for a person: its message; after the general "some fields are not
    valid", what each field says (a specific message already says it, the field notes are terse)."""
    parts = [str(exc.message)]
    if parts[0] != str(type(exc).default_message):
        return parts[0]
    for msgs in exc.fields.values():
        for m in msgs if isinstance(msgs, list | tuple) else [msgs]:
            if str(m) not in parts:
                parts.append(str(m))
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({'; '.join(parts[1:])})"


def attempt(request: HttpRequest, fn: Callable[..., Any], /, *, error_for: str | dict[str, str] = "", **kw: Any) -> Any:
    """Call a service for a page: its result, or None with its refusal shown as a message (nothing changed).
    NotFound is the 404 page, as from a gate. `error_for` names the field the refusal is about, for the
    page the redirect leads to (core.formerrors)."""
    try:
        return fn(**kw)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    except ApiError as exc:
        messages.error(request, error_text(exc), extra_tags=tags_for(exc.fields, error_for))
        return None


def form_key(value: str | None) -> str:
    """The idempotency key a form carried, if it is one; else "" (the service makes a fresh one)."""
    value = (value or "").strip()
    return value if KEY_RE.match(value) else ""


def back(request: HttpRequest, prefix: str, default: str) -> HttpResponse:
    """Back to the page a form was posted from (its `next`), if it is one of ours under `prefix`. A `next`
    the form refuses (a NUL byte, too long) goes to `default`, without a word: the view that posted has
    said what it had to, and a bad `next` on a good form must not undo it. Other fields' faults are
    their form's business, not where to go back to."""
    form = NextForm(request.POST)
    form.is_valid()
    return back_to(form.cleaned_data.get("next", ""), prefix, default)


def back_to(nxt: str, prefix: str, default: str) -> HttpResponse:
    """Back to `nxt` (a form's `next`, already read by the form) if it is one of ours under `prefix`. Never
    another site: not "//evil.example", nor "/\\evil.example", which browsers read the same way."""
    if nxt.startswith(prefix) and "//" not in nxt and "\\" not in nxt and url_has_allowed_host_and_scheme(nxt, None):
        return redirect(nxt)
    return redirect(default)


def new_key() -> str:
    return uuid.uuid4().hex


def to_int(value: str | None) -> int | None:
    """A whole number from a form field ("-3" too), or None."""
    value = (value or "").strip()
    if value.isascii() and re.fullmatch(r"[-+]?\d{1,9}", value):
        return int(value)
    return None


@dataclass
class Page:
    rows: list[Any]
    older_url: str
    newer_url: str
    first_url: str


def keyset(request: HttpRequest, qs: Any, size: int) -> Page:
    """One page of a list ordered newest first (by -id): `older=<id>` pages back, `newer=<id>` forward.
    Fetching size+1 rows tells whether another page exists, without counting the table. The URLs fit
    templates/workorders/_pager.html."""
    older = to_int(request.GET.get("older"))
    newer = to_int(request.GET.get("newer"))
    has_older = has_newer = False
    if newer:
        found = list(qs.filter(pk__gt=newer).order_by("id")[: size + 1])
        has_newer = len(found) > size
        found = found[:size]
        found.reverse()
        has_older = True
    else:
        if older:
            qs = qs.filter(pk__lt=older)
            has_newer = True
        found = list(qs.order_by("-id")[: size + 1])
        has_older = len(found) > size
        found = found[:size]
    params = request.GET.copy()
    for k in ("older", "newer"):
        params.pop(k, None)
    base = params.urlencode()

    def url(extra: str) -> str:
        return "?" + "&".join(p for p in (base, extra) if p)

    return Page(
        rows=found,
        older_url=url(f"older={found[-1].pk}") if has_older and found else "",
        newer_url=url(f"newer={found[0].pk}") if has_newer and found else "",
        first_url=url("") if (older or newer) else "",
    )


def local_datetime(value: str | None) -> dt.datetime | None:
    """A datetime-local value ("2026-06-01T09:00") as Asia/Shanghai wall-clock time (a zone given is kept);
    None when empty or not a date and time (the view says so)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return aware(dt.datetime.fromisoformat(value))
    except ValueError:
        return None
