"""Staff: claims to decide, awards and deductions by hand."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.extra import attach
from core.forms import bind
from core.pages import attempt, gate, new_key
from org.access import paths_q, residents_for
from points import forms, selectors, services
from points.models import Claim, Entry
from points.views.common import _manager_paths_or_404, _people, _search, _with_query

# --- staff: claims, awards and deductions -----------------------------------------------------------


@login_required
def manage_page(request: AuthedRequest) -> HttpResponse:
    """Claims waiting for a decision, points awarded or deducted by hand, the shops."""
    paths = _manager_paths_or_404(request.user)
    pending = list(
        selectors.claims_for(request.user)
        .filter(paths_q(paths, "path"), state=Claim.State.PENDING)
        .select_related("resident", "rule")
        .order_by("submitted_at", "id")[:100]
    )
    for c in pending:
        attach(c, would=services.rule_points(c.rule, c.quantity), actions=selectors.claim_actions(request.user, c))
    q = request.GET.get("q", "").replace("\x00", "").strip()[:30]
    recent = list(
        selectors.entries_for(request.user)
        .filter(kind__in=[Entry.Kind.AWARD, Entry.Kind.DEDUCT, Entry.Kind.REVERSE])
        .select_related("resident", "rule")
        .order_by("-id")[:20]
    )
    return render(
        request,
        "points/manage.html",
        {
            "pending": pending,
            "q": q,
            "found": _people(request, _search(request, q, paths)),
            "key": new_key(),
            "recent": recent,
            "shops": list(selectors.shops_for(request.user).filter(paths_q(paths, "path")).order_by("path", "id")),
        },
    )


@login_required
@require_POST
def claim_decide(request: AuthedRequest, claim_id: int) -> HttpResponse:
    _manager_paths_or_404(request.user)
    claim = gate(selectors.access_claim, request.user, claim_id)
    form = bind(request, forms.DecideForm)
    if form is None:
        return redirect("points:manage")
    approve = form.cleaned_data["decision"] == "approve"
    done = attempt(
        request,
        services.claim_decide,
        claim=claim,
        approve=approve,
        by=request.user,
        note=form.cleaned_data["note"],
    )
    if done is not None:
        if approve:
            messages.success(
                request,
                _("Approved: %(n)s points for %(name)s.") % {"n": done.points, "name": claim.resident.name},
            )
        else:
            messages.success(request, _("Rejected the claim of %(name)s.") % {"name": claim.resident.name})
    return redirect("points:manage")


@login_required
@require_POST
def adjust(request: AuthedRequest) -> HttpResponse:
    """Award or deduct points by hand, with the reason on the record."""
    _manager_paths_or_404(request.user)
    back = reverse("points:manage")
    form = bind(request, forms.AdjustForm)
    if form is None:
        return redirect(back)
    d = form.cleaned_data
    back = _with_query(back, q=d["q"])
    if d["resident"] is None:
        messages.error(request, _("Choose a resident first."))
        return redirect(back)
    resident = residents_for(request.user).filter(pk=d["resident"]).first()
    if resident is None:
        raise Http404
    deduct = d["kind"] == "deduct"
    fn = services.deduct_manual if deduct else services.award_manual
    amount = d["amount"] or 0
    result = attempt(
        request,
        fn,
        resident=resident,
        amount=amount,
        reason=d["reason"],
        by=request.user,
        key=d["key"],
    )
    if result is not None:
        text = (_("Deducted %(n)s points from %(name)s.") if deduct else _("Awarded %(n)s points to %(name)s.")) % {
            "n": amount,
            "name": resident.name,
        }
        messages.success(request, text)
    return redirect(back)
