"""The inbox page: my messages newest first, unread in bold; opening one marks it read and goes to what it
is about; "mark all read". Only the user's own messages: another's is the 404 page and stays unread.

The webhook pages (notify.webhooks), for the holders of Cap.INTEGRATIONS_MANAGE (others: the 403 page; a
subscription outside one's area: the 404 page): the subscriptions with their state and failures, the form to
add or change one (events ticked), a subscription's page with its secret and delivery log, and the buttons to
send an event again, turn it on or off, rotate the secret or remove it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from core.forms import ActionForm, MultipleChoice, Text, Whole, bind
from core.pages import attempt, back_to, gate, keyset
from notify import selectors, services, webhooks
from notify.models import Subscription

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


# --- webhooks -----------------------------------------------------------------------------------------------

LOG_PAGE_SIZE = 20


class WebhookForm(ActionForm):
    name = Text(max_length=webhooks.NAME_MAX, required=True, line=True, label=gettext_lazy("Name"))
    url = Text(max_length=webhooks.URL_MAX, required=True, label=gettext_lazy("Address (URL)"))
    events = MultipleChoice(choices=webhooks.event_choices(), label=gettext_lazy("Events"))
    node = Whole(label=gettext_lazy("Area"))


class WebhookDisableForm(ActionForm):
    reason = Text(max_length=300, line=True, label=gettext_lazy("Reason"))


def _manager(request: AuthedRequest) -> None:
    """The pages are for those who manage webhooks: others get the 403 page."""
    if not webhooks.manage_paths(request.user):
        raise PermissionDenied


def _labels(events: list[str]) -> list[str]:
    return [str(webhooks.EVENT_TYPES.get(e, e)) for e in events]


@login_required
def webhook_list(request: AuthedRequest) -> HttpResponse:
    _manager(request)
    subs = list(webhooks.subscriptions_for(request.user).select_related("node").order_by("id")[:500])
    rows = [{"sub": s, "labels": _labels(s.events)} for s in subs]
    return render(request, "notify/webhooks.html", {"rows": rows})


def _form_page(request: AuthedRequest, sub: Subscription | None, values: dict[str, Any]) -> HttpResponse:
    return render(
        request,
        "notify/webhook_form.html",
        {
            "sub": sub,
            "values": values,
            "events": webhooks.event_choices(),
            "areas": webhooks.areas_for(request.user) if sub is None else [],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_new(request: AuthedRequest) -> HttpResponse:
    _manager(request)
    if request.method == "POST":
        form = bind(request, WebhookForm)
        if form is not None:
            d = form.cleaned_data
            node = next((n for n in webhooks.areas_for(request.user) if n.pk == d["node"]), None)
            sub = attempt(
                request, webhooks.subscription_create, by=request.user, name=d["name"], url=d["url"],
                events=d["events"], node=node,
            )  # fmt: skip
            if sub is not None:
                messages.success(request, _("Webhook added. Give its secret to the system that receives it."))
                return redirect("notify:webhook", sub.pk)
        return _form_page(request, None, _shown(request.POST))
    return _form_page(request, None, {"events": []})


def _shown(data: Any) -> dict[str, Any]:
    """What was typed, to draw the form again after a refusal."""
    return {"name": data.get("name", ""), "url": data.get("url", ""), "events": data.getlist("events")}


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    _manager(request)
    sub = gate(webhooks.access_subscription, request.user, subscription_id)
    if request.method == "POST":
        form = bind(request, WebhookForm)
        if form is not None:
            d = form.cleaned_data
            done = attempt(
                request, webhooks.subscription_update, subscription=sub, by=request.user, name=d["name"],
                url=d["url"], events=d["events"],
            )  # fmt: skip
            if done is not None:
                messages.success(request, _("Saved."))
                return redirect("notify:webhook", sub.pk)
        return _form_page(request, sub, _shown(request.POST))
    return _form_page(request, sub, {"name": sub.name, "url": sub.url, "events": sub.events})


@login_required
def webhook_detail(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    _manager(request)
    sub = gate(webhooks.access_subscription, request.user, subscription_id)
    page = keyset(request, webhooks.deliveries_of(sub), LOG_PAGE_SIZE)
    rows = [{"d": d, "label": str(webhooks.EVENT_TYPES.get(d.event_type, d.event_type))} for d in page.rows]
    return render(
        request,
        "notify/webhook.html",
        {"sub": sub, "labels": _labels(sub.events), "page": page, "rows": rows},
    )


def _act(request: AuthedRequest, subscription_id: int, service: Any, done: str, **kw: Any) -> HttpResponse:
    _manager(request)
    sub = gate(webhooks.access_subscription, request.user, subscription_id)
    if attempt(request, service, subscription=sub, by=request.user, **kw) is not None:
        messages.success(request, done)
    return redirect("notify:webhook", sub.pk)


@login_required
@require_POST
def webhook_enable(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    return _act(request, subscription_id, webhooks.subscription_enable, _("Turned on: waiting deliveries go now."))


@login_required
@require_POST
def webhook_disable(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    _manager(request)
    form = bind(request, WebhookDisableForm)
    if form is None:
        return redirect("notify:webhook", subscription_id)
    reason = form.cleaned_data["reason"]
    return _act(request, subscription_id, webhooks.subscription_disable, _("Turned off."), reason=reason)


@login_required
@require_POST
def webhook_rotate(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    return _act(
        request,
        subscription_id,
        webhooks.subscription_rotate_secret,
        _("New secret made. The old one signs too for a while: give the new one to the receiving system."),
    )


@login_required
@require_POST
def webhook_delete(request: AuthedRequest, subscription_id: int) -> HttpResponse:
    _manager(request)
    sub = gate(webhooks.access_subscription, request.user, subscription_id)
    if attempt(request, webhooks.subscription_delete, subscription=sub, by=request.user) is not None:
        messages.success(request, _("Webhook removed."))
    return redirect("notify:webhooks")


@login_required
@require_POST
def delivery_redeliver(request: AuthedRequest, delivery_id: int) -> HttpResponse:
    _manager(request)
    delivery = gate(webhooks.access_delivery, request.user, delivery_id)
    if attempt(request, webhooks.delivery_redeliver, delivery=delivery, by=request.user) is not None:
        messages.success(request, _("The event will be sent again, with the same event id."))
    return redirect("notify:webhook", delivery.subscription_id)
