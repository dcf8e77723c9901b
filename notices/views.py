"""Notice pages: mine (pinned first, unread marked), one notice with its attachments (opening it counts as
read), and for those who publish: write one for an area of theirs, publish a draft, withdraw, and how many
of its audience have read each. Writes go through notices.services; a refusal is a message."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from core.clock import SHANGHAI
from core.forms import bind
from core.pages import attempt, gate
from notices import forms, selectors, services
from notices.models import Notice
from notices.states import NOTICE


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    notices = list(selectors.notices_for(request.user)[:100])
    read = set(
        Notice.objects.filter(pk__in=[n.pk for n in notices], reads__user_id=request.user.pk).values_list(
            "pk", flat=True
        )
    )
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


def _local(value: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return t.replace(tzinfo=SHANGHAI) if t.tzinfo is None else t


@login_required
@require_http_methods(["GET", "POST"])
def manage(request: AuthedRequest) -> HttpResponse:
    """通知公告管理: write a notice; every notice of my areas with how many have read it."""
    if not selectors.publish_paths(request.user):
        raise Http404
    nodes = list(selectors.publish_nodes(request.user))
    if request.method == "POST":
        form = bind(request, forms.NoticeForm)
        if form is not None:
            d = form.cleaned_data
            node = next((x for x in nodes if x.pk == d["node"]), None)
            if node is None:
                raise Http404
            expires = _local(d["expires_at"]) if d["expires_at"] else None
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
    return render(request, "notices/manage.html", {"nodes": nodes, "rows": rows, "form": request.POST})


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
