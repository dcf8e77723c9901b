"""{% load places %} … {{ order.grid|place }}: a grid or village with its town and village (org.selectors.place)."""

from __future__ import annotations

from django import template

from org import selectors
from org.models import Node

register = template.Library()


@register.filter
def place(node: Node | None) -> str:
    return selectors.place(node)
