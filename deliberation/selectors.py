"""Who reads and does what in village deliberation, and the figures.

- A resident reads the matters, votes, postings and rules of their own village; they sign, comment and rate a
  matter of the village or grid they live in, and vote where the frozen roll names them.
- The village committee (org.policy's deliberation.manage) runs it all over its subtree; watchers above
  (deliberation.watch: the town, the county's leaders) read it; grid workers (deliberation.proxy) propose and
  sign for residents without a phone.
- Missing and not yours are the same 404."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from core.clock import today
from core.errors import NotFound
from core.masking import mask_name
from deliberation.models import (
    Comment,
    Disclosure,
    Elector,
    Matter,
    Option,
    Rating,
    RulesVersion,
    Spending,
    Turnout,
    VillageSetting,
    Vote,
    Voter,
)
from deliberation.states import MATTER
from org.access import Viewer, get_scope, paths_q
from org.models import Level, Node, path_ids
from org.policy import Cap, under


def manage_paths(user: Viewer) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.DELIBERATION_MANAGE)


def proxy_paths(user: Viewer) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.DELIBERATION_PROXY)


def watch_paths(user: Viewer) -> tuple[str, ...]:
    s = get_scope(user)
    return tuple(sorted({*s.cap_paths(Cap.DELIBERATION_WATCH), *s.cap_paths(Cap.DELIBERATION_MANAGE)}))


def staff_paths(user: Viewer) -> tuple[str, ...]:
    return tuple(sorted({*watch_paths(user), *proxy_paths(user)}))


def village_of(node: Node) -> Node | None:
    """The village a node lies in (itself, for a village); None above the villages."""
    if node.level == Level.VILLAGE:
        return node
    if node.level < Level.VILLAGE:
        return None
    return Node.objects.filter(pk__in=path_ids(node.path), level=Level.VILLAGE).first()


def reach_q(user: Viewer, village_field: str = "village_id") -> Q:
    """What `user` may read, as a filter on rows with a `path` and a village: a resident's own village; staff's
    subtrees, and the villages their places lie in (a grid worker reads the matters of their village)."""
    scope = get_scope(user)
    places = list(staff_paths(user))
    q = paths_q(tuple(places), "path") if places else Q(pk__in=[])
    ids: set[int] = set()
    for p in [*places, *([scope.own.path] if scope.own is not None else [])]:
        ids.update(path_ids(p))
    if ids:
        q |= Q(**{f"{village_field}__in": sorted(ids)})
    return q


def manages(user: Viewer, obj: Any) -> bool:
    return under(manage_paths(user), obj.path)


def acts_for(user: Viewer, path: str) -> bool:
    """Whether `user` may propose or sign for a resident living at `path`."""
    return under(proxy_paths(user), path) or under(manage_paths(user), path)


def own_resident(user: Viewer) -> Any:
    return get_scope(user).own


# --- matters ---------------------------------------------------------------------------------------------------


def matters_for(user: Viewer, *, state: str = "", village_id: int | None = None) -> QuerySet[Matter]:
    qs = Matter.objects.filter(reach_q(user)).select_related("node", "village", "proposer")
    if state:
        qs = qs.filter(state=state)
    if village_id:
        qs = qs.filter(village_id=village_id)
    return qs.order_by("-created_at", "-id")


def access_matter(user: Viewer, matter_id: int) -> Matter:
    m = Matter.objects.filter(reach_q(user), pk=matter_id).select_related("node", "village", "proposer").first()
    if m is None:
        raise NotFound(_("No such matter."), code="matter.not_found")
    return m


def signed(user: Viewer, matters: list[Matter]) -> set[int]:
    own = own_resident(user)
    if own is None or not matters:
        return set()
    from deliberation.models import Cosign

    return set(Cosign.objects.filter(resident_id=own.id, matter__in=matters).values_list("matter_id", flat=True))


def matter_actions(user: Any, m: Matter, *, signed: bool = False, rated: bool = False) -> list[str]:
    out: list[str] = []
    own = own_resident(user)
    lives = own is not None and own.path.startswith(m.path)
    if m.state == Matter.State.PROPOSED and (lives and own.id != m.proposer_id and not signed):
        out.append("sign")
    if m.state not in (Matter.State.DECLINED, Matter.State.MERGED) and (lives or manages(user, m)):
        out.append("comment")
    if m.state == Matter.State.DONE and lives and not rated:
        out.append("rate")
    if manages(user, m):
        out += [a for a in MATTER.allowed(m, lambda _a: True) if a in ("agenda", "decline", "merge", "start", "finish")]
        if m.state == Matter.State.AGENDA:
            out.append("vote")
    return out


def comment_row(user: Any, c: Comment, manages: bool) -> dict[str, Any]:
    hidden = c.state == Comment.State.HIDDEN
    who = c.user.display_name if c.author is None else (c.author.name if manages else mask_name(c.author.name))
    return {
        "id": c.pk,
        "who": who,
        "staff": c.author is None,
        "text": "" if hidden and not manages else c.text,
        "hidden": hidden,
        "hidden_reason": c.hidden_reason,
        "at": c.at,
    }


def comments(user: Viewer, matter: Matter) -> list[Comment]:
    """The discussion: hidden comments stay in place as "hidden: reason" (their text for the committee only)."""
    return list(matter.comments.select_related("author", "user", "hidden_by").order_by("at", "id"))


def my_rating(user: Viewer, matter: Matter) -> Rating | None:
    own = own_resident(user)
    return None if own is None else Rating.objects.filter(matter=matter, resident_id=own.id).first()


@dataclass(frozen=True)
class Money:
    budget: Decimal
    spent: Decimal


def money(matter: Matter) -> Money:
    budget = matter.budget.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    spent = matter.spendings.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return Money(budget, spent)


def ratings(matter: Matter) -> dict[str, Any]:
    agg = matter.ratings.aggregate(n=Count("id"), avg=Avg("stars"))
    return {"count": agg["n"], "average": round(float(agg["avg"]), 2) if agg["avg"] is not None else None}


# --- votes -----------------------------------------------------------------------------------------------------


def votes_for(user: Viewer, *, state: str = "") -> QuerySet[Vote]:
    qs = (
        Vote.objects.filter(reach_q(user))
        .select_related("node", "village", "matter", "rules")
        .prefetch_related("options")
        .annotate(took=Count("turnouts"))
    )
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def access_vote(user: Viewer, vote_id: int) -> Vote:
    v = votes_for(user).filter(pk=vote_id).first()
    if v is None:
        raise NotFound(_("No such vote."), code="vote.not_found")
    return v


@dataclass(frozen=True)
class Ballot:
    """Where `user` stands on a vote: the roll entry they may cast (None: not on the roll), and whether its
    ballot is already in (online or on paper; by whom of the household)."""

    voter: Voter | None
    voted: bool
    channel: str


NO_BALLOT = Ballot(None, False, "")


def my_ballots(user: Viewer, votes: list[Vote]) -> dict[int, Ballot]:
    """Where `user` stands on each of `votes` (by vote id; a vote missing: not on its roll): two queries."""
    own = own_resident(user)
    opened = [v.pk for v in votes if v.state != Vote.State.DRAFT]
    if own is None or not opened:
        return {}
    electors = list(Elector.objects.filter(vote_id__in=opened, resident_id=own.id).select_related("voter"))
    how = dict(Turnout.objects.filter(voter_id__in=[e.voter_id for e in electors]).values_list("voter_id", "channel"))
    return {e.vote_id: Ballot(e.voter, e.voter_id in how, how.get(e.voter_id, "")) for e in electors}


def my_ballot(user: Viewer, vote: Vote) -> Ballot:
    return my_ballots(user, [vote]).get(vote.pk, NO_BALLOT)


def vote_actions(vote: Vote, manages: bool) -> list[str]:
    """The committee's steps on a vote now: open a draft, cancel, and count once online voting has closed."""
    if not manages:
        return []
    from core.clock import now
    from deliberation.states import VOTE

    return [a for a in VOTE.allowed(vote, lambda a: a != "count" or now() >= vote.closes_at)]


