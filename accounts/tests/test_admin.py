"""The admin writes through the services: roles through role_assign/role_revoke (the same rule as
everywhere: department staff take a department, every other role a node), a node's name through
node_update (its place in the tree stays)."""

from __future__ import annotations

import pytest

from accounts.models import RoleAssignment
from org.models import Node

pytestmark = pytest.mark.django_db


def user_form(user, roles: list[dict], *, existing: list[RoleAssignment]) -> dict:
    """The change form of `user` as the admin page posts it, with the role rows given."""
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "work_phone": user.work_phone,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "roles-TOTAL_FORMS": str(len(existing) + len(roles)),
        "roles-INITIAL_FORMS": str(len(existing)),
        "roles-MIN_NUM_FORMS": "0",
        "roles-MAX_NUM_FORMS": "1000",
    }
    for i, a in enumerate(existing):
        data |= {f"roles-{i}-id": str(a.pk), f"roles-{i}-user": str(user.pk), f"roles-{i}-role": a.role}
        data |= {f"roles-{i}-node": str(a.node_id or ""), f"roles-{i}-department": str(a.department_id or "")}
    for j, r in enumerate(roles, start=len(existing)):
        data |= {f"roles-{j}-{k}": str(v) for k, v in r.items()} | {f"roles-{j}-user": str(user.pk)}
    return data


def test_a_role_in_the_wrong_place_is_a_form_error_and_changes_nothing(county, client_as):
    c = county
    admin = client_as(c.u_admin)
    existing = list(c.u_li.roles.all())
    bad = user_form(c.u_li, [{"role": "dept_staff", "node": c.v1.pk, "department": ""}], existing=existing)
    r = admin.post(f"/admin/accounts/user/{c.u_li.pk}/change/", bad)
    assert r.status_code == 200 and "errorlist" in r.content.decode()
    assert list(c.u_li.roles.values_list("role", "node_id")) == [(a.role, a.node_id) for a in existing]


def test_roles_added_and_removed_in_the_admin_go_through_the_services(county, client_as, monkeypatch):
    from accounts import services

    c = county
    calls: list[str] = []
    for name in ("role_assign", "role_revoke"):
        real = getattr(services, name)
        monkeypatch.setattr(services, name, lambda *a, _real=real, _n=name, **kw: calls.append(_n) or _real(*a, **kw))
    admin = client_as(c.u_admin)
    existing = list(c.u_li.roles.all())
    add = user_form(c.u_li, [{"role": "village_staff", "node": c.v1.pk, "department": ""}], existing=existing)
    assert admin.post(f"/admin/accounts/user/{c.u_li.pk}/change/", add).status_code == 302
    assert set(c.u_li.roles.values_list("role", flat=True)) == {"grid_worker", "village_staff"}
    existing = list(c.u_li.roles.order_by("id"))
    drop = user_form(c.u_li, [], existing=existing) | {"roles-1-DELETE": "on"}
    assert admin.post(f"/admin/accounts/user/{c.u_li.pk}/change/", drop).status_code == 302
    assert list(c.u_li.roles.values_list("role", flat=True)) == ["grid_worker"]
    assert calls == ["role_assign", "role_revoke"]


def test_a_node_renamed_in_the_admin_keeps_its_place(county, client_as):
    c = county
    r = client_as(c.u_admin).post(
        f"/admin/org/node/{c.v1.pk}/change/",
        {"kind": c.v1.kind, "name": "东村（新）", "code": c.v1.code, "lat": "", "lng": "", "sort": "0"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    v1 = Node.objects.get(pk=c.v1.pk)
    assert (v1.name, v1.path, v1.parent_id) == ("东村（新）", c.v1.path, c.t1.pk)
