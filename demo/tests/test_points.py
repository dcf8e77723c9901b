"""The demo year of volunteer service and points: it looks like a county's 积分服务制, the demo logins have
a history, the books balance, and the same seed gives the same year."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Sum

from accounts.models import User
from core.clock import SHANGHAI, frozen
from demo.points import seed_points
from notify.models import Message
from points.models import Account, Claim, Entry, Goods, Lot, Nomination, Redemption, Shop, StockMove
from points.reconcile import reconcile
from volunteers.models import Activity, Participation, Team, TeamMember, Volunteer
from volunteers.selectors import hours_of, week_preview

# A demo county is built through the services: seconds each. `make test-fast` leaves these out.
pytestmark = pytest.mark.slow

END = dt.datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)


def states(model) -> dict[str, int]:
    return dict(model.objects.values_list("state").annotate(n=Count("id")).order_by())


@pytest.mark.django_db
def test_demo_year_of_volunteer_service_and_points():
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, stdout=io.StringIO())
    assert not Volunteer.objects.exists() and not Shop.objects.exists()  # --points 0 adds nothing
    summary = seed_points(activities=40, seed=1, end=END)
    assert summary.seconds < 60

    # Volunteers in teams with a leader each; a shop per village and per town with stocked goods.
    assert Volunteer.objects.count() == summary.volunteers > 50
    assert all(v.skills for v in Volunteer.objects.all())
    assert Team.objects.count() == summary.teams >= 10
    for team in Team.objects.all():
        assert team.members.filter(role="leader", left_at__isnull=True).count() == 1
    assert Shop.objects.filter(node__level=5).count() == 10 and Shop.objects.filter(node__level=4).count() == 3
    assert Goods.objects.filter(name__in=["洗衣粉", "食用油", "大米", "毛巾", "牙膏"]).exists()
    assert not Goods.objects.filter(stock__lt=0).exists()
    assert StockMove.objects.filter(kind="restock", note="月度补货").exists()

    # A year of activities, rated, with the points of VS01 awarded by the rating; next week's, open.
    acts = states(Activity)
    assert acts["finished"] >= 30 and acts["published"] >= 10, acts
    started = Activity.objects.values_list("starts_at", flat=True)
    assert min(started) < END - dt.timedelta(days=300)
    parts = states(Participation)
    assert parts["done"] > 100 and parts.get("no_show", 0) > 0 and parts["signed_up"] > 0, parts
    done = Participation.objects.filter(state="done").select_related("claim__rule")
    assert all(p.hours > 0 and p.claim is not None and p.claim.rule.code == "VS01" for p in done)
    # Each rated service has its claim: decided at once when staff rated it, approved by the village clerk
    # when a team leader did (a few may still wait); every approved one with points is one award.
    awarded = [p for p in done if p.claim.state == "approved" and p.claim.points > 0]
    assert len(awarded) > 0.9 * done.count()
    assert Entry.objects.filter(kind="award", rule__code="VS01").count() == len(awarded)
    for p in done.select_related("activity")[:30]:
        assert p.activity.starts_at - dt.timedelta(minutes=30) <= p.checkin_at <= p.activity.ends_at
    with frozen(END):
        assert week_preview(User.objects.get(username="volunteer"), END).exists()
    upcoming = Activity.objects.filter(starts_at__gte=END)
    assert upcoming.count() == summary.upcoming and all(a.state == "published" for a in upcoming)
    assert Participation.objects.filter(activity__in=upcoming, state="signed_up").exists()

    # Claims under the other rules: some decided either way, some still waiting for the village.
    others = Claim.objects.exclude(rule__code__in=["VS01", "GP01"])
    assert set(others.values_list("rule__code", flat=True)) >= {"EN01", "NB01"}
    claim_states = dict(others.values_list("state").annotate(n=Count("id")).order_by())
    assert claim_states.get("pending", 0) > 0 and claim_states.get("approved", 0) > 0, claim_states
    assert all(c.decision_note for c in others.filter(state="rejected"))

    # The shop: at the counter and reserved online; some collected, some cancelled, a few still to pick up.
    red = dict(Redemption.objects.values_list("channel").annotate(n=Count("id")).order_by())
    assert red.get("counter", 0) > 20 and red.get("online", 0) > 3, red
    assert states(Redemption).get("cancelled", 0) > 0
    reserved = Redemption.objects.filter(state="reserved")
    assert reserved.exists() and all(r.pickup_by > END for r in reserved)
    assert all(r.refund_id for r in Redemption.objects.filter(state="cancelled"))

    # Recognition and deductions.
    noms = states(Nomination)
    assert noms["selected"] >= 10 and noms.get("not_selected", 0) > 0, noms
    assert Entry.objects.filter(kind="award", rule__code="GP01").count() == noms["selected"]
    assert Entry.objects.filter(kind="deduct").exclude(reason="").count() == summary.deductions >= 1

    # The demo logins are volunteers with a history: hours on the honour record, points earned and spent.
    for username in ("volunteer", "resident"):
        v = Volunteer.objects.get(resident__user__username=username)
        assert hours_of(v) > Decimal(0), username
        earned = Entry.objects.filter(resident=v.resident, kind="award").aggregate(s=Sum("amount"))["s"]
        assert earned and earned > 0, username
        assert Redemption.objects.filter(resident=v.resident).exists(), username
    volunteer = Volunteer.objects.get(resident__user__username="volunteer")
    assert Account.objects.get(resident=volunteer.resident).balance > 0
    assert TeamMember.objects.filter(volunteer=volunteer, role="leader").exists()
    assert Activity.objects.filter(created_by__username="volunteer").exists()
    # A year of messages is not a year of unread ones.
    assert Message.objects.filter(kind__in=["points", "volunteers"], read_at__isnull=False).exists()

    # Nothing past its time is left pending by the replay, and the books balance to the point.
    assert not Lot.objects.filter(expires_at__lte=END, remaining__gt=0).exists()
    n, diffs, total = reconcile()
    assert n > 100 and diffs == [] and total == 0


def _fingerprint() -> list:
    """The seeded year without database ids of new rows (PostgreSQL does not roll sequences back)."""
    return [
        list(Volunteer.objects.order_by("resident_id").values_list("resident_id", "skills", "joined_at")),
        list(Team.objects.order_by("name").values_list("name", "path")),
        list(Activity.objects.order_by("starts_at", "path").values_list("title", "path", "starts_at", "state")),
        list(
            Participation.objects.order_by(
                "activity__starts_at", "activity__path", "volunteer__resident_id"
            ).values_list("volunteer__resident_id", "state", "hours", "rating", "checkin_at")
        ),
        list(Entry.objects.order_by("at", "resident_id", "kind").values_list("kind", "amount", "resident_id", "at")),
        list(
            Redemption.objects.order_by("created_at", "resident_id").values_list("goods__name", "resident_id", "state")
        ),
        list(Nomination.objects.order_by("month", "resident_id").values_list("resident_id", "state")),
        list(Goods.objects.order_by("shop__path", "sort").values_list("name", "price", "stock")),
    ]


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_year():
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, fraction=0.3, stdout=io.StringIO())
    runs = []
    for _ in range(2):
        with transaction.atomic():
            seed_points(activities=12, seed=7, end=END)
            runs.append(_fingerprint())
            transaction.set_rollback(True)
    assert runs[0] == runs[1]
    assert runs[0][2] and runs[0][4]
