"""{% current_notices user %}: the notices for a person now, pinned first, for their home page (the home
page lives in org, below this app: the template asks, org's code does not import notices)."""

from __future__ import annotations

from typing import Any

from django import template

from notices import selectors

register = template.Library()


@register.inclusion_tag("notices/_box.html")
def current_notices(user: Any, limit: int = 3) -> dict[str, Any]:
    if not getattr(user, "is_authenticated", False):
        return {"notices": []}
    return {"notices": list(selectors.notices_for(user)[:limit])}


@register.inclusion_tag("notices/_events_box.html")
def week_events(user: Any, limit: int = 5) -> dict[str, Any]:
    import datetime as dt

    from core.clock import SHANGHAI, now

    if not getattr(user, "is_authenticated", False):
        return {"events": []}
    start = now().astimezone(SHANGHAI)
    return {"events": list(selectors.events_for(user, start=start, end=start + dt.timedelta(days=7))[:limit])}
