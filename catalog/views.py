"""The published catalogue (事项清单) as pages: public, logged in or not — people look before they ask."""

from __future__ import annotations

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from catalog import selectors
from catalog.models import Category, HandlingMode, ItemLevel, ServiceItem

PAGE_SIZE = 50


def catalog_page(request: HttpRequest) -> HttpResponse:
    g = request.GET
    errors: list[str] = []
    q = g.get("q", "").replace("\x00", "").strip()
    if len(q) > 40:
        errors.append(_("Search text can be at most 40 characters."))
        q = ""
    categories = list(selectors.active_categories().filter(level__lte=2))
    top = [c for c in categories if c.level == 1]
    chosen = None
    code = g.get("category", "")
    if code:
        chosen = next((c for c in categories if c.code == code), None)
        if chosen is None:
            errors.append(_("Unknown category."))
    level = g.get("level", "")
    if level and level not in ItemLevel.values:
        errors.append(_("Unknown level."))
        level = ""
    mode = g.get("mode", "")
    if mode and mode not in HandlingMode.values:
        errors.append(_("Unknown handling mode."))
        mode = ""
    items = selectors.published_items(
        q=q, category_id=chosen.pk if chosen else None, level=level or None, mode=mode or None
    )
    paginator = Paginator(items, PAGE_SIZE)
    try:
        page = paginator.page(g.get("page", 1))
    except PageNotAnInteger:
        errors.append(_("The page number is not valid."))
        page = paginator.page(1)
    except EmptyPage:
        errors.append(_("There is no such page."))
        page = paginator.page(1)
    top_of_chosen = None
    if chosen is not None:
        top_of_chosen = chosen if chosen.level == 1 else next((c for c in top if c.pk == chosen.parent_id), None)
    children = [c for c in categories if top_of_chosen is not None and c.parent_id == top_of_chosen.pk]
    params = g.copy()
    params.pop("page", None)
    return render(
        request,
        "catalog/list.html",
        {
            "page": page,
            "q": q,
            "errors": errors,
            "top": top,
            "children": children,
            "chosen": chosen,
            "top_of_chosen": top_of_chosen,
            "level": level,
            "mode": mode,
            "levels": ItemLevel.choices,
            "modes": HandlingMode.choices,
            "query": params.urlencode(),
        },
    )


def item_page(request: HttpRequest, code: str) -> HttpResponse:
    item = (
        ServiceItem.objects.filter(code=code[:20], is_published=True)
        .select_related("category__parent__parent", "department")
        .first()
    )
    if item is None:
        raise Http404
    path: list[Category] = []
    c: Category | None = item.category
    while c is not None:
        path.insert(0, c)
        c = c.parent
    return render(request, "catalog/item.html", {"item": item, "category_path": path})
