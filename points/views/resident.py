"""A resident's pages: their points, claims, the shops and their reservations."""

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
from core.formerrors import for_field
from core.forms import bind
from core.pages import attempt, back_to, gate, keyset, new_key
from org.access import own_resident
from org.models import path_prefixes
from points import forms, selectors, services
from points.models import Claim, Redemption, Rule
from points.views.common import PAGE_SIZE, _account, _me_or_404, _when

# --- a resident's pages -----------------------------------------------------------------------------------


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """我的积分: balance, earned and spent, what expires when, the history, the shops that serve me."""
    me = own_resident(request.user)
    if me is None:
        if selectors.manager_paths(request.user):
            return redirect("points:manage")
        return render(request, "points/not_linked.html")
    account = _account(me.pk)
    history = keyset(
        request,
        selectors.entries_for(request.user).filter(resident_id=me.pk).select_related("rule", "sink"),
        PAGE_SIZE,
    )
    shops = list(  # the village's shop first, then the town's
        selectors.shops_for(request.user).filter(path__in=path_prefixes(me.path), is_active=True).order_by("-path")
    )
    reserved = selectors.redemptions_for(request.user).filter(resident_id=me.pk, state=Redemption.State.RESERVED)
    return render(
        request,
        "points/home.html",
        {
            **account,
            "me": me,
            "history": history,
            "shops": shops,
            "reserved": reserved.count(),
            "pending": selectors.claims_for(request.user).filter(resident_id=me.pk, state=Claim.State.PENDING).count(),
            "manager": bool(selectors.manager_paths(request.user)),
        },
    )


def _claim_rules() -> list[Rule]:
    # The form offers the rules a resident claims for on their own word, which village staff approve.
    # Rules decided at once have their own way in: service hours through a rated activity, the good
    # person of the month through a nomination; this form does not take them.
    return list(Rule.objects.filter(is_active=True, needs_approval=True).order_by("code"))


# The claim form's fields, by the names the form and the service know them (core.formerrors).
CLAIM_FIELD_IDS = {"rule": "rule", "quantity": "quantity", "description": "description"}


@login_required
def claim_page(request: AuthedRequest) -> HttpResponse:
    """申报积分: a claim under a rule (what was done, how many acts or hours), for the village to approve."""
    me = _me_or_404(request.user)
    rules = _claim_rules()
    values = {"rule": request.GET.get("rule", ""), "quantity": "1", "description": ""}
    status = 200
    if request.method == "POST":
        form = bind(request, forms.ClaimForm, error_for=CLAIM_FIELD_IDS)
        if form is None:
            return redirect("points:claim")
        d = form.cleaned_data
        values = {k: d[k] for k in ("rule", "quantity", "description")}
        rule = next((r for r in rules if r.code == values["rule"]), None)
        if rule is None:
            messages.error(request, _("No such points rule."), extra_tags=for_field("rule"))
            status = 422
        else:
            claim = attempt(
                request,
                services.claim_submit,
                resident=me,
                rule=rule,
                quantity=values["quantity"],
                description=values["description"],
                by=request.user,
                key=d["key"],
                error_for=CLAIM_FIELD_IDS,
            )
            if claim is not None:
                messages.success(
                    request, _("Your claim has been sent. The village will check it and award the points.")
                )
                return redirect("points:claim")
            status = 422
    mine = list(
        selectors.claims_for(request.user).filter(resident_id=me.pk).select_related("rule").order_by("-id")[:20]
    )
    return render(
        request,
        "points/claim.html",
        {"rules": rules, "values": values, "key": new_key(), "claims": mine},
        status=status,
    )


@login_required
def redemptions_page(request: AuthedRequest) -> HttpResponse:
    """我的兑换: my reservations (to pick up, or to cancel) and what I took."""
    me = _me_or_404(request.user)
    page = keyset(
        request,
        selectors.redemptions_for(request.user).filter(resident_id=me.pk).select_related("shop", "goods", "resident"),
        PAGE_SIZE,
    )
    for r in page.rows:
        attach(r, actions=selectors.redemption_actions(request.user, r))
    return render(request, "points/redemptions.html", {"page": page, "balance": _account(me.pk)["balance"]})


