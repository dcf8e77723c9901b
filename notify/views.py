"""The inbox page: my messages newest first, unread in bold; opening one marks it read and goes to what it
is about; "mark all read". Only the user's own messages: another's is the 404 page and stays unread."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.pages import attempt, back_to, keyset
from notify import selectors, services

PAGE_SIZE = 20


def safe_link(link: str) -> str:
    """A message's link if it is a path on this site, else "". Links are written by our own services, but
    a page must not send anyone off-site on the strength of a stored string: "//host", "/\\host" (which
    browsers read as "//host"), a scheme, spaces or control characters are refused."""
    if not link.startswith("/") or "\\" in link or any(ch.isspace() or ord(ch) < 32 for ch in link):
        return ""
    return link if url_has_allowed_host_and_scheme(link, allowed_hosts=None) else ""


@login_required
def inbox(request: AuthedRequest) -> HttpResponse:
    page = keyset(request, selectors.inbox_for(request.user), PAGE_SIZE)
    return render(request, "notify/inbox.html", {"page": page})


@login_required
def open_message(request: AuthedRequest, message_id: int) -> HttpResponse:
    """A plain link (works without script): reading is the only change, and only ever of one's own."""
    m = attempt(request, services.inbox_open, user=request.user, message_id=message_id)
    home = reverse("notify:inbox")
    return back_to(safe_link(m.link), "/", home) if m is not None else redirect(home)


@login_required
@require_POST
def read_all(request: AuthedRequest) -> HttpResponse:
    n = services.inbox_mark_read(user=request.user)
    if n:
        messages.success(request, _("All your messages are marked as read."))
    return redirect("notify:inbox")
