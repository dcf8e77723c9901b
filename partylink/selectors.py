"""Every scoped read of household work: which households a user may visit, the visits and needs they
see, each village's visit plan and where every linked household stands against it.

Who sees what (org.policy): a party member the households linked to them; a grid worker and village or
town staff (party.visit / party.manage) the households of their subtree. Missing and not yours are the
same 404."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Avg, Count, Max, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from core.clock import SHANGHAI, now
from core.errors import NotFound
from org.access import Viewer, get_scope, paths_q
from org.access import report_node as access_report_node
from org.models import Household, HouseholdLink, Level, Node, PartyMember, Relation, Resident, path_ids, path_prefixes
from org.policy import Cap, under
from partylink.models import LinkChange, Need, Project, ProjectRating, ProjectUpdate, Visit, VisitPlan

if TYPE_CHECKING:
    from accounts.models import User

DUE, OVERDUE, DONE = "due", "overdue", "done"


def setting(name: str) -> Any:
    defaults = {"VISITS": 1, "PERIOD": "month", "MAX_HOUSEHOLDS": 15, "ORDER_CATEGORY": "990101"}
    return getattr(settings, "GONGZHI", {}).get("PARTY", {}).get(name, defaults[name])


# --- who may see which households ---------------------------------------------------------------------------


def visit_paths(user: User) -> tuple[str, ...]:
    """The subtrees whose households `user` visits (party.visit): logs visits, deals with the needs."""
    return get_scope(user).cap_paths(Cap.PARTY_VISIT)


def work_paths(user: User) -> tuple[str, ...]:
    """The subtrees whose household work `user` reads: where they visit or manage."""
    scope = get_scope(user)
    return tuple(sorted(set(scope.cap_paths(Cap.PARTY_VISIT)) | set(scope.cap_paths(Cap.PARTY_MANAGE))))


def manage_paths(user: User) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.PARTY_MANAGE)


def member_of(user: User) -> PartyMember | None:
    """The party member `user` is (their resident record's), if any."""
    scope = get_scope(user)
    if scope.own_resident_id is None:
        return None
    return PartyMember.objects.filter(resident_id=scope.own_resident_id).select_related("resident").first()


def _households(user: User, paths: tuple[str, ...]) -> QuerySet[Household]:
    scope = get_scope(user)
    q = paths_q(paths, "path") if paths else Q(pk__in=[])
    if scope.linked_household_ids:
        q |= Q(pk__in=list(scope.linked_household_ids))
    return Household.objects.filter(q)


def visitable(user: User) -> QuerySet[Household]:
    """The households `user` may visit: linked to them, or in a subtree where they visit."""
    return _households(user, visit_paths(user))


def readable(user: User) -> QuerySet[Household]:
    """The households whose visits and needs `user` reads: linked, or where they visit or manage."""
    return _households(user, work_paths(user))


def access_household(user: User, household_id: int) -> Household:
    """A household `user` may visit (log a visit to); missing and not theirs are the same 404."""
    h = visitable(user).select_related("grid").filter(pk=household_id).first()
    if h is None:
        raise NotFound(_("No such household among yours."), code="household.not_found")
    return h


def access_readable_household(user: User, household_id: int) -> Household:
    h = readable(user).select_related("grid").filter(pk=household_id).first()
    if h is None:
        raise NotFound(_("No such household among yours."), code="household.not_found")
    return h


def _by_household_q(user: User) -> Q:
    """Rows (visits, needs, link changes) of the households `user` may see: by where the household is now
    (a row's own path copy stays where it was found, for the reports)."""
    scope = get_scope(user)
    paths = work_paths(user)
    q = paths_q(paths, "household__path") if paths else Q(pk__in=[])
    if scope.linked_household_ids:
        q |= Q(household_id__in=list(scope.linked_household_ids))
    return q


def visits_for(user: User, *, household: Household | None = None) -> QuerySet[Visit]:
    qs = Visit.objects.filter(_by_household_q(user))
    if household is not None:
        qs = qs.filter(household=household)
    # A page of visits reads its needs in one more query, not one a visit.
    needs = Need.objects.select_related("household", "resident", "order").order_by("id")
    return qs.select_related("household", "visitor", "member__resident").prefetch_related(Prefetch("needs", needs))


def access_visit(user: User, visit_id: int) -> Visit:
    v = visits_for(user).filter(pk=visit_id).first()
    if v is None:
        raise NotFound(_("No such visit."), code="visit.not_found")
    return v


def needs_for(user: User, *, state: str = "", household: Household | None = None) -> QuerySet[Need]:
    # A resident reads what they asked their member (their own household is not one they visit).
    qs = Need.objects.filter(_by_household_q(user) | Q(raised_by_id=user.pk, asked=True))
    if state:
        qs = qs.filter(state=state)
    if household is not None:
        qs = qs.filter(household=household)
    return qs.select_related("household", "resident", "order", "raised_by")


def access_need(user: User, need_id: int) -> Need:
    n = needs_for(user).filter(pk=need_id).first()
    if n is None:
        raise NotFound(_("No such need."), code="need.not_found")
    return n


def link_history(user: User, household: Household) -> QuerySet[LinkChange]:
    return LinkChange.objects.filter(household=household).select_related("member__resident", "previous__resident", "by")


def members_in(user: User, node: Node) -> QuerySet[PartyMember]:
    """The party members of `node`'s subtree (their branch there, or living there), where `user` manages."""
    if not under(manage_paths(user), node.path):
        return PartyMember.objects.none()
    q = Q(branch__path__startswith=node.path) | Q(path__startswith=node.path)
    return PartyMember.objects.filter(q).select_related("resident").order_by("path", "id")


def access_member(user: User, member_id: int) -> PartyMember:
    q = paths_q(manage_paths(user), "branch__path") | paths_q(manage_paths(user), "path")
    m = PartyMember.objects.filter(q, pk=member_id).select_related("resident").first() if manage_paths(user) else None
    if m is None:
        raise NotFound(_("No such party member in your area."), code="member.not_found")
    return m


# --- plans and where each household stands -----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    visits: int
    period: str


def plans_for(village_ids: Iterable[int]) -> dict[int, Plan]:
    """Each village's plan; those without one follow the default."""
    ids = set(village_ids)
    default = Plan(int(setting("VISITS")), str(setting("PERIOD")))
    out = {i: default for i in ids}
    for p in VisitPlan.objects.filter(village_id__in=ids):
        out[p.village_id] = Plan(p.visits, p.period)
    return out


def period_bounds(period: str, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month or quarter (in Asia/Shanghai) that `at` falls in: [start, end)."""
    local = at.astimezone(SHANGHAI)
    first_month = local.month if period == VisitPlan.Period.MONTH else 3 * ((local.month - 1) // 3) + 1
    start = dt.datetime(local.year, first_month, 1, tzinfo=SHANGHAI)
    months = 1 if period == VisitPlan.Period.MONTH else 3
    y, m = divmod(first_month - 1 + months, 12)
    return start, dt.datetime(local.year + y, m + 1, 1, tzinfo=SHANGHAI)


def previous_period(period: str, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, _end = period_bounds(period, at)
    return period_bounds(period, start - dt.timedelta(seconds=1))


def village_of(household: Household) -> int:
    """The village a household's grid lies in (the grid's parent: its path's last but one id)."""
    ids = path_ids(household.path)
    return ids[-2] if len(ids) >= 2 else ids[-1]


@dataclass(frozen=True)
class Standing:
    """Where a household stands against its village's plan at a moment."""

    household_id: int
    plan: Plan
    done: int  # visits this period so far
    last_visit: dt.datetime | None
    next_due: dt.datetime | None  # when the next visit this period is due (None: the period's are done)
    missed_previous: bool  # the previous period ended short of the plan
    state: str  # due · overdue · done

    @property
    def state_label(self) -> str:
        return {DUE: _("visit due"), OVERDUE: _("visit overdue"), DONE: _("visited")}[self.state]


def standings(households: Sequence[Household], *, at: dt.datetime | None = None) -> dict[int, Standing]:
    """Where each household stands: visits this period against the plan, spread evenly over the period
    (with 2 a month, the first is due by mid-month); overdue when a visit's share of the period has passed,
    or when the previous period ended short and no visit has been made since. A household linked during
    the previous period is not held to it. Four queries whatever the number of households (plans, links, this
    and the last period's visits, the last visit of each)."""
    at = at or now()
    if not households:
        return {}
    plans = plans_for(village_of(h) for h in households)
    ids = [h.pk for h in households]
    since = dict(HouseholdLink.objects.filter(household_id__in=ids).values_list("household_id", "since"))
    earliest = min(previous_period(p.period, at)[0] for p in plans.values())
    seen: dict[int, list[dt.datetime]] = defaultdict(list)
    for hid, when in Visit.objects.filter(
        household_id__in=ids, visited_at__gte=earliest, visited_at__lte=at
    ).values_list("household_id", "visited_at"):
        seen[hid].append(when)
    last = dict(
        Visit.objects.filter(household_id__in=ids, visited_at__lte=at)
        .order_by()
        .values("household_id")
        .annotate(last=Max("visited_at"))
        .values_list("household_id", "last")
    )
    out: dict[int, Standing] = {}
    for h in households:
        plan = plans[village_of(h)]
        start, end = period_bounds(plan.period, at)
        prev_start, _prev_end = previous_period(plan.period, at)
        done = sum(1 for w in seen[h.pk] if w >= start)
        before = sum(1 for w in seen[h.pk] if prev_start <= w < start)
        linked_since = since.get(h.pk)
        held_before = linked_since is None or linked_since <= prev_start.date()
        missed = held_before and before < plan.visits
        # Linked during this period: the plan's share of it runs from the day of the link.
        begin = start
        if linked_since is not None:
            begin = max(start, dt.datetime.combine(linked_since, dt.time(), tzinfo=SHANGHAI))
        if done >= plan.visits:
            next_due, state = None, DONE
        else:
            next_due = begin + (end - begin) * (done + 1) / plan.visits
            state = OVERDUE if (next_due <= at or (missed and done == 0)) else DUE
        out[h.pk] = Standing(h.pk, plan, done, last.get(h.pk), next_due, missed, state)
    return out


def my_households(user: User) -> list[Household]:
    """The households linked to `user` as a party member, in the order of the register."""
    scope = get_scope(user)
    if not scope.linked_household_ids:
        return []
    return list(
        Household.objects.filter(pk__in=list(scope.linked_household_ids)).select_related("grid").order_by("path", "id")
    )


def village_nodes(user: User) -> QuerySet[Node]:
    """The villages where `user` manages household work (for the plans page)."""
    paths = manage_paths(user)
    if not paths:
        return Node.objects.none()
    q = paths_q(paths, "path")
    for p in paths:
        q |= Q(pk__in=path_ids(p))
    return Node.objects.filter(q, level=Level.VILLAGE).order_by("path")


def heads(households: Sequence[Household]) -> dict[int, Resident]:
    """Each household's head (or its first member on the register): one query."""
    out: dict[int, Resident] = {}
    rows = Resident.objects.filter(household_id__in=[h.pk for h in households]).order_by("household_id", "id")
    for r in rows:
        current = out.get(r.household_id)
        if current is None or (r.relation == Relation.HEAD and current.relation != Relation.HEAD):
            out[r.household_id] = r
    return out


def open_needs(households: Sequence[Household]) -> dict[int, int]:
    return dict(
        Need.objects.filter(household_id__in=[h.pk for h in households], state=Need.State.OPEN)
        .order_by()
        .values("household_id")
        .annotate(n=Count("id"))
        .values_list("household_id", "n")
    )


def my_member(user: User) -> tuple[PartyMember, str] | None:
    """双联双找: the party member linked to `user`'s household, with the number they published for this duty
    (their work phone, never their own register entry)."""
    scope = get_scope(user)
    if scope.own_household_id is None:
        return None
    link = (
        HouseholdLink.objects.filter(household_id=scope.own_household_id)
        .select_related("member__resident__user")
        .first()
    )
    if link is None:
        return None
    member_user = link.member.resident.user
    return link.member, (member_user.work_phone if member_user is not None else "")


def work_grids(user: User) -> QuerySet[Node]:
    """The grids where `user` visits households (party.visit), for the grid picker."""
    paths = get_scope(user).cap_paths(Cap.PARTY_VISIT)
    if not paths:
        return Node.objects.none()
    return Node.objects.filter(paths_q(paths, "path"), level=Level.GRID).order_by("path")[:300]


def managed_grids(user: User) -> QuerySet[Node]:
    paths = manage_paths(user)
    if not paths:
        return Node.objects.none()
    return Node.objects.filter(paths_q(paths, "path"), level=Level.GRID).order_by("path")[:2000]


def member_loads(members: Sequence[PartyMember]) -> dict[int, int]:
    """How many households each member looks after."""
    return dict(
        HouseholdLink.objects.filter(member__in=members)
        .order_by()
        .values("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    )


def grid_history(grid: Node) -> QuerySet[LinkChange]:
    return (
        LinkChange.objects.filter(path__startswith=grid.path)
        .select_related("household", "member__resident", "previous__resident", "by")
        .order_by("-at", "-id")
    )


def watch_paths(user: Viewer) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.PARTY_WATCH)


def report_node(user: User, node_id: int | None) -> Node:
    """The node whose coverage report `user` asks for: one under where they read the reports (party.watch);
    by default the top of it. Missing and not theirs are the same 404."""
    return access_report_node(watch_paths(user), node_id)


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Days `start` to `end` (both included) as [start 00:00, the day after `end` 00:00) in Asia/Shanghai."""
    return (
        dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI),
    )


# --- practical projects ---------------------------------------------------------------------------------------

PUBLIC_PROJECT_STATES = ("approved", "done")


def projects_for(user: User) -> QuerySet[Project]:
    """Projects `user` sees: their village's under way and done (a resident); those they lead or proposed;
    every project where they manage household work."""
    scope = get_scope(user)
    q = Q(pk__in=[])
    if scope.own is not None:
        q |= Q(path__in=path_prefixes(scope.own.path), state__in=PUBLIC_PROJECT_STATES)
        q |= Q(lead__resident_id=scope.own.id)
    q |= Q(proposed_by_id=user.pk)
    paths = manage_paths(user)
    if paths:
        q |= paths_q(paths, "path")
    # What a list shows of each project comes with it (not a few queries a project).
    return (
        Project.objects.filter(q)
        .select_related("village", "lead__resident")
        .prefetch_related(
            "milestones",
            Prefetch("updates", ProjectUpdate.objects.select_related("by").order_by("-at", "-id")),
            Prefetch("ratings", ProjectRating.objects.filter(user_id=user.pk), to_attr="my_ratings"),
        )
        .annotate(
            rating_avg=Avg("ratings__stars"),
            rating_count=Count("ratings", distinct=True),
            beneficiary_count=Count("beneficiaries", distinct=True),
        )
        .order_by("-proposed_at", "-id")
    )


def access_project(user: User, project_id: int) -> Project:
    p = projects_for(user).filter(pk=project_id).first()
    if p is None:
        raise NotFound(_("No such project."), code="project.not_found")
    return p


def project_villages(user: User) -> list[Node]:
    """The villages where `user` may propose a project: where they manage, or where their branch is."""
    villages = list(village_nodes(user))
    m = member_of(user)
    if m is not None:
        branch = Node.objects.filter(pk=m.branch_id).first()
        if branch is not None:
            v = branch if branch.level == Level.VILLAGE else branch.parent
            if v is not None and v.pk not in {x.pk for x in villages}:
                villages.append(v)
    return villages


@dataclass(frozen=True)
class HouseholdRow:
    """A household as a member's or a grid's list shows it: where it stands, its head with the phone as the
    viewer may read it (each whole number shown logged), its open needs."""

    h: Household
    s: Standing
    head: Resident | None
    phone: str
    open: int


def household_rows(user: User, households: list[Household], *, channel: str, path: str) -> list[HouseholdRow]:
    from org.selectors import whole_number

    scope = get_scope(user)
    standing = standings(households)
    head_of = heads(households)
    waiting = open_needs(households)
    rows = []
    for h in households:
        head = head_of.get(h.pk)
        phone = ""
        if head is not None:
            phone = whole_number(
                user, head.phone, field="phone", allowed=scope.unmask_phone(head), channel=channel, path=path,
                resident=head,
            )  # fmt: skip
        rows.append(HouseholdRow(h, standing[h.pk], head, phone, waiting.get(h.pk, 0)))
    return rows
