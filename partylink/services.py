"""Every write of household work: visits and the needs found on them (settled on the spot or relayed as
a work order in one step), a resident's request to their member (双联双找), links with their history, and
the villages' visit plans.

The gates are the selectors' (a party member: the households linked to them; staff: their subtree);
a household outside them is the same 404 as a missing one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import aware, now
from core.errors import Conflict, NotFound, ValidationFailed
from core.validation import clean_text, has_nul, one_line
from notify.services import message_queue
from org import services as org
from org.access import get_scope
from org.models import Household, HouseholdLink, Level, Node, PartyMember, Relation, Resident
from org.policy import under
from partylink import selectors
from partylink.models import LinkChange, Milestone, Need, Project, ProjectRating, ProjectUpdate, Visit, VisitPlan
from partylink.states import NEED, PROJECT

if TYPE_CHECKING:
    from accounts.models import User
    from catalog.models import Category
    from workorders.models import WorkOrder

MAX_NEEDS = 10  # needs on one visit
FUTURE_SLACK = dt.timedelta(minutes=5)  # a phone's clock a little ahead is not a visit in the future
LATE_LIMIT = dt.timedelta(days=92)  # a visit is logged within a quarter of it
MAX_OPEN_ASKS = 5  # a household's requests to its member waiting at once
THEN = ("open", "settle", "order")


def _text(value: str | None, name: str, *, max_len: int, min_len: int = 0, line: bool = False) -> str:
    value = value or ""
    if has_nul(value):
        raise ValidationFailed(_("NUL characters are not allowed."), code="validation.nul", fields={name: [_("NUL")]})
    value = one_line(value) if line else clean_text(value).strip()
    if len(value) > max_len:
        message = _("At most %(n)s characters.") % {"n": max_len}
        raise ValidationFailed(message, code="validation.too_long", fields={name: [message]})
    if len(value) < min_len:
        message = _("Please write what it is (at least %(n)s characters).") % {"n": min_len}
        raise ValidationFailed(message, code="validation.required", fields={name: [message]})
    return value


@dataclass(frozen=True)
class NeedIn:
    """A need as a visit logs it: what, whose, and what became of it on the spot."""

    text: str
    kind: str = Need.Kind.NEED
    resident_id: int | None = None
    then: str = "open"  # open · settle (outcome says how) · order (a work order now)
    outcome: str = ""
    category_id: int | None = None


def _may_work(user: User, household: Household) -> bool:
    scope = get_scope(user)
    return household.pk in scope.linked_household_ids or under(selectors.visit_paths(user), household.path)


def _may_work_in(user: User, grid: Node) -> bool:
    return under(selectors.visit_paths(user), grid.path)


def _is_member_of(user: User, household: Household) -> bool:
    return household.pk in get_scope(user).linked_household_ids


# --- visits -------------------------------------------------------------------------------------------------


def visit_log(
    *,
    by: User,
    household_id: int,
    visited_at: dt.datetime | None = None,
    met: str = "",
    notes: str = "",
    needs: Sequence[NeedIn] = (),
    lat: Decimal | None = None,
    lng: Decimal | None = None,
    photo: Any = None,
    idempotency_key: str = "",
) -> Visit:
    """Log a visit to a household with the needs found; each need is left open, settled on the spot or
    relayed as a work order owned by the resident (channel: party relay for the household's member, grid
    patrol for staff), all in one transaction. A retry with the same key returns the first visit."""
    household = selectors.access_household(by, household_id)
    at = now()
    visited_at = aware(visited_at) if visited_at is not None else at
    errors: dict[str, list[str]] = {}
    if visited_at > at + FUTURE_SLACK:
        errors["visited_at"] = [_("A visit cannot be logged before it happens.")]
    elif visited_at < at - LATE_LIMIT:
        errors["visited_at"] = [_("A visit is logged within %(days)s days of it.") % {"days": LATE_LIMIT.days}]
    if errors:
        raise ValidationFailed(errors["visited_at"][0], code="visit.bad_time", fields=errors)
    met = _text(met, "met", max_len=100, line=True)
    notes = _text(notes, "notes", max_len=1000)
    if len(needs) > MAX_NEEDS:
        raise ValidationFailed(
            _("At most %(n)s needs on one visit.") % {"n": MAX_NEEDS}, code="visit.too_many_needs",
            fields={"needs": [_("too many")]},
        )  # fmt: skip
    cleaned = [_clean_need(n, household, i) for i, n in enumerate(needs)]
    if not notes and not cleaned:
        message = _("Please note what you found, or at least one need.")
        raise ValidationFailed(message, code="visit.empty", fields={"notes": [message]})
    if (lat is not None and not -90 <= lat <= 90) or (lng is not None and not -180 <= lng <= 180):
        raise ValidationFailed(_("This place is not on the map."), code="visit.bad_location",
                               fields={"lat": [_("This place is not on the map.")]})  # fmt: skip
    if (lat is None) != (lng is None):
        raise ValidationFailed(_("Give both latitude and longitude, or neither."), code="visit.bad_location",
                               fields={"lat": [_("Give both latitude and longitude, or neither.")]})  # fmt: skip
    jpeg = _photo(photo) if photo is not None else None
    member = selectors.member_of(by) if _is_member_of(by, household) else None
    try:
        with transaction.atomic():
            visit = Visit(
                household=household, path=household.path, visitor=by, member=member, visited_at=visited_at,
                met=met, notes=notes, lat=lat, lng=lng, created_at=at, idempotency_key=idempotency_key,
            )  # fmt: skip
            if jpeg is not None:
                visit.photo.save("visit.jpg", ContentFile(jpeg), save=False)
            visit.save()
            for n in cleaned:
                need = Need.objects.create(
                    visit=visit, household=household, path=household.path, resident_id=n.resident_id, kind=n.kind,
                    text=n.text, raised_by=by, created_at=at,
                )  # fmt: skip
                if n.then == "settle":
                    need_settle(need=need, by=by, outcome=n.outcome)
                elif n.then == "order":
                    need_relay(need=need, by=by, category_id=n.category_id)
    except IntegrityError:
        if idempotency_key:
            existing = Visit.objects.filter(visitor=by, idempotency_key=idempotency_key).first()
            if existing is not None:
                if existing.household_id != household.pk:
                    raise Conflict(
                        _("This idempotency key was already used for a different visit."), code="visit.key_reused"
                    ) from None
                return existing
        raise
    return visit


def _clean_need(n: NeedIn, household: Household, i: int) -> NeedIn:
    name = f"needs.{i}"
    text = _text(n.text, f"{name}.text", max_len=500, min_len=2)
    if n.kind not in Need.Kind.values:
        raise ValidationFailed(
            _("Unknown kind of need."), code="need.bad_kind", fields={f"{name}.kind": [_("unknown")]}
        )
    if n.then not in THEN:
        raise ValidationFailed(
            _("Unknown step for a need."), code="need.bad_step", fields={f"{name}.then": [_("unknown")]}
        )
    if n.resident_id is not None and not Resident.objects.filter(pk=n.resident_id, household=household).exists():
        raise ValidationFailed(
            _("This person does not live in the household visited."), code="need.bad_resident",
            fields={f"{name}.resident_id": [_("not in this household")]},
        )  # fmt: skip
    outcome = _text(n.outcome, f"{name}.outcome", max_len=300, min_len=2 if n.then == "settle" else 0)
    return NeedIn(text=text, kind=n.kind, resident_id=n.resident_id, then=n.then, outcome=outcome,
                  category_id=n.category_id)  # fmt: skip


def _photo(upload: Any) -> bytes:
    from workorders.photos import upload_prepare

    return upload_prepare(upload)[0]


# --- needs --------------------------------------------------------------------------------------------------


def need_settle(*, need: Need, by: User, outcome: str) -> Need:
    """The need was met on the spot (a question answered, a form filled in): say how."""
    if not _may_work(by, need.household):
        raise NotFound(_("No such need."), code="need.not_found")
    outcome = _text(outcome, "outcome", max_len=300, min_len=2)
    with transaction.atomic():
        NEED.move(need, "settle", fields={"outcome": outcome, "closed_by": by, "closed_at": now()})
    return need


def _owner(need: Need) -> Resident:
    if need.resident_id is not None:
        return Resident.objects.select_related("household").get(pk=need.resident_id)
    people = Resident.objects.filter(household_id=need.household_id).select_related("household")
    owner = people.filter(relation=Relation.HEAD).order_by("id").first() or people.order_by("id").first()
    if owner is None:
        raise Conflict(_("Nobody lives in this household on the register: the need cannot become a work order."),
                       code="need.no_owner")  # fmt: skip
    return owner


def _category(category_id: int | None) -> Category:
    from catalog.models import Category

    if category_id is not None:
        found = Category.objects.filter(pk=category_id, is_active=True).first()
        if found is None:
            raise ValidationFailed(_("Please choose a category."), code="need.bad_category",
                                   fields={"category_id": [_("unknown")]})  # fmt: skip
        return found
    fallback = Category.objects.filter(code=selectors.setting("ORDER_CATEGORY"), is_active=True).first()
    if fallback is None:
        raise ValidationFailed(_("Please choose a category."), code="need.bad_category",
                               fields={"category_id": [_("required")]})  # fmt: skip
    return fallback


def need_relay(*, need: Need, by: User, category_id: int | None = None) -> WorkOrder:
    """Turn a need into a work order in one step: the resident owns it, the household's grid is its place,
    the channel is party relay when the household's member relays it and grid patrol otherwise; the need
    keeps a link to the order (and the order's state tells how the need ended)."""
    from workorders.models import Channel, Kind
    from workorders.services.intake import workorder_submit

    if not _may_work(by, need.household):
        raise NotFound(_("No such need."), code="need.not_found")
    category = _category(category_id)
    owner = _owner(need)
    channel = Channel.PARTY if _is_member_of(by, need.household) else Channel.PATROL
    with transaction.atomic():
        locked = Need.objects.select_for_update().get(pk=need.pk)
        NEED.check(locked, "relay")  # a second relay waits on the lock and is refused here, making no order
        order = workorder_submit(
            by=by, kind=Kind.HELP, category=category, text=need.text, channel=channel, owner=owner,
            grid=need.household.grid, address=need.household.address, idempotency_key=f"need-{need.pk}",
        ).order  # fmt: skip
        NEED.move(need, "relay", fields={"order": order, "closed_by": by, "closed_at": now()})
    return order


def need_ask(*, by: User, text: str, kind: str = Need.Kind.NEED) -> Need:
    """双联双找: a resident asks their household's party member for help; the member is told and relays or
    settles it like a need found on a visit."""
    scope = get_scope(by)
    if scope.own_resident_id is None:
        raise NotFound(_("You are not on the register of residents."), code="resident.not_found")
    resident = Resident.objects.select_related("household").get(pk=scope.own_resident_id)
    link = HouseholdLink.objects.filter(household_id=resident.household_id).select_related("member__resident").first()
    if link is None:
        raise Conflict(_("Your household has no linked party member yet."), code="need.no_member")
    text = _text(text, "text", max_len=500, min_len=2)
    if kind not in Need.Kind.values:
        raise ValidationFailed(_("Unknown kind of need."), code="need.bad_kind", fields={"kind": [_("unknown")]})
    with transaction.atomic():
        # One household's open requests are counted under a lock on the household row: two at once
        # cannot both pass the limit.
        Household.objects.select_for_update().filter(pk=resident.household_id).first()
        waiting = Need.objects.filter(household_id=resident.household_id, asked=True, state=Need.State.OPEN).count()
        if waiting >= MAX_OPEN_ASKS:
            raise Conflict(
                _("Your member has %(n)s of your requests still open; please wait for them.") % {"n": waiting},
                code="need.too_many_open",
            )
        need = Need.objects.create(
            household=resident.household, path=resident.household.path, resident=resident, kind=kind, text=text,
            raised_by=by, asked=True, created_at=now(),
        )  # fmt: skip
        message_queue(
            user_id=link.member.resident.user_id, kind="party",
            text=_("%(name)s asks for your help: %(text)s") % {"name": resident.name, "text": text[:60]},
            link=f"/party/needs/{need.pk}/",
        )  # fmt: skip
    return need


# --- links --------------------------------------------------------------------------------------------------


def _manages(by: User, path: str) -> bool:
    return under(selectors.manage_paths(by), path)


def link_set(
    *,
    household: Household,
    member: PartyMember,
    by: User,
    reason: str = "",
    since: dt.date | None = None,
    only_if_unlinked: bool = False,
) -> HouseholdLink:
    """Link a household to a member (or move it from another member), recording who, when and why. A member
    takes at most GONGZHI["PARTY"]["MAX_HOUSEHOLDS"] households."""
    if not _manages(by, household.path):
        raise NotFound(_("No such household among yours."), code="household.not_found")
    if not (_manages(by, member.branch.path) or _manages(by, member.path)):
        raise NotFound(_("No such party member in your area."), code="member.not_found")
    reason = _text(reason, "reason", max_len=200, line=True)
    limit = int(selectors.setting("MAX_HOUSEHOLDS"))
    with transaction.atomic():
        PartyMember.objects.select_for_update().filter(pk=member.pk).first()  # links to one member: one at a time
        # The household's row too: with no link yet there is no link row to lock, and two managers linking it
        # at once must not both see it free.
        Household.objects.select_for_update().filter(pk=household.pk).first()
        current = HouseholdLink.objects.select_for_update().filter(household=household).first()
        if current is not None and only_if_unlinked:
            return current
        if current is not None and current.member_id == member.pk:
            raise Conflict(_("This household is already linked to this member."), code="link.unchanged")
        if HouseholdLink.objects.filter(member=member).count() >= limit:
            raise Conflict(
                _("%(name)s already looks after %(n)s households, the most allowed.")
                % {"name": member.resident.name, "n": limit},
                code="link.member_full",
            )
        previous = current.member if current is not None else None
        link = org.household_link(member=member, household=household, since=since or now().date())
        LinkChange.objects.create(
            household=household, path=household.path, member=member, previous=previous, by=by, at=now(),
            action=LinkChange.Action.MOVE if previous else LinkChange.Action.LINK, reason=reason,
        )  # fmt: skip
    return link


def link_remove(*, household: Household, by: User, reason: str) -> None:
    if not _manages(by, household.path):
        raise NotFound(_("No such household among yours."), code="household.not_found")
    reason = _text(reason, "reason", max_len=200, min_len=2, line=True)
    with transaction.atomic():
        current = HouseholdLink.objects.select_for_update().filter(household=household).first()
        if current is None:
            raise Conflict(_("This household has no linked member."), code="link.none")
        previous = current.member
        current.delete()
        LinkChange.objects.create(
            household=household, path=household.path, action=LinkChange.Action.UNLINK, member=None,
            previous=previous, by=by, at=now(), reason=reason,
        )  # fmt: skip


@dataclass(frozen=True)
class Assigned:
    linked: int
    left: int  # households of the grid still without a member (every member full)


def links_assign_grid(*, grid: Node, members: Sequence[PartyMember], by: User, reason: str = "") -> Assigned:
    """Bulk assignment: the grid's households without a member go to `members` in turn, each up to the
    most allowed, in the order of the register."""
    if grid.level != Level.GRID or not _manages(by, grid.path):
        raise NotFound(_("No such grid in your area."), code="node.not_found")
    if not members:
        raise ValidationFailed(_("Choose at least one party member."), code="link.no_members",
                               fields={"member_ids": [_("required")]})  # fmt: skip
    limit = int(selectors.setting("MAX_HOUSEHOLDS"))
    linked = 0
    with transaction.atomic():
        room = {m.pk: limit - HouseholdLink.objects.filter(member=m).count() for m in members}
        free = list(Household.objects.filter(grid=grid, party_link__isnull=True).order_by("path", "id"))
        for turn, h in enumerate(free):
            candidates = [m for m in members if room[m.pk] > 0]
            if not candidates:
                break
            m = candidates[turn % len(candidates)]
            link = link_set(household=h, member=m, by=by, reason=reason, only_if_unlinked=True)
            if link.member_id != m.pk:
                continue  # linked by someone else meanwhile: theirs stands
            room[m.pk] -= 1
            linked += 1
    return Assigned(linked=linked, left=len(free) - linked)


# --- plans --------------------------------------------------------------------------------------------------


def plan_set(*, village: Node, visits: int, period: str, by: User) -> VisitPlan:
    if village.level != Level.VILLAGE or not _manages(by, village.path):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    if not 1 <= visits <= 31:
        raise ValidationFailed(_("Between 1 and 31 visits."), code="plan.bad_visits", fields={"visits": [_("1–31")]})
    if period not in VisitPlan.Period.values:
        raise ValidationFailed(_("A month or a quarter."), code="plan.bad_period", fields={"period": [_("unknown")]})
    plan, _created = VisitPlan.objects.update_or_create(
        village=village, defaults={"visits": visits, "period": period, "updated_by": by, "updated_at": now()}
    )
    return plan


# --- practical projects (领办实事) -----------------------------------------------------------------------------

MAX_MILESTONES = 12
MAX_BUDGET = Decimal("100000000")


@dataclass(frozen=True)
class MilestoneIn:
    title: str
    due_on: dt.date


def _village_member(user: User, village: Node) -> PartyMember | None:
    """The party member `user` is, if their branch or home lies in `village`."""
    m = selectors.member_of(user)
    if m is None:
        return None
    branch_path = Node.objects.filter(pk=m.branch_id).values_list("path", flat=True).first() or ""
    return m if branch_path.startswith(village.path) or m.path.startswith(village.path) else None


def project_propose(
    *,
    by: User,
    village: Node,
    title: str,
    goals: str,
    lead: PartyMember | None = None,
    beneficiary_ids: Sequence[int] = (),
    budget: Decimal = Decimal(0),
    milestones: Sequence[MilestoneIn] = (),
) -> Project:
    """A member proposes a project they will lead; village staff propose one for a member of the village."""
    if village.level != Level.VILLAGE:
        raise NotFound(_("No such village in your area."), code="node.not_found")
    own = _village_member(by, village)
    if _manages(by, village.path):
        lead = lead or own
        if lead is None:
            raise ValidationFailed(_("Name the party member who leads it."), code="project.no_lead",
                                   fields={"lead_id": [_("required")]})  # fmt: skip
        lead_branch = Node.objects.filter(pk=lead.branch_id).values_list("path", flat=True).first() or ""
        if not (lead_branch.startswith(village.path) or lead.path.startswith(village.path)):
            raise NotFound(_("No such party member in your area."), code="member.not_found")
    elif own is not None:
        if lead is not None and lead.pk != own.pk:
            raise NotFound(_("No such party member in your area."), code="member.not_found")
        lead = own
    else:
        raise NotFound(_("No such village in your area."), code="node.not_found")
    title = _text(title, "title", max_len=80, min_len=2, line=True)
    goals = _text(goals, "goals", max_len=2000, min_len=2)
    if budget < 0 or budget > MAX_BUDGET or budget != budget.quantize(Decimal("0.01")):
        raise ValidationFailed(_("A budget in yuan, not negative, at most two decimals."), code="project.bad_budget",
                               fields={"budget": [_("not a budget")]})  # fmt: skip
    if len(milestones) > MAX_MILESTONES:
        message = _("At most %(n)s milestones.") % {"n": MAX_MILESTONES}
        raise ValidationFailed(message, code="project.too_many_milestones", fields={"milestones": [message]})
    cleaned = [(_text(m.title, f"milestones.{i}.title", max_len=80, min_len=2, line=True), m.due_on)
               for i, m in enumerate(milestones)]  # fmt: skip
    households = list(Household.objects.filter(pk__in=set(beneficiary_ids), path__startswith=village.path))
    if len(households) != len(set(beneficiary_ids)):
        raise ValidationFailed(_("Beneficiaries are households of the village."), code="project.bad_beneficiary",
                               fields={"beneficiary_ids": [_("not in this village")]})  # fmt: skip
    with transaction.atomic():
        p = Project.objects.create(
            village=village, path=village.path, title=title, goals=goals, lead=lead, budget=budget,
            proposed_by=by, proposed_at=now(),
        )  # fmt: skip
        p.beneficiaries.set(households)
        Milestone.objects.bulk_create([Milestone(project=p, title=t, due_on=d) for t, d in cleaned])
    return p


def project_decide(*, project: Project, by: User, approve: bool, note: str = "") -> Project:
    """The village (its party secretary) approves or turns down a proposal."""
    if not _manages(by, project.path):
        raise NotFound(_("No such project."), code="project.not_found")
    note = _text(note, "note", max_len=200, line=True)
    if not approve and len(note) < 2:
        raise ValidationFailed(_("Say why it is not approved."), code="project.reason_required",
                               fields={"note": [_("required")]})  # fmt: skip
    with transaction.atomic():
        PROJECT.move(project, "approve" if approve else "reject",
                     fields={"decided_by": by, "decided_at": now(), "decision_note": note})  # fmt: skip
    return project


def _leads_or_manages(by: User, project: Project) -> bool:
    return project.lead.resident.user_id == getattr(by, "pk", None) or _manages(by, project.path)


def project_update(*, project: Project, by: User, text: str, progress: int, photo: Any = None) -> ProjectUpdate:
    """A progress update by the member who leads it (or the village), with an optional photo."""
    if not _leads_or_manages(by, project):
        raise NotFound(_("No such project."), code="project.not_found")
    text = _text(text, "text", max_len=500, min_len=2)
    if not 0 <= progress <= 100:
        raise ValidationFailed(_("Progress is from 0 to 100 %."), code="project.bad_progress",
                               fields={"progress": [_("0–100")]})  # fmt: skip
    jpeg = _photo(photo) if photo is not None else None
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.state != Project.State.APPROVED:
            raise PROJECT.refusal(locked.state, "complete")
        u = ProjectUpdate(project=locked, by=by, at=now(), text=text, progress=progress)
        if jpeg is not None:
            u.photo.save("update.jpg", ContentFile(jpeg), save=False)
        u.save()
        Project.objects.filter(pk=project.pk).update(progress=progress)
    project.progress = progress
    return u


def milestone_done(*, project: Project, milestone_id: int, by: User) -> Milestone:
    if not _leads_or_manages(by, project):
        raise NotFound(_("No such project."), code="project.not_found")
    m = project.milestones.filter(pk=milestone_id).first()
    if m is None:
        raise NotFound(_("No such milestone."), code="project.milestone_not_found")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)  # not on a project cancelled meanwhile
        if locked.state != Project.State.APPROVED:
            raise PROJECT.refusal(locked.state, "complete")
        if not Milestone.objects.filter(pk=m.pk, done_at__isnull=True).update(done_at=now()):
            raise Conflict(_("This milestone is already done."), code="project.milestone_done")
    m.refresh_from_db()
    return m