def options(vote: Vote) -> list[Option]:
    return list(vote.options.all())  # in their order (Option.Meta), prefetched by votes_for


def roll(vote: Vote, *, path: str = "", voted: bool | None = None, q: str = "") -> QuerySet[Voter]:
    """The roll with who has voted and how (online, on paper) — never what."""
    qs = Voter.objects.filter(vote=vote).select_related("turnout")
    if path:
        qs = qs.filter(paths_q((path,), "path"))
    if voted is not None:
        qs = qs.filter(turnout__isnull=not voted)
    if q:
        qs = qs.filter(label__contains=q)
    return qs.order_by("path", "id")


def grids(vote: Vote) -> QuerySet[Node]:
    return Node.objects.filter(paths_q((vote.path,), "path"), level=Level.GRID).order_by("path")


# --- 三公开 and the village rules ----------------------------------------------------------------------------


def thresholds(village_ids: set[int]) -> dict[int, int]:
    """Each village's co-signature threshold (the default where it has set none): one query for a list."""
    default = VillageSetting._meta.get_field("cosign_threshold").get_default()
    have = dict(VillageSetting.objects.filter(village_id__in=village_ids).values_list("village_id", "cosign_threshold"))
    return {vid: have.get(vid, default) for vid in village_ids}


def setting_for(village: Node) -> VillageSetting:
    s = VillageSetting.objects.filter(village=village).first()
    return s if s is not None else VillageSetting(village=village)


