"""Notice pages: mine (pinned first, unread marked), one notice with its attachments (opening it counts as
read), and for those who publish: write one for an area of theirs, publish a draft, withdraw, and how many
of its audience have read each. Writes go through notices.services; a refusal is a message."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from core.clock import SHANGHAI, today
from core.forms import bind
from core.pages import attempt, gate, local_datetime
from notices import forms, selectors, services
from notices.models import Event, Notice
from notices.states import NOTICE
from org.models import ServicePoint
from org.policy import under


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    notices = list(selectors.notices_for(request.user)[:100])
    read = selectors.read_ids(request.user, notices)
    return render(
        request, "notices/home.html",
        {"notices": notices, "read": read, "publishes": bool(selectors.publish_paths(request.user))},
    )  # fmt: skip


@login_required
def notice_page(request: AuthedRequest, notice_id: int) -> HttpResponse:
    n = gate(selectors.access_notice, request.user, notice_id)
    if n.state == Notice.State.PUBLISHED:
        services.notice_read(notice=n, by=request.user)
    manages = selectors.manages(request.user, n)
    return render(
        request, "notices/notice.html",
        {
            "n": n, "attachments": n.attachments.all(), "manages": manages,
            "actions": NOTICE.allowed(n, lambda _a: True) if manages else [],
            "reach": selectors.reach(n) if manages else None,
        },
    )  # fmt: skip


@login_required
def attachment(request: AuthedRequest, notice_id: int, attachment_id: int) -> FileResponse:
    n = gate(selectors.access_notice, request.user, notice_id)
    a = n.attachments.filter(pk=attachment_id).first()
    if a is None:
        raise Http404
    return FileResponse(a.file.open("rb"), as_attachment=True, filename=a.name)


def _publish_node(request: AuthedRequest, node_id: int | None) -> Any:
    """The place a notice or an event is for: any node where the user publishes (the page's list shows the
    first 500; the rest are reached by id all the same)."""
    from org.models import Node

    node = Node.objects.filter(pk=node_id).first() if node_id else None
    if node is None or not under(selectors.publish_paths(request.user), node.path):
        raise Http404
    return node


@login_required
@require_http_methods(["GET", "POST"])
def manage(request: AuthedRequest) -> HttpResponse:
    """通知公告管理: write a notice; every notice of my areas with how many have read it."""
    if not selectors.publish_paths(request.user):
        raise Http404
    nodes = list(selectors.publish_nodes(request.user))
    form = forms.NoticeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, form.error_text())
        else:
            d = form.cleaned_data
            node = _publish_node(request, d["node"])
            expires = local_datetime(d["expires_at"])
            if d["expires_at"] and expires is None:
                messages.error(request, _("Enter the date and time."))
            else:
                n = attempt(
                    request, services.notice_create, by=request.user, node=node, title=d["title"], body=d["body"],
                    to_residents=d["to_residents"], to_staff=d["to_staff"], to_party=d["to_party"],
                    pinned=d["pinned"], expires_at=expires, publish=not d["draft"],
                    attachments=request.FILES.getlist("attachments"),
                )  # fmt: skip
                if n is not None:
                    messages.success(request, _("Notice saved."))
                    return redirect("notices:notice", n.pk)
    rows = [{"n": n, "reach": selectors.reach(n)} for n in selectors.managed(request.user)[:50]]
    return render(request, "notices/manage.html", {"nodes": nodes, "rows": rows, "form": form.data})


@login_required
@require_POST
def publish(request: AuthedRequest, notice_id: int) -> HttpResponse:
    n = gate(selectors.access_notice, request.user, notice_id)
    if attempt(request, services.notice_publish, notice=n, by=request.user):
        messages.success(request, _("Notice published."))
    return redirect("notices:notice", n.pk)


@login_required
@require_POST
def withdraw(request: AuthedRequest, notice_id: int) -> HttpResponse:
    n = gate(selectors.access_notice, request.user, notice_id)
    form = bind(request, forms.WithdrawForm)
    if form is not None and attempt(
        request, services.notice_withdraw, notice=n, by=request.user, reason=form.cleaned_data["reason"]
    ):
        messages.success(request, _("Notice withdrawn."))
    return redirect("notices:notice", n.pk)


# --- events ---------------------------------------------------------------------------------------------------


@login_required
def events_page(request: AuthedRequest) -> HttpResponse:
    """一周活动预告: the week's events of my area with sign-up; for publishers, theirs to manage."""
    start = dt.datetime.combine(today(), dt.time(), tzinfo=SHANGHAI)
    events = list(selectors.events_for(request.user, start=start, end=start + dt.timedelta(days=7)))
    mine = selectors.my_attendance(request.user, events)
    publishes = bool(selectors.publish_paths(request.user))
    return render(
        request, "notices/events.html",
        {
            "rows": [{"e": e, "mine": e.pk in mine and mine[e.pk].state == "signed_up"} for e in events],
            "publishes": publishes, "managed": selectors.managed_events(request.user)[:30] if publishes else [],
            "nodes": selectors.publish_nodes(request.user) if publishes else [],
            "points": ServicePoint.objects.filter(path__in=[]) if not publishes else _points(request),
            "kinds": Event.Kind.choices,
        },
    )  # fmt: skip


