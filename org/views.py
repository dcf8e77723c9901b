"""Pages for the county model: staff scope home, node drill-down, households, residents, resident home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthedRequest
from accounts.models import RoleAssignment, User
from core.errors import NotFound
from core.forms import bind
from org import access, selectors
from org.forms import ElderModeForm, RevealForm
from org.models import Household, HouseholdLink, Node, Resident, ServicePoint
from org.policy import Cap, holders, may

PAGE_SIZE = 30
T = TypeVar("T")


def _gate(fn: Callable[..., T], *args: Any) -> T:
    """Turn the access gate's NotFound into the page 404 (same answer for missing and not yours)."""
    try:
        return fn(*args)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    scope = access.get_scope(request.user)
    if scope.is_staff or (scope.node_paths and scope.own_resident_id is None):
        return _staff_home(request, scope)
    return _resident_home(request, scope)


def _node_block(scope: access.Scope, node: Node) -> dict[str, Any]:
    with_people = scope.sees_people_under(node)
    stats, children = selectors.node_overview(node, with_people=with_people)
    return {
        "node": node,
        "breadcrumb": selectors.breadcrumb(node),
        "stats": stats,
        "with_people": with_people,
        "children": children,
    }


def _staff_home(request: HttpRequest, scope: access.Scope) -> HttpResponse:
    roots = selectors.scope_roots(request.user)
    assignments = list(scope.assignments)
    return render(
        request,
        "org/staff_home.html",
        {"blocks": [_node_block(scope, n) for n in roots], "assignments": assignments},
    )


@login_required
def node_page(request: AuthedRequest, node_id: int) -> HttpResponse:
    node = _gate(access.access_node, request.user, node_id)
    scope = access.get_scope(request.user)
    if not scope.covers(scope.node_paths, node.path):
        raise Http404  # an ancestor shown only for the breadcrumb: not a place to drill into
    return render(request, "org/node.html", {"nb": _node_block(scope, node)})


def _resident_home(request: HttpRequest, scope: access.Scope) -> HttpResponse:
    if scope.own_resident_id is None:
        return render(request, "org/no_scope.html", status=200)
    me = Resident.objects.select_related("household__grid").get(pk=scope.own_resident_id)
    household = me.household
    # The resident's own numbers are masked until they ask (a tap: ?show=numbers); then shown whole, and logged.
    show = request.GET.get("show") == "numbers"
    members = [
        selectors.resident_view(request.user, m, reveal=show and m.pk == me.pk, channel="page")
        for m in household.members.all()
    ]
    grid_workers = [
        a.user for a in RoleAssignment.objects.filter(holders(Cap.SOS_GRID), node=household.grid).select_related("user")
    ]
    link = HouseholdLink.objects.filter(household=household).select_related("member__resident__user").first()
    party_contact = None
    if link is not None:
        member_user = link.member.resident.user
        party_contact = {
            "name": link.member.resident.name,
            # Only the number the member published for this duty, never their personal register entry.
            "phone": member_user.work_phone if member_user else "",
            "center": link.member.is_center_household,
        }
    ancestors = selectors.breadcrumb(household.grid)
    points = ServicePoint.objects.filter(node_id__in=[n.pk for n in ancestors]).order_by("-path")[:5]
    linked = []
    if scope.linked_household_ids:
        linked = list(
            Household.objects.filter(pk__in=scope.linked_household_ids).order_by("path", "id").select_related("grid")
        )
    response = render(
        request,
        "org/resident_home.html",
        {
            "me": me,
            "household": household,
            "members": members,
            "breadcrumb": ancestors,
            "grid_workers": grid_workers,
            "grid_call": next((w for w in grid_workers if w.work_phone), None),  # 长辈版's fourth action
            "party_contact": party_contact,
            "points": points,
            "linked": linked,
            "numbers_shown": show,
            "has_numbers": bool(me.phone or me.id_number),
        },
    )
    if show:
        response["Cache-Control"] = "no-store"  # whole numbers: not for a shared browser's cache
    return response