def disclosures_for(user: Viewer, *, village_id: int | None = None, kind: str = "") -> QuerySet[Disclosure]:
    qs = Disclosure.objects.filter(reach_q(user)).select_related("village", "corrects")
    if village_id:
        qs = qs.filter(village_id=village_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(open_questions=Count("questions", filter=Q(questions__state="asked"))).order_by(
        "-published_at", "-id"
    )


def access_disclosure(user: Viewer, disclosure_id: int) -> Disclosure:
    d = Disclosure.objects.filter(reach_q(user), pk=disclosure_id).select_related("village").first()
    if d is None:
        raise NotFound(_("No such posting."), code="disclosure.not_found")
    return d


def period_of(day: dt.date, every: str) -> str:
    if every == VillageSetting.Every.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day:%Y-%m}"


def period_start(day: dt.date, every: str) -> dt.date:
    if every == VillageSetting.Every.QUARTER:
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day.replace(day=1)


PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


def period_bounds(period: str) -> tuple[dt.date, dt.date] | None:
    """The first day of a period ("2026-11", "2026-Q4": written only so) and the first day after it; None if it
    is not one."""
    match = PERIOD.match(period) if period.isascii() else None
    if match is None:
        return None
    year, month, quarter = match.groups()
    start = dt.date(int(year), int(month) if month else 3 * (int(quarter) - 1) + 1, 1)
    months = 1 if month else 3
    end_month = start.month + months
    return start, dt.date(start.year + (end_month > 12), (end_month - 1) % 12 + 1, 1)


def last_due(day: dt.date, every: str, due_day: int) -> tuple[str, dt.date]:
    """The latest period whose posting is due by `day`, and its deadline (the `due_day` of the period after)."""
    current = period_start(day, every)
    previous = period_start(current - dt.timedelta(days=1), every)
    deadline = current + dt.timedelta(days=due_day - 1)
    if day > deadline:
        return period_of(previous, every), deadline
    before = period_start(previous - dt.timedelta(days=1), every)
    return period_of(before, every), previous + dt.timedelta(days=due_day - 1)


@dataclass(frozen=True)
class Overdue:
    village: Node
    kind: str
    kind_label: str
    period: str
    deadline: dt.date