def _points(request: AuthedRequest) -> Any:
    from org.access import paths_q

    return ServicePoint.objects.filter(paths_q(selectors.publish_paths(request.user), "path")).order_by("path")[:200]


@login_required
def event_page(request: AuthedRequest, event_id: int) -> HttpResponse:
    e = gate(selectors.access_event, request.user, event_id)
    mine = selectors.my_attendance(request.user, [e]).get(e.pk)
    return render(
        request, "notices/event.html",
        {"e": e, "mine": mine is not None and mine.state == "signed_up", "manages": under(
            selectors.publish_paths(request.user), e.path)},
    )  # fmt: skip


@login_required
@require_POST
def event_new(request: AuthedRequest) -> HttpResponse:
    if not selectors.publish_paths(request.user):
        raise Http404
    form = bind(request, forms.EventForm)
    if form is not None:
        d = form.cleaned_data
        node = _publish_node(request, d["node"])
        point = _points(request).filter(pk=d["point"]).first() if d["point"] else None
        starts, ends = local_datetime(d["starts_at"]), local_datetime(d["ends_at"])
        if starts is None or ends is None:
            messages.error(request, _("Enter the date and time."))
        elif d["capacity"] is None:
            messages.error(request, _("Enter a whole number."))
        else:
            e = attempt(
                request, services.event_publish, by=request.user, node=node, point=point, kind=d["kind"],
                title=d["title"], description=d["description"] or "", place=d["place"] or "", starts_at=starts,
                ends_at=ends, capacity=d["capacity"],
            )  # fmt: skip
            if e is not None:
                messages.success(request, _("Event published."))
                return redirect("notices:event", e.pk)
    return redirect("notices:events")


@login_required
@require_POST
def event_attend(request: AuthedRequest, event_id: int) -> HttpResponse:
    e = gate(selectors.access_event, request.user, event_id)
    if attempt(request, services.event_attend, event=e, by=request.user):
        messages.success(request, _("You are signed up. See you there!"))
    return redirect("notices:event", e.pk)


@login_required
@require_POST
def event_withdraw(request: AuthedRequest, event_id: int) -> HttpResponse:
    e = gate(selectors.access_event, request.user, event_id)
    if attempt(request, services.event_withdraw, event=e, by=request.user):
        messages.success(request, _("Your place is given back."))
    return redirect("notices:event", e.pk)


@login_required
@require_POST
def event_cancel(request: AuthedRequest, event_id: int) -> HttpResponse:
    e = gate(selectors.access_event, request.user, event_id)
    form = bind(request, forms.CancelForm)
    if form is not None and attempt(
        request, services.event_cancel, event=e, by=request.user, reason=form.cleaned_data["reason"]
    ):
        messages.success(request, _("Event cancelled; those signed up are told."))
    return redirect("notices:event", e.pk)
