"""Staff: the shop counter, its goods and stock."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.extra import attach
from core.forms import bind
from core.pages import attempt, gate, new_key
from org.access import residents_for
from points import forms, selectors, services
from points.models import Goods, Redemption
from points.views.common import _account, _people, _search, _shop_staff

# --- staff: the shop counter --------------------------------------------------------------------------


@login_required
def counter_page(request: AuthedRequest, shop_id: int) -> HttpResponse:
    """The counter: find the resident, hand over goods for points; reservations to hand over; stock."""
    shop = _shop_staff(request.user, shop_id)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:30]
    found = [r for r in _search(request, q, (shop.path,)) if selectors.shop_serves(shop, r.path)]
    goods = list(shop.goods.order_by("sort", "id"))
    in_shop = selectors.redemptions_for(request.user).filter(shop=shop).select_related("shop", "goods", "resident")
    reserved = list(in_shop.filter(state=Redemption.State.RESERVED).order_by("pickup_by", "id")[:200])
    recent = list(in_shop.exclude(state=Redemption.State.RESERVED).order_by("-id")[:20])
    for r in (*reserved, *recent):
        attach(r, actions=selectors.redemption_actions(request.user, r))
    return render(
        request,
        "points/counter.html",
        {
            "shop": shop,
            "q": q,
            "found": _people(request, found),
            "goods": goods,
            "on_sale": [g for g in goods if g.is_active],
            "reserved": reserved,
            "recent": recent,
            "key": new_key(),
            "periods": Goods.Period.choices,
        },
    )


@login_required
@require_POST
def counter_redeem(request: AuthedRequest, shop_id: int) -> HttpResponse:
    shop = _shop_staff(request.user, shop_id)
    counter = reverse("points:counter", args=[shop.pk])
    form = bind(request, forms.CounterRedeemForm)
    if form is None:
        return redirect(counter)
    d = form.cleaned_data
    back = counter + "?" + urlencode({"q": d["q"]})
    if d["resident"] is None:
        messages.error(request, _("Choose a resident first."))
        return redirect(back)
    resident = residents_for(request.user).filter(pk=d["resident"]).first()
    goods = gate(selectors.access_goods, request.user, d["goods"] or 0)
    if resident is None or goods.shop_id != shop.pk:
        raise Http404
    result = attempt(
        request,
        services.redeem,
        goods=goods,
        resident=resident,
        quantity=d["quantity"] or 0,
        by=request.user,
        key=d["key"],
    )
    if result is not None:
        r, _created = result
        messages.success(
            request,
            _("Handed over %(goods)s × %(n)s to %(name)s for %(points)s points. Balance now: %(balance)s.")
            % {
                "goods": goods.name,
                "n": r.quantity,
                "name": resident.name,
                "points": r.points,
                "balance": _account(resident.pk)["balance"],
            },
        )
    return redirect(back)


@login_required
@require_POST
def redemption_collect(request: AuthedRequest, redemption_id: int) -> HttpResponse:
    r = gate(selectors.access_redemption, request.user, redemption_id)
    if bind(request, forms.CollectForm) is None:
        return redirect("points:counter", shop_id=r.shop_id)
    if attempt(request, services.redemption_collect, redemption=r, by=request.user) is not None:
        messages.success(
            request,
            _("Handed over %(goods)s × %(n)s to %(name)s.")
            % {"goods": r.goods.name, "n": r.quantity, "name": r.resident.name},
        )
    return redirect("points:counter", shop_id=r.shop_id)


@login_required
@require_POST
def goods_add(request: AuthedRequest, shop_id: int) -> HttpResponse:
    shop = _shop_staff(request.user, shop_id)
    form = bind(request, forms.GoodsAddForm)
    if form is None:
        return redirect("points:counter", shop_id=shop.pk)
    d = form.cleaned_data
    fields = {
        "name": d["name"],
        "description": d["description"],
        "price": d["price"],
        "limit_per_person": d["limit_per_person"] or None,
        "limit_period": d["limit_period"] or Goods.Period.MONTH,
    }
    stock = d["stock"] or 0
    g = attempt(request, services.goods_save, shop=shop, by=request.user, **fields)
    if g is not None:
        if stock:
            attempt(request, services.goods_restock, goods=g, delta=stock, by=request.user, note=_("Initial stock"))
        messages.success(request, _("Added %(goods)s.") % {"goods": g.name})
    return redirect("points:counter", shop_id=shop.pk)


@login_required
@require_POST
def goods_stock(request: AuthedRequest, goods_id: int) -> HttpResponse:
    """A delivery (restock), or with "count" a correction after counting the shelf."""
    g = gate(selectors.access_goods, request.user, goods_id)
    form = bind(request, forms.GoodsStockForm)
    if form is None:
        return redirect("points:counter", shop_id=g.shop_id)
    d = form.cleaned_data
    done = attempt(
        request,
        services.goods_restock,
        goods=g,
        delta=d["delta"] or 0,
        by=request.user,
        note=d["note"],
        count=d["count"],
    )
    if done is not None:
        messages.success(request, _("%(goods)s: %(n)s in stock now.") % {"goods": done.name, "n": done.stock})
    return redirect("points:counter", shop_id=g.shop_id)


@login_required
@require_POST
def goods_sale(request: AuthedRequest, goods_id: int) -> HttpResponse:
    """Take goods off sale, or put them back on."""
    g = gate(selectors.access_goods, request.user, goods_id)
    if bind(request, forms.GoodsSaleForm) is not None:
        attempt(request, services.goods_save, shop=g.shop, goods=g, by=request.user, is_active=not g.is_active)
    return redirect("points:counter", shop_id=g.shop_id)
