"""{% village_projects user %}: the practical projects of a resident's village (under way and done), for
their home page (which lives in org, below this app: the template asks, org's code does not import it)."""

from __future__ import annotations

from typing import Any

from django import template

from partylink import selectors

register = template.Library()


@register.inclusion_tag("partylink/_projects_box.html")
def village_projects(user: Any, limit: int = 3) -> dict[str, Any]:
    if not getattr(user, "is_authenticated", False):
        return {"projects": []}
    rows = selectors.projects_for(user).filter(state__in=selectors.PUBLIC_PROJECT_STATES)
    return {"projects": list(rows[:limit])}


@register.inclusion_tag("partylink/_projects_box.html")
def node_projects(node: Any, user: Any, limit: int = 10) -> dict[str, Any]:
    """The projects of a village (or of every village under a town) that `user` may see: the village page."""
    if not getattr(user, "is_authenticated", False) or not hasattr(node, "path"):
        return {"projects": []}
    rows = selectors.projects_for(user).filter(path__startswith=node.path)
    return {"projects": list(rows[:limit]), "title_node": node}
