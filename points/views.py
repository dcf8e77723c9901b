"""Points pages: a resident's points, claims, the shops and their reservations; the staff's claims to
decide, awards and deductions by hand, the shop counter with its stock, the leaderboard with the
good-person nominations, and the report.

Pages change nothing themselves: every write is a call to points.services, every scoped read goes
through points.selectors (or org.access), every posted action is read through its form (points.forms).
A form's or a service's refusal is shown as a message and changes nothing; what is missing or outside
the user's part of the county is the 404 page, as are the staff pages for anyone who runs no points.
The buttons of a redemption, a claim and a nomination are the actions the selectors allow this user.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.clock import SHANGHAI, now
from core.extra import attach
from core.forms import bind
from core.pages import attempt, back_to, gate, keyset, new_key, to_int
from org import selectors as org_selectors
from org.access import get_scope, own_resident, paths_q, residents_for
from org.models import Level, Node, Resident, path_prefixes
from points import forms, selectors, services
from points.models import Account, Claim, Entry, Goods, Redemption, Rule

PAGE_SIZE = 20
SEARCH_MAX = 20
EXPIRY_SOON_DAYS = 60  # lots expiring within this many days are shown as a warning
PERIODS = ("month", "year", "all")


# --- who is asking ------------------------------------------------------------------------------------


def _me_or_404(user: Any) -> Resident:
    me = own_resident(user)
    if me is None:
        raise Http404
    return me


def _manager_paths_or_404(user: Any) -> tuple[str, ...]:
    """The staff pages are for those who run points (village and town staff, administrators)."""
    paths = selectors.manager_paths(user)
    if not paths:
        raise Http404
    return paths


def _shop_staff(user: Any, shop_id: int) -> Any:
    shop = gate(selectors.access_shop, user, shop_id)
    if not selectors.manages(user, shop.path):
        raise Http404
    return shop


# --- what the pages show ----------------------------------------------------------------------------------


def _account(resident_id: int) -> dict[str, Any]:
    """Balance, earned, spent and the lots that expire next: selectors.account_summary, as the API's."""
    summary = selectors.account_summary(resident_id, lots=5)
    soon = now() + dt.timedelta(days=EXPIRY_SOON_DAYS)
    expiring = [
        {"points": lot["remaining"], "on": lot["expires_at"], "soon": lot["expires_at"] <= soon}
        for lot in summary["lots"]
        if lot["expires_at"] is not None
    ]
    return {**summary, "expiring": expiring}


def _balances(resident_ids: list[int]) -> dict[int, int]:
    return dict(
        Account.objects.filter(resident_id__in=resident_ids).values_list("resident_id", "balance")
        if resident_ids
        else []
    )


def _people(request: HttpRequest, residents: list[Resident]) -> list[dict[str, Any]]:
    """Found residents for a staff form: name, address, phone masked unless the role needs it (a whole
    number shown is logged), and their balance."""
    scope = get_scope(request.user)
    balances = _balances([r.pk for r in residents])
    rows = []
    for r in residents:
        phone = org_selectors.whole_number(
            request.user, r.phone, field="phone", allowed=scope.unmask_phone(r), channel="page", path=request.path,
            resident=r,
        )  # fmt: skip
        rows.append(
            {
                "resident": r,
                "phone": phone,
                "balance": balances.get(r.pk, 0),
            }
        )
    return rows


def _search(request: HttpRequest, q: str, paths: tuple[str, ...]) -> list[Resident]:
    if not q:
        return []
    return list(org_selectors.resident_list(request.user, q=q).filter(paths_q(paths, "path"))[:SEARCH_MAX])


def _when(t: dt.datetime | None) -> str:
    return formats.date_format(t.astimezone(SHANGHAI), "Y-m-d") if t else ""


def _with_query(url: str, **params: str) -> str:
    return url + "?" + urlencode(params) if any(params.values()) else url


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


@login_required
def claim_page(request: AuthedRequest) -> HttpResponse:
    """申报积分: a claim under a rule (what was done, how many acts or hours), for the village to approve."""
    me = _me_or_404(request.user)
    rules = _claim_rules()
    values = {"rule": request.GET.get("rule", ""), "quantity": "1", "description": ""}
    status = 200
    if request.method == "POST":
        form = bind(request, forms.ClaimForm)
        if form is None:
            return redirect("points:claim")
        d = form.cleaned_data
        values = {k: d[k] for k in ("rule", "quantity", "description")}
        rule = next((r for r in rules if r.code == values["rule"]), None)
        if rule is None:
            messages.error(request, _("No such points rule."))
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
    rows = [{"goods": g, "key": new_key()} for g in goods.order_by("sort", "id")]
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


@login_required
@require_POST
def reserve(request: AuthedRequest, shop_id: int) -> HttpResponse:
    """预约兑换: the resident reserves goods for themself; the points are taken now, the goods wait."""
    me = _me_or_404(request.user)
    shop = gate(selectors.access_shop, request.user, shop_id)
    form = bind(request, forms.ReserveForm)
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


# --- recognition and figures ---------------------------------------------------------------------------


