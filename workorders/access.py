"""Who sees and who may act on which work order — built on org.access's scope.

Seeing:
- staff holding a role over a node (admin, leader, dispatcher, town/village staff, grid worker) see
  orders located in that subtree, and orders handed to a local unit inside it;
- department staff see the orders their department handles or helps with (now or before);
- anyone sees the orders they own or typed in (a resident, a grid worker's 代办, a party member's relay),
  and a duplicate's reporter sees its primary through their own order.
Out of scope answers like missing (404). In scope but not allowed to act: 403.

Acting:
- dispatch/reassign/answer/close/reopen/rule unreasonable/decide extensions/duplicates: dispatchers and
  administrators over the order's location;
- sign for/return/transfer/start/suspend/resume/resolve/ask for extension: the current main handler —
  a member of its department, or town/village/grid staff whose node covers the local unit;
- rate: the owner (or whoever submitted it when there is no owner account);
- callbacks and spot checks: dispatchers, administrators, leaders over the location;
- urge/supervise (催办/督办): dispatchers, administrators and leaders over the location.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from core.errors import NotFound, PermissionDenied
from core.extra import attach
from org.access import Scope, Term, any_holds, any_q, get_scope
from org.models import Node
from org.policy import Cap
from workorders.models import Assignment, WorkOrder

if TYPE_CHECKING:
    from accounts.models import Viewer


@dataclass
class WorkScope:
    user: Any
    scope: Scope

    @cached_property
    def _roots(self) -> frozenset[str]:
        return frozenset(Node.objects.filter(parent__isnull=True).values_list("path", flat=True))

    @property
    def see_paths(self) -> tuple[str, ...]:
        return self.scope.cap_paths(Cap.ORDERS_SEE)

    @property
    def dispatch_paths(self) -> tuple[str, ...]:
        return self.scope.cap_paths(Cap.ORDERS_DISPATCH)

    @property
    def supervise_paths(self) -> tuple[str, ...]:
        return self.scope.cap_paths(Cap.ORDERS_SUPERVISE)

    @property
    def handler_paths(self) -> tuple[str, ...]:
        return self.scope.cap_paths(Cap.ORDERS_HANDLE)

    @property
    def proxy_paths(self) -> tuple[str, ...]:
        return self.scope.cap_paths(Cap.ORDERS_PROXY)

    @property
    def department_ids(self) -> frozenset[int]:
        return self.scope.department_ids

    @property
    def is_staff(self) -> bool:
        return bool(self.see_paths or self.department_ids)

    def covers(self, paths: tuple[str, ...], path: str) -> bool:
        return self.scope.covers(paths, path)

    @cached_property
    def sees_everything(self) -> bool:
        """Staff over every root of the tree (a county's dispatcher or leader, a superuser): every order
        lies in their subtree, so their lists need no scope filter — which keeps a million-row queue on
        its indexes instead of an OR the database cannot use them for."""
        return bool(self._roots) and self._roots <= set(self.see_paths)

    def terms(self) -> tuple[tuple[Term, Any], ...]:
        """Who sees an order, on the order's own columns: the owner and whoever typed it in, and staff
        over its place or over the unit handling it. (A department's orders need its assignments: the
        database alone can tell, through `orders_q`.)"""
        uid = getattr(self.user, "pk", None)
        return (
            (Term("owner_user_id", "eq"), uid),
            (Term("submitted_by_id", "eq"), uid),
            (Term("path", "under"), self.see_paths),
            (Term("unit_path", "under"), self.see_paths),
        )

    def orders_q(self) -> Q:
        if self.sees_everything:
            return Q()
        q = any_q(self.terms())
        if self.department_ids:
            # IN (subquery) rather than EXISTS: each OR term then has an index the planner can use.
            q |= Q(pk__in=Assignment.objects.filter(department_id__in=self.department_ids).values("order_id"))
        return q

    def sees_row(self, row: Any) -> bool | None:
        """`orders_q` asked of an order held in memory: True or False, or None when only the database can
        tell (a department's assignments)."""
        # (Not `sees_everything`: it asks the database for the roots, and the terms already cover them —
        # this runs on every intake.)
        if any_holds(self.terms(), row):
            return True
        return None if self.department_ids else False

    # --- what this user may do with one order ------------------------------------------------
    def can_dispatch(self, order: WorkOrder) -> bool:
        return self.covers(self.dispatch_paths, order.path)

    def can_supervise(self, order: WorkOrder) -> bool:
        return self.covers(self.supervise_paths, order.path)

    def is_main_handler(self, order: WorkOrder) -> bool:
        if order.department_id is not None:
            return order.department_id in self.department_ids
        if order.unit_node_id is not None:
            return self.covers(self.handler_paths, order.unit_path)
        return False

    def is_owner(self, order: WorkOrder) -> bool:
        uid = getattr(self.user, "pk", None)
        if uid is None:
            return False
        if order.owner_user_id is not None:
            return order.owner_user_id == uid
        return order.submitted_by_id == uid

    def sees_person(self, order: WorkOrder) -> bool:
        """Staff see who complained even when the order is anonymous to the public."""
        return self.is_staff or self.is_owner(order) or order.submitted_by_id == getattr(self.user, "pk", None)


def work_scope(user: Viewer | None) -> WorkScope:
    cached = getattr(user, "_gongzhi_work_scope", None)
    if cached is not None:
        return cached
    ws = WorkScope(user=user, scope=get_scope(user))
    if user is not None and getattr(user, "is_authenticated", False):
        attach(user, _gongzhi_work_scope=ws)
    return ws


def orders_for(user: Viewer) -> QuerySet[WorkOrder]:
    if user is None or not user.is_authenticated:
        return WorkOrder.objects.none()
    return WorkOrder.objects.filter(work_scope(user).orders_q())


def _may(user: Viewer, order: WorkOrder, need: str) -> bool:
    ws = work_scope(user)
    return {
        "view": lambda: True,
        "dispatch": lambda: ws.can_dispatch(order),
        "handle": lambda: ws.is_main_handler(order),
        "supervise": lambda: ws.can_supervise(order),
        "rate": lambda: ws.is_owner(order),
        # Withdrawing: the owner, or whoever filed it for them (a grid worker's 代办 made in error).
        "withdraw": lambda: ws.is_owner(order) or order.submitted_by_id == getattr(user, "pk", None),
        "note": lambda: ws.is_staff,
    }[need]()


def access_order(user: Viewer, order_id: int, *, need: str = "view") -> WorkOrder:
    """The order if `user` may see it (else 404) and do `need` with it (else 403).

    need: view · dispatch · handle · supervise · rate · withdraw · note
    """
    order = orders_for(user).filter(pk=order_id).select_related(*RELATED).first()
    if order is None:
        raise NotFound()
    if not _may(user, order, need):
        raise PermissionDenied()
    return order


def access_orders(user: Viewer, order_ids: list[int], *, need: str = "view") -> list[WorkOrder]:
    """access_order for several ids in one query (bulk dispatch), in the order given, without repeats.
    Any one missing or out of scope: 404; any one not allowed: 403."""
    ids = list(dict.fromkeys(order_ids))
    found = {o.pk: o for o in orders_for(user).filter(pk__in=ids).select_related(*RELATED)}
    if len(found) != len(ids):
        raise NotFound()
    orders = [found[i] for i in ids]
    if not all(_may(user, o, need) for o in orders):
        raise PermissionDenied()
    return orders


RELATED = ("category", "item", "grid", "department", "unit_node")
