"""Pages for the county model: staff scope home, node drill-down, households, residents, resident home."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import Role, RoleAssignment
from core.errors import NotFound
from org import access, selectors
from org.models import Household, HouseholdLink, Level, Node, Resident, ServicePoint

PAGE_SIZE = 30


def _gate(fn, *args):
    """Turn the access gate's NotFound into the page 404 (same answer for missing and not yours)."""
    try:
        return fn(*args)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc


@login_required
def home(request: HttpRequest) -> HttpResponse:
    scope = access.get_scope(request.user)
    if scope.is_staff or (scope.node_paths and scope.own_resident_id is None):
        return _staff_home(request, scope)
    return _resident_home(request, scope)


def _node_block(scope: access.Scope, node: Node) -> dict[str, Any]:
    """A node with counts below it and per child, from grouped counts (a handful of queries in all)."""
    with_people = scope.sees_people_under(node)
    children = list(node.children.order_by("sort", "name", "id"))
    levels = dict(
        Node.objects.filter(node.subtree_q()).exclude(pk=node.pk).values_list("level").annotate(n=Count("id"))
    )
    grids_by_path: dict[str, int] = {}
    if node.level < Level.VILLAGE:
        grids_by_path = dict(
            Node.objects.filter(node.subtree_q(), level=Level.GRID).values_list("path").annotate(n=Count("id"))
        )
    households_by_path: dict[str, int] = {}
    residents_by_path: dict[str, int] = {}
    if with_people:
        # Grouped by grid path: at most one row per grid, however many people live below.
        households_by_path = dict(
            Household.objects.filter(node.subtree_q()).values_list("path").annotate(n=Count("id"))
        )
        residents_by_path = dict(Resident.objects.filter(node.subtree_q()).values_list("path").annotate(n=Count("id")))

    def under(counts: dict[str, int], path: str) -> int:
        return sum(n for p, n in counts.items() if p.startswith(path))

    stats = selectors.NodeStats(
        towns=levels.get(Level.TOWN, 0),
        villages=levels.get(Level.VILLAGE, 0),
        grids=levels.get(Level.GRID, 0),
        households=sum(households_by_path.values()),
        residents=sum(residents_by_path.values()),
    )
    rows = [
        {
            "node": c,
            "grids": under(grids_by_path, c.path) if grids_by_path else None,
            "households": under(households_by_path, c.path) if with_people else None,
            "residents": under(residents_by_path, c.path) if with_people else None,
        }
        for c in children
    ]
    return {
        "node": node,
        "breadcrumb": selectors.breadcrumb(node),
        "stats": stats,
        "with_people": with_people,
        "children": rows,
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
def node_page(request: HttpRequest, node_id: int) -> HttpResponse:
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
    members = [
        selectors.resident_view(request.user, m, reveal=m.pk == me.pk, channel="page") for m in household.members.all()
    ]
    grid_workers = [
        a.user for a in RoleAssignment.objects.filter(role=Role.GRID_WORKER, node=household.grid).select_related("user")
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
    return render(
        request,
        "org/resident_home.html",
        {
            "me": me,
            "household": household,
            "members": members,
            "breadcrumb": ancestors,
            "grid_workers": grid_workers,
            "party_contact": party_contact,
            "points": points,
            "linked": linked,
        },
    )


@login_required
def household_list_page(request: HttpRequest) -> HttpResponse:
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
    heads = dict(
        Resident.objects.filter(household__in=list(page.object_list), relation="head").values_list(
            "household_id", "name"
        )
    )
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
def household_page(request: HttpRequest, household_id: int) -> HttpResponse:
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
def resident_page(request: HttpRequest, resident_id: int) -> HttpResponse:
    resident = _gate(access.access_resident, request.user, resident_id)
    scope = access.get_scope(request.user)
    # Numbers are revealed only on an explicit request, and every reveal is logged.
    reveal = request.method == "POST" and request.POST.get("reveal") == "1"
    view = selectors.resident_view(request.user, resident, reveal=reveal, channel="page", path=request.path)
    can_reveal = scope.unmask_phone(resident) or scope.unmask_id(resident)
    return render(
        request,
        "org/resident.html",
        {"resident": resident, "r": view, "can_reveal": can_reveal and not reveal, "household": resident.household},
    )
