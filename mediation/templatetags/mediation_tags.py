"""A work order's page shows its dispute case: a link for those who see the case, the number for other staff, or
the form that turns the order into a case for those who report disputes at its grid."""

from __future__ import annotations

from typing import Any

from django import template

from mediation import selectors
from mediation.models import Case, Kind

register = template.Library()


@register.inclusion_tag("mediation/_order_case.html", takes_context=True)
def dispute_for(context: dict[str, Any], order: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not context.get("staff"):
        return {"show": False}
    case = Case.objects.filter(work_order_id=order.pk).only("id", "code").first()
    if case is not None:
        return {
            "show": True,
            "case": case,
            "link": selectors.cases_for(user).filter(pk=case.pk).exists(),
        }
    from org.models import Node

    grid = Node.objects.filter(pk=order.grid_id).first()
    may = grid is not None and selectors.may_report_at(user, grid)
    return {"show": may, "case": None, "order": order, "kinds": Kind.choices, "csrf_token": context.get("csrf_token")}