@login_required
def household_list_page(request: AuthedRequest) -> HttpResponse:
    node = None
    node_param = request.GET.get("node", "")
    errors = []
    if node_param:
        if not (node_param.isascii() and node_param.isdigit()):
            errors.append(_("The place you chose is not valid."))
        else:
            node = _gate(access.access_node, request.user, int(node_param))
    q = request.GET.get("q", "").strip()
    if len(q) > 50:
        errors.append(_("Search text can be at most 50 characters."))
        q = ""
    tag = request.GET.get("tag", "")
    if tag and tag not in Household.Tag.values:
        errors.append(_("Unknown household tag."))
        tag = ""
    qs = selectors.household_list(request.user, node=node, q=q, tag=tag)
    paginator = Paginator(qs, PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except PageNotAnInteger:
        errors.append(_("The page number is not valid."))
        page = paginator.page(1)
    except EmptyPage:
        errors.append(_("There is no such page."))
        page = paginator.page(1)
    heads = selectors.household_heads(list(page.object_list))
    rows = [{"household": h, "head": heads.get(h.pk, "")} for h in page.object_list]
    return render(
        request,
        "org/households.html",
        {
            "rows": rows,
            "page": page,
            "node": node,
            "q": q,
            "tag": tag,
            "tags": Household.Tag.choices,
            "errors": errors,
            "sees_people": access.get_scope(request.user).sees_people,
        },
    )


@login_required
def household_page(request: AuthedRequest, household_id: int) -> HttpResponse:
    household = _gate(access.access_household, request.user, household_id)
    members = [selectors.resident_view(request.user, m, reveal=False, channel="page") for m in household.members.all()]
    link = HouseholdLink.objects.filter(household=household).select_related("member__resident").first()
    return render(
        request,
        "org/household.html",
        {"household": household, "members": members, "link": link, "breadcrumb": selectors.breadcrumb(household.grid)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def resident_page(request: AuthedRequest, resident_id: int) -> HttpResponse:
    resident = _gate(access.access_resident, request.user, resident_id)
    scope = access.get_scope(request.user)
    # Numbers are revealed only on an explicit request, and every reveal is logged.
    form = bind(request, RevealForm) if request.method == "POST" else None
    reveal = form is not None and form.cleaned_data["reveal"] == "1"
    view = selectors.resident_view(request.user, resident, reveal=reveal, channel="page", path=request.path)
    can_reveal = scope.unmask_phone(resident) or scope.unmask_id(resident)
    return render(
        request,
        "org/resident.html",
        {
            "resident": resident,
            "r": view,
            "can_reveal": can_reveal and not reveal,
            "household": resident.household,
            "can_set_mode": resident.user_id is not None and may(request.user, Cap.REGISTER, resident.path),
        },
    )


@login_required
@require_http_methods(["POST"])
def resident_mode(request: AuthedRequest, resident_id: int) -> HttpResponse:
    """A grid worker (whoever keeps the register where the resident lives) turns 长辈版 on or off for a
    resident with a login: it is the resident's setting from then on, which they can change themselves."""
    resident = _gate(access.access_resident, request.user, resident_id)
    if resident.user_id is None or not may(request.user, Cap.REGISTER, resident.path):
        raise PermissionDenied
    form = bind(request, ElderModeForm)
    if form is not None:
        elder = form.cleaned_data["mode"] == "elder"
        User.objects.filter(pk=resident.user_id).update(elder_mode=elder)
        if elder:
            messages.success(
                request, _("%(name)s will see the elderly mode from their next page.") % {"name": resident.name}
            )
        else:
            messages.success(
                request, _("%(name)s will see the standard mode from their next page.") % {"name": resident.name}
            )
    return redirect("org:resident", resident_id=resident.pk)