def project_complete(*, project: Project, by: User) -> Project:
    if not _leads_or_manages(by, project):
        raise NotFound(_("No such project."), code="project.not_found")
    with transaction.atomic():
        PROJECT.move(project, "complete", fields={"done_at": now(), "progress": 100})
    return project


def project_cancel(*, project: Project, by: User, reason: str) -> Project:
    if not _manages(by, project.path):
        raise NotFound(_("No such project."), code="project.not_found")
    reason = _text(reason, "reason", max_len=200, min_len=2, line=True)
    with transaction.atomic():
        PROJECT.move(project, "cancel", fields={"decision_note": reason, "decided_by": by, "decided_at": now()})
    return project


def project_rate(*, project: Project, by: User, stars: int, comment: str = "") -> ProjectRating:
    """A resident of the village rates the finished project; rating again changes their rating."""
    scope = get_scope(by)
    if scope.own is None or not scope.own.path.startswith(project.path):
        raise NotFound(_("No such project."), code="project.not_found")
    if project.state != Project.State.DONE:
        raise Conflict(_("A project is rated when it is done."), code="project.not_done")
    if not 1 <= stars <= 5:
        raise ValidationFailed(_("From 1 to 5 stars."), code="project.bad_rating", fields={"stars": [_("1–5")]})
    comment = _text(comment, "comment", max_len=300, line=True) if comment.strip() else ""
    rating, _created = ProjectRating.objects.update_or_create(
        project=project, user=by, defaults={"stars": stars, "comment": comment, "at": now()}
    )
    return rating
