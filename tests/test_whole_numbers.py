"""A whole personal number is shown through one selector (org.selectors.whole_number) and every such read
by someone else is logged — a resident's, a hotline caller's who is no resident, a neighbour's on a
one-key call chain. Masked numbers are not logged; reading one's own is not either."""

from __future__ import annotations

import pytest

from core.models import PersonalDataAccess
from sos import services as sos
from workorders import services as wo
from workorders.models import Channel, Kind

pytestmark = pytest.mark.django_db


def log_rows() -> list[tuple[str, str, str, int | None, str]]:
    return [
        (a.user.username, a.field, a.channel, a.resident_id, a.subject)
        for a in PersonalDataAccess.objects.select_related("user").order_by("id")
    ]


def test_a_hotline_callers_number_is_logged_as_theirs_when_no_resident(world, client_as):
    c = world.c
    order = wo.workorder_submit(
        by=c.u_zhao, kind=Kind.COMPLAINT, category=world.streetlight, text="路灯坏了", channel=Channel.HOTLINE,
        grid=c.a1, contact_name="王先生", contact_phone="13700001234",
    ).order  # fmt: skip
    PersonalDataAccess.objects.all().delete()
    # The dispatcher who typed it in sees it whole, unlogged (it is what they wrote down).
    assert client_as(c.u_zhao).get(f"/api/v1/workorders/{order.pk}").json()["contact_phone"] == "13700001234"
    assert log_rows() == []
    # The village's staff see phones there: whole, and logged against the order's caller.
    r = client_as(c.u_zhou).get(f"/api/v1/workorders/{order.pk}")
    assert r.json()["contact_phone"] == "13700001234"
    page = client_as(c.u_zhou).get(f"/workorders/{order.pk}/")
    assert "13700001234" in page.content.decode()
    caller = f"workorder:{order.tracking_code}:caller"
    assert log_rows() == [("zhou", "phone", "api", None, caller), ("zhou", "phone", "page", None, caller)]
    # The leader sees the order but no phones: masked, nothing logged.
    shown = client_as(c.u_qian).get(f"/api/v1/workorders/{order.pk}").json()["contact_phone"]
    assert shown != "13700001234" and "1234" in shown
    assert len(log_rows()) == 2


def test_an_owners_number_is_logged_as_the_residents(world, client_as):
    c = world.c
    order = wo.workorder_submit(
        by=c.u_zhang, kind=Kind.COMPLAINT, category=world.streetlight, text="路灯坏了", channel=Channel.MOBILE,
        contact_phone="13800005678",
    ).order  # fmt: skip
    PersonalDataAccess.objects.all().delete()
    client_as(c.u_zhang).get(f"/api/v1/workorders/{order.pk}")  # her own: not logged
    client_as(c.u_li).get(f"/api/v1/workorders/{order.pk}")
    assert log_rows() == [("li", "phone", "api", c.zhang.pk, "")]


def test_a_neighbours_number_on_a_chain_is_logged_and_a_work_phone_is_not(world, client_as):
    c = world.c
    profile = sos.care_register(resident=c.zhang, by=c.u_li, reasons=["elderly_alone"])
    sos.chain_set(
        profile=profile, by=c.u_li,
        rungs=[{"user": c.u_li, "kind": "grid_worker"}, {"name": "邻居王婶", "phone": "13911112222", "kind": "other"}],
    )  # fmt: skip
    PersonalDataAccess.objects.all().delete()
    body = client_as(c.u_zhou).get(f"/api/v1/sos/profiles/{profile.pk}").json()
    assert [r["phone"] for r in body["chain"]][1] == "13911112222"
    neighbour = profile.chain.get(position=1)
    assert log_rows() == [("zhou", "phone", "api", None, f"sos:responder:{neighbour.pk}")]


def test_the_log_always_names_whose_number_it_was(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        PersonalDataAccess.objects.create(user=world.c.u_li, field="phone", channel="api")


def test_whole_number_is_the_only_door_to_the_log():
    """Every whole number goes through org.selectors.whole_number: nothing else writes the log."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    callers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if not str(p.relative_to(root)).startswith((".venv", "tests/"))
        and "/tests/" not in str(p)
        and re.search(r"\blog_personal_read\(", p.read_text(encoding="utf-8"))
    )
    assert callers == ["core/audit.py", "org/selectors.py"]