@login_required
def shop_page(request: AuthedRequest, shop_id: int) -> HttpResponse:
    """A shop's goods with price, stock and limit; a resident reserves with one tap per goods."""
    shop = gate(selectors.access_shop, request.user, shop_id)
    staff = selectors.manages(request.user, shop.path)
    me = own_resident(request.user)
    can_reserve = me is not None and selectors.shop_serves(shop, me.path)
    goods = shop.goods.all() if staff else shop.goods.filter(is_active=True)
    # qid: the quantity field's id, where a refused reservation of these goods is said (see reserve).
    rows = [{"goods": g, "key": new_key(), "qid": f"q{g.pk}"} for g in goods.order_by("sort", "id")]
    return render(
        request,
        "points/shop.html",
        {
            "shop": shop,
            "rows": rows,
            "staff": staff,
            "can_reserve": can_reserve,
            "balance": _account(me.pk)["balance"] if me is not None else None,
            "pickup_days": services.setting("PICKUP_DAYS"),
        },
    )


def _quantity_field(form: forms.ReserveForm) -> str:
    """The quantity field a refused reservation is about: each goods has its own (q<goods id>) on the shop's page."""
    goods = form.cleaned_data.get("goods")
    return f"q{goods}" if goods else ""


@login_required
@require_POST
def reserve(request: AuthedRequest, shop_id: int) -> HttpResponse:
    """预约兑换: the resident reserves goods for themself; the points are taken now, the goods wait."""
    me = _me_or_404(request.user)
    shop = gate(selectors.access_shop, request.user, shop_id)
    # A refusal is said at the goods' own quantity field (each goods has its form on the shop's page).
    form = bind(request, forms.ReserveForm, error_for=_quantity_field)
    if form is None:
        return redirect("points:shop", shop_id=shop.pk)
    d = form.cleaned_data
    goods = gate(selectors.access_goods, request.user, d["goods"] or 0)
    if goods.shop_id != shop.pk:
        raise Http404
    result = attempt(
        request,
        services.redeem,
        goods=goods,
        resident=me,
        quantity=d["quantity"] or 0,
        by=request.user,
        key=d["key"],
        error_for=f"q{goods.pk}",
    )
    if result is None:
        return redirect("points:shop", shop_id=shop.pk)
    r, _created = result
    messages.success(
        request,
        _("Reserved: %(goods)s × %(n)s for %(points)s points. Please pick it up at %(shop)s by %(date)s.")
        % {"goods": goods.name, "n": r.quantity, "points": r.points, "shop": shop.name, "date": _when(r.pickup_by)},
    )
    return redirect("points:redemptions")


@login_required
@require_POST
def redemption_cancel(request: AuthedRequest, redemption_id: int) -> HttpResponse:
    """A resident cancels their reservation; shop staff cancel any redemption of their shop with a reason."""
    r = gate(selectors.access_redemption, request.user, redemption_id)
    # Without a usable `next`: the resident back to their redemptions, shop staff to the counter.
    own = r.resident.user_id == request.user.pk
    default = reverse("points:redemptions") if own else reverse("points:counter", args=[r.shop_id])
    form = bind(request, forms.CancelForm)
    if form is None:
        return redirect(default)
    done = attempt(
        request,
        services.redemption_cancel,
        redemption=r,
        by=request.user,
        reason=form.cleaned_data["reason"],
    )
    if done is not None:
        messages.success(
            request,
            _("Cancelled: %(goods)s × %(n)s. %(points)s points are back.")
            % {"goods": r.goods.name, "n": r.quantity, "points": r.points},
        )
    return back_to(form.cleaned_data["next"], "/points/", default)