def overdue(paths: tuple[str, ...], *, day: dt.date | None = None) -> list[Overdue]:
    """The postings of the villages under `paths` whose latest due period has none (flagged to the town)."""
    if not paths:
        return []
    day = day or today()
    villages = list(Node.objects.filter(paths_q(paths, "path"), level=Level.VILLAGE).order_by("path")[:2000])
    settings = {s.village_id: s for s in VillageSetting.objects.filter(village__in=villages)}
    posted = set(Disclosure.objects.filter(village__in=villages).values_list("village_id", "kind", "period").distinct())
    out = []
    labels = dict(Disclosure.Kind.choices)
    for v in villages:
        s = settings.get(v.pk) or VillageSetting(village=v)
        for kind, every in (("party", s.party_every), ("affairs", s.affairs_every), ("finance", s.finance_every)):
            period, deadline = last_due(day, every, s.due_day)
            if (v.pk, kind, period) not in posted:
                out.append(Overdue(v, kind, str(labels[kind]), period, deadline))
    return out


def spendings_in(village: Node, period: str) -> QuerySet[Spending]:
    """The money spent on the village's matters in a period: the finance posting shows it beside its text."""
    bounds = period_bounds(period)
    if bounds is None:
        return Spending.objects.none()
    return (
        Spending.objects.filter(path=village.path, spent_on__gte=bounds[0], spent_on__lt=bounds[1])
        .select_related("matter", "line")
        .order_by("spent_on", "id")
    )


def rules_for(user: Viewer, village_id: int) -> list[RulesVersion]:
    return list(RulesVersion.objects.filter(reach_q(user), village_id=village_id).order_by("-number"))


def access_rules(user: Viewer, rules_id: int) -> RulesVersion:
    r = RulesVersion.objects.filter(reach_q(user), pk=rules_id).select_related("village").first()
    if r is None:
        raise NotFound(_("No such version of the village rules."), code="rules.not_found")
    return r


def my_villages(user: Viewer) -> list[Node]:
    """The villages `user` works with: their own, the ones their staff places lie in or hold (what `reach_q`
    lets them read, applied to the villages themselves)."""
    return list(Node.objects.filter(reach_q(user, village_field="pk"), level=Level.VILLAGE).order_by("path")[:500])


# --- the figures per village (民事民评 on the command centre) ------------------------------------------------


@dataclass
class VillageRow:
    village: Node
    proposed: int = 0
    open: int = 0  # on the agenda or being voted on
    passed: int = 0
    done: int = 0
    declined: int = 0
    votes: int = 0
    turnout: float | None = None  # average share of the roll that took part, counted votes
    rated: int = 0
    rating: float | None = None
    overdue: int = 0


def report(paths: tuple[str, ...], *, day: dt.date | None = None) -> list[VillageRow]:
    """Per village under `paths`: matters by stage, votes counted and their turnout, ratings, overdue postings
    — five grouped queries whatever the number of villages."""
    if not paths:
        return []
    villages = list(Node.objects.filter(paths_q(paths, "path"), level=Level.VILLAGE).order_by("path")[:2000])
    rows = {v.pk: VillageRow(v) for v in villages}
    for vid, state, n in (
        Matter.objects.filter(village__in=villages).values_list("village_id", "state").annotate(n=Count("id"))
    ):
        r = rows[vid]
        r.proposed += n
        if state in ("agenda", "voting"):
            r.open += n
        elif state in ("passed", "doing"):
            r.passed += n
        elif state == "done":
            r.passed += n
            r.done += n
        elif state in ("declined", "merged"):
            r.declined += n
    shares: dict[int, list[float]] = {}
    for vid, eligible, turnout in Vote.objects.filter(village__in=villages, state="counted").values_list(
        "village_id", "eligible", "turnout"
    ):
        shares.setdefault(vid, []).append(turnout / eligible if eligible else 0.0)
    for vid, s in shares.items():
        rows[vid].votes = len(s)
        rows[vid].turnout = round(100 * sum(s) / len(s), 1)
    for vid, n, avg in (
        Rating.objects.filter(matter__village__in=villages)
        .values_list("matter__village_id")
        .annotate(n=Count("id"), avg=Avg("stars"))
        .values_list("matter__village_id", "n", "avg")
    ):
        rows[vid].rated, rows[vid].rating = n, round(float(avg), 2)
    for o in overdue(paths, day=day):
        if o.village.pk in rows:
            rows[o.village.pk].overdue += 1
    return list(rows.values())