def _period(request: HttpRequest) -> dict[str, Any]:
    """The period of a leaderboard or report from ?period=month|year|all&month=YYYY-MM (Asia/Shanghai)."""
    period = request.GET.get("period", "month")
    if period not in PERIODS:
        period = "month"
    since, until, y, m = selectors.period_bounds(period, request.GET.get("month", ""))
    return {"period": period, "month": f"{y:04d}-{m:02d}", "first": dt.date(y, m, 1), "since": since, "until": until}


def _node_choices(user: Any) -> list[Node]:
    """Places a leaderboard or report can be asked for: the user's own town, village and grid; for staff,
    the towns and villages of their part of the county."""
    scope = get_scope(user)
    q = paths_q(tuple(p for p in scope.node_paths if scope.own is None or p != scope.own.path), "path")
    nodes = list(Node.objects.filter(q, level__in=[Level.COUNTY, Level.TOWN, Level.VILLAGE]).order_by("path")[:300])
    if scope.own is not None:
        mine = Node.objects.filter(path__in=path_prefixes(scope.own.path), level__gte=Level.TOWN).order_by("path")
        nodes = [*nodes, *(n for n in mine if n not in nodes)]
    return nodes


def _node(request: HttpRequest) -> Node:
    return gate(selectors.board_place, request.user, to_int(request.GET.get("node")))


@login_required
def ranking_page(request: AuthedRequest) -> HttpResponse:
    """积分排行: who earned most under a place in a period; the good-person nominations of the month."""
    node = _node(request)
    period = _period(request)
    board = selectors.leaderboard(node.path, period["since"], period["until"], limit=50)
    nominators = selectors.manager_paths(request.user, grid_workers=True)
    nominations = list(
        selectors.nominations_for(request.user)
        .filter(month=period["first"])
        .select_related("resident")
        .order_by("state", "id")[:200]
    )
    for n in nominations:
        attach(n, actions=selectors.nomination_actions(request.user, n))
    nq = request.GET.get("nq", "").replace("\x00", "").strip()[:30]
    return render(
        request,
        "points/ranking.html",
        {
            "node": node,
            "nodes": _node_choices(request.user),
            **period,
            "periods": PERIODS,
            "board": board,
            "nominations": nominations,
            "can_nominate": bool(nominators),
            "nq": nq,
            "found": _people(request, _search(request, nq, nominators)) if nominators else [],
        },
    )


@login_required
@require_POST
def nominate(request: AuthedRequest) -> HttpResponse:
    back = reverse("points:ranking")
    form = bind(request, forms.NominateForm)
    if form is None:
        return redirect(back)
    d = form.cleaned_data
    if d["resident"] is None:
        messages.error(request, _("Choose a resident first."))
        return redirect(back)
    resident = residents_for(request.user).filter(pk=d["resident"]).first()
    if resident is None:
        raise Http404
    raw = d["month"]
    try:
        month = dt.date.fromisoformat(f"{raw}-01")
    except ValueError:
        messages.error(request, _("Choose the month."))
        return redirect(back)
    done = attempt(
        request,
        services.nominate,
        resident=resident,
        month=month,
        reason=d["reason"],
        by=request.user,
    )
    if done is not None:
        messages.success(request, _("%(name)s is nominated as a good person.") % {"name": resident.name})
    return redirect(back + "?" + urlencode({"month": raw}))


@login_required
@require_POST
def nomination_decide(request: AuthedRequest, nomination_id: int, decision: str) -> HttpResponse:
    n = selectors.nominations_for(request.user).filter(pk=nomination_id).select_related("resident").first()
    if n is None or decision not in ("select", "pass"):
        raise Http404
    if bind(request, forms.NominationDecideForm) is None:
        return redirect(reverse("points:ranking") + "?" + urlencode({"month": n.month.strftime("%Y-%m")}))
    done = attempt(request, services.nomination_decide, nomination=n, select=decision == "select", by=request.user)
    if done is not None and decision == "select":
        messages.success(request, _("%(name)s is a good person of the month.") % {"name": n.resident.name})
    return redirect(reverse("points:ranking") + "?" + urlencode({"month": n.month.strftime("%Y-%m")}))


@login_required
def report_page(request: AuthedRequest) -> HttpResponse:
    """积分统计: points issued, spent, refunded, deducted and expired under a place, and what is held now."""
    user = request.user
    node = _node(request)
    if not selectors.reads_summary(user, node.path):
        raise Http404
    period = _period(request)
    totals = selectors.summary(node.path, period["since"], period["until"])
    outstanding = selectors.outstanding(node.path)
    rows = [
        (_("Issued"), totals[Entry.Kind.AWARD]),
        (_("Redeemed"), totals[Entry.Kind.REDEEM]),
        (_("Refunded"), totals[Entry.Kind.REFUND]),
        (_("Deducted"), totals[Entry.Kind.DEDUCT]),
        (_("Expired"), totals[Entry.Kind.EXPIRE]),
        (_("Reversed"), totals[Entry.Kind.REVERSE]),
    ]
    return render(
        request,
        "points/report.html",
        {
            "node": node,
            "nodes": _node_choices(user),
            **period,
            "periods": PERIODS,
            "rows": rows,
            "totals": totals,
            "outstanding": outstanding,
        },
    )
