"""Village deliberation over the API (/api/v1/deliberation/…): matters from proposal to rating, votes with
their roll, online ballots, paper tally sheets and the published result, the 三公开 postings with questions,
the village rules, and the figures per village. Every answer lists the `actions` the caller may take now."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.errors import NotFound, ValidationFailed
from core.masking import mask_name
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from deliberation import selectors, services
from deliberation.models import (
    BudgetLine,
    Comment,
    Disclosure,
    Matter,
    Question,
    RulesVersion,
    Task,
    Vote,
)
from org.access import access_node, residents_for
from org.models import Node, Resident

router = Router(tags=["deliberation"])
P = "/deliberation"


def _twice(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _node(user: Any, node_id: int | None) -> Node | None:
    return access_node(user, node_id) if node_id else None


def _for_resident(user: Any, resident_id: int | None) -> Resident | None:
    if not resident_id:
        return None
    r = residents_for(user).filter(pk=resident_id).first()
    if r is None:
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    return r


# --- matters ---------------------------------------------------------------------------------------------------


class MatterOut(DictSchema):
    id: int
    village_id: int
    village: str
    node_id: int
    place: str
    title: str
    body: str
    cost: Decimal | None
    proposer: str = Field(description="The proposer's name, masked for other residents")
    state: str
    state_label: str
    cosigns: int
    threshold: int = Field(description="Signatures that put it on the agenda")
    signed: bool = Field(description="Whether you have signed it")
    reason: str
    merged_into_id: int | None
    created_at: dt.datetime
    agenda_at: dt.datetime | None
    decided_at: dt.datetime | None
    done_at: dt.datetime | None
    actions: list[str] = Field(description="What you may do now: sign, comment, rate, and the committee's steps")


class CommentOut(DictSchema):
    id: int
    who: str
    staff: bool
    text: str = Field(description="Empty when hidden, unless you moderate")
    hidden: bool
    hidden_reason: str
    at: dt.datetime


class TaskOut(DictSchema):
    id: int
    title: str
    responsible: str
    due: dt.date | None
    done_at: dt.datetime | None


class LineOut(DictSchema):
    id: int
    item: str
    amount: Decimal


class SpendingOut(DictSchema):
    id: int
    line_id: int
    amount: Decimal
    spent_on: dt.date
    payee: str
    note: str


class UpdateOut(DictSchema):
    id: int
    text: str
    at: dt.datetime
    photos: list[str]


class MatterDetailOut(MatterOut):
    photos: list[str]
    comments: list[CommentOut]
    votes: list[int]
    tasks: list[TaskOut]
    budget: list[LineOut]
    spendings: list[SpendingOut]
    updates: list[UpdateOut]
    budget_total: Decimal
    spent_total: Decimal
    ratings: dict[str, Any]
    my_rating: int | None


def _photo_urls(photos: Any) -> list[str]:
    return [f"/deliberation/photos/{p.pk}/" for p in photos]


def _matter(user: Any, m: Matter, *, signed: bool, threshold: int | None = None) -> dict[str, Any]:
    manages = selectors.manages(user, m)
    own = selectors.own_resident(user)
    mine = own is not None and own.id == m.proposer_id
    return {
        "id": m.pk,
        "village_id": m.village_id,
        "village": m.village.name,
        "node_id": m.node_id,
        "place": m.node.name,
        "title": m.title,
        "body": m.body,
        "cost": m.cost,
        "proposer": m.proposer.name if manages or mine else mask_name(m.proposer.name),
        "state": m.state,
        "state_label": str(m.get_state_display()),
        "cosigns": m.cosigns,
        "threshold": threshold if threshold is not None else selectors.setting_for(m.village).cosign_threshold,
        "signed": signed,
        "reason": m.reason,
        "merged_into_id": m.merged_into_id,
        "created_at": m.created_at,
        "agenda_at": m.agenda_at,
        "decided_at": m.decided_at,
        "done_at": m.done_at,
        "actions": selectors.matter_actions(user, m, signed=signed),
    }


def matter_detail(user: Any, m: Matter) -> dict[str, Any]:
    signed = bool(selectors.signed(user, [m]))
    out = _matter(user, m, signed=signed)
    manages = selectors.manages(user, m)
    money = selectors.money(m)
    mine = selectors.my_rating(user, m)
    out["actions"] = selectors.matter_actions(user, m, signed=signed, rated=mine is not None)
    out.update(
        photos=_photo_urls(m.photos.all()),
        comments=[selectors.comment_row(user, c, manages) for c in selectors.comments(user, m)],
        votes=list(m.votes.order_by("id").values_list("id", flat=True)),
        tasks=[
            {"id": t.pk, "title": t.title, "responsible": t.responsible, "due": t.due, "done_at": t.done_at}
            for t in m.tasks.all()
        ],
        budget=[{"id": b.pk, "item": b.item, "amount": b.amount} for b in m.budget.all()],
        spendings=[
            {
                "id": s.pk,
                "line_id": s.line_id,
                "amount": s.amount,
                "spent_on": s.spent_on,
                "payee": s.payee,
                "note": s.note,
            }
            for s in m.spendings.all()
        ],
        updates=[
            {"id": u.pk, "text": u.text, "at": u.at, "photos": _photo_urls(u.photos.all())}
            for u in m.updates.prefetch_related("photos")
        ],
        budget_total=money.budget,
        spent_total=money.spent,
        ratings=selectors.ratings(m),
        my_rating=mine.stars if mine is not None else None,
    )
    return out


class MatterFilter(QueryIn):
    state: Matter.State | None = None
    village_id: int | None = Field(None, ge=1)


@router.get(f"{P}/matters", response=Page[MatterOut], summary="Matters of my village (or of my area)")
def matters(request: AuthedRequest, f: Query[MatterFilter], page: Query[PageParams]):
    out = paginate(selectors.matters_for(request.user, state=f.state or "", village_id=f.village_id), page)
    signed = selectors.signed(request.user, out["items"])
    threshold = selectors.thresholds({m.village_id for m in out["items"]})
    out["items"] = [
        _matter(request.user, m, signed=m.pk in signed, threshold=threshold[m.village_id]) for m in out["items"]
    ]
    return out


class MatterIn(StrictIn):
    title: str = Field(..., min_length=1, max_length=80)
    body: str = Field(..., min_length=1, max_length=5000)
    cost: Decimal | None = Field(None, ge=0, le=services.MAX_COST, decimal_places=2)
    node_id: int | None = Field(None, ge=1, description="Your grid, to propose to it alone (default: the village)")
    for_resident_id: int | None = Field(None, ge=1, description="Grid workers: the resident you propose for")
    idempotency_key: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")


@router.post(f"{P}/matters", response={201: MatterDetailOut}, summary="Propose a matter (民事民提)")
def propose(request: AuthedRequest, body: MatterIn):
    node = Node.objects.filter(pk=body.node_id).first() if body.node_id else None
    if body.node_id and node is None:
        raise NotFound(_("No such place."), code="node.not_found")
    m = services.matter_propose(
        by=request.user,
        title=body.title,
        body=body.body,
        cost=body.cost,
        node=node,
        for_resident=_for_resident(request.user, body.for_resident_id),
        key=body.idempotency_key,
    )
    return Status(201, matter_detail(request.user, selectors.access_matter(request.user, m.pk)))


@router.get(f"{P}/matters/{{matter_id}}", response=MatterDetailOut, summary="One matter with its discussion and work")
def matter(request: AuthedRequest, matter_id: int):
    return matter_detail(request.user, selectors.access_matter(request.user, matter_id))


def _step(request: AuthedRequest, matter_id: int, fn: Any, **kw: Any) -> dict[str, Any]:
    fn(matter=selectors.access_matter(request.user, matter_id), by=request.user, **kw)
    return matter_detail(request.user, selectors.access_matter(request.user, matter_id))


@router.post(f"{P}/matters/{{matter_id}}/photos", response={201: MatterDetailOut}, summary="Add a photo to a proposal")
def matter_photo(request: AuthedRequest, matter_id: int, photo: File[UploadedFile]):
    m = selectors.access_matter(request.user, matter_id)
    services.matter_photo_add(matter=m, by=request.user, upload=photo)
    return Status(201, matter_detail(request.user, m))


class ForIn(StrictIn):
    for_resident_id: int | None = Field(None, ge=1, description="Grid workers: the resident you sign for")


@router.post(f"{P}/matters/{{matter_id}}/sign", response=MatterDetailOut, summary="Sign a proposed matter")
def sign(request: AuthedRequest, matter_id: int, body: ForIn | None = None):
    who = _for_resident(request.user, body.for_resident_id if body else None)
    return _step(request, matter_id, services.matter_cosign, for_resident=who)


@router.post(f"{P}/matters/{{matter_id}}/agenda", response=MatterDetailOut, summary="Put a matter on the agenda")
def agenda(request: AuthedRequest, matter_id: int):
    return _step(request, matter_id, services.matter_agenda)


class MatterReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=300)


@router.post(f"{P}/matters/{{matter_id}}/decline", response=MatterDetailOut, summary="Decline, with a public reason")
def decline(request: AuthedRequest, matter_id: int, body: MatterReasonIn):
    return _step(request, matter_id, services.matter_decline, reason=body.reason)


class MergeIn(StrictIn):
    into_id: int = Field(..., ge=1)
    reason: str = Field("", max_length=300)


@router.post(f"{P}/matters/{{matter_id}}/merge", response=MatterDetailOut, summary="Merge a duplicate into another")
def merge(request: AuthedRequest, matter_id: int, body: MergeIn):
    into = selectors.access_matter(request.user, body.into_id)
    return _step(request, matter_id, services.matter_merge, into=into, reason=body.reason)


@router.post(f"{P}/matters/{{matter_id}}/start", response=MatterDetailOut, summary="Start carrying out (民事民办)")
def start(request: AuthedRequest, matter_id: int):
    return _step(request, matter_id, services.matter_start)


@router.post(f"{P}/matters/{{matter_id}}/finish", response=MatterDetailOut, summary="Carried out: open the rating")
def finish(request: AuthedRequest, matter_id: int):
    return _step(request, matter_id, services.matter_finish)


class MatterTextIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=1000)


@router.post(f"{P}/matters/{{matter_id}}/comments", response={201: MatterDetailOut}, summary="Comment (民事民议)")
def comment(request: AuthedRequest, matter_id: int, body: MatterTextIn):
    return Status(201, _step(request, matter_id, services.comment_add, text=body.text))


class HideReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post(f"{P}/comments/{{comment_id}}/hide", response=MatterDetailOut, summary="Hide a comment, with a reason")
def hide(request: AuthedRequest, comment_id: int, body: HideReasonIn):
    c = Comment.objects.filter(pk=comment_id).select_related("matter").first()
    if c is None:
        raise NotFound(_("No such comment."), code="comment.not_found")
    selectors.access_matter(request.user, c.matter_id)
    services.comment_hide(comment=c, by=request.user, reason=body.reason)
    return matter_detail(request.user, selectors.access_matter(request.user, c.matter_id))


class MatterTaskIn(StrictIn):
    title: str = Field(..., min_length=1, max_length=120)
    responsible: str = Field(..., min_length=1, max_length=60)
    due: dt.date | None = None


@router.post(f"{P}/matters/{{matter_id}}/tasks", response={201: MatterDetailOut}, summary="Add a task")
def task(request: AuthedRequest, matter_id: int, body: MatterTaskIn):
    return Status(201, _step(request, matter_id, services.task_add, **body.model_dump()))


@router.post(f"{P}/tasks/{{task_id}}/done", response=MatterDetailOut, summary="Mark a task done")
def task_done(request: AuthedRequest, task_id: int):
    t = Task.objects.filter(pk=task_id).select_related("matter__village").first()
    if t is None:
        raise NotFound(_("No such task."), code="task.not_found")
    selectors.access_matter(request.user, t.matter_id)
    services.task_done(task=t, by=request.user)
    return matter_detail(request.user, selectors.access_matter(request.user, t.matter_id))


class LineIn(StrictIn):
    item: str = Field(..., min_length=1, max_length=120)
    amount: Decimal = Field(..., gt=0, le=services.MAX_COST, decimal_places=2)


@router.post(f"{P}/matters/{{matter_id}}/budget", response={201: MatterDetailOut}, summary="Add a budget line")
def budget(request: AuthedRequest, matter_id: int, body: LineIn):
    return Status(201, _step(request, matter_id, services.budget_add, item=body.item, amount=body.amount))


class SpendingIn(StrictIn):
    line_id: int = Field(..., ge=1)
    amount: Decimal = Field(..., gt=0, le=services.MAX_COST, decimal_places=2)
    spent_on: dt.date
    payee: str = Field(..., min_length=1, max_length=120)
    note: str = Field("", max_length=200)


@router.post(f"{P}/matters/{{matter_id}}/spendings", response={201: MatterDetailOut}, summary="Record money spent")
def spending(request: AuthedRequest, matter_id: int, body: SpendingIn):
    line = BudgetLine.objects.filter(pk=body.line_id, matter_id=matter_id).first()
    if line is None:
        raise NotFound(_("No such budget line of this matter."), code="spending.bad_line")
    return Status(
        201,
        _step(
            request,
            matter_id,
            services.spending_add,
            line=line,
            amount=body.amount,
            spent_on=body.spent_on,
            payee=body.payee,
            note=body.note,
        ),
    )


@router.post(f"{P}/matters/{{matter_id}}/updates", response={201: MatterDetailOut}, summary="Post progress")
def update(request: AuthedRequest, matter_id: int, body: MatterTextIn):
    return Status(201, _step(request, matter_id, services.update_add, text=body.text))


class MatterRatingIn(StrictIn):
    stars: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=300)


@router.post(f"{P}/matters/{{matter_id}}/rating", response={201: MatterDetailOut}, summary="Rate it (民事民评)")
def rate(request: AuthedRequest, matter_id: int, body: MatterRatingIn):
    return Status(201, _step(request, matter_id, services.rating_add, stars=body.stars, comment=body.comment))


class CameIn(StrictIn):
    household_id: int = Field(..., ge=1)
    people: int = Field(1, ge=1, le=30)


class MeetingIn(StrictIn):
    village_id: int = Field(..., ge=1)
    matter_id: int | None = Field(None, ge=1)
    held_at: dt.datetime
    place: str = Field(..., min_length=1, max_length=120)
    minutes: str = Field(..., min_length=1, max_length=10000)
    households: list[CameIn] = Field(default_factory=list, max_length=5000)


class MeetingOut(DictSchema):
    id: int
    village_id: int
    matter_id: int | None
    held_at: dt.datetime
    place: str
    minutes: str
    households: int
    people: int


def _meeting(m: Any) -> dict[str, Any]:
    rows = list(m.attendance.all())
    return {
        "id": m.pk,
        "village_id": m.village_id,
        "matter_id": m.matter_id,
        "held_at": m.held_at,
        "place": m.place,
        "minutes": m.minutes,
        "households": len(rows),
        "people": sum(a.people for a in rows),
    }


@router.post(f"{P}/meetings", response={201: MeetingOut}, summary="Record a 议事会 meeting")
def meeting(request: AuthedRequest, body: MeetingIn):
    village = access_node(request.user, body.village_id)
    matter_ = selectors.access_matter(request.user, body.matter_id) if body.matter_id else None
    came = {h.household_id: h.people for h in body.households}
    if len(came) != len(body.households):
        raise _twice("households", _("A household is listed twice."), "meeting.twice")
    m = services.meeting_record(
        by=request.user,
        village=village,
        matter=matter_,
        held_at=body.held_at,
        place=body.place,
        minutes=body.minutes,
        households=came,
    )
    return Status(201, _meeting(m))


class VillageFilter(QueryIn):
    village_id: int | None = Field(None, ge=1)


@router.get(f"{P}/meetings", response=Page[MeetingOut], summary="Meetings of my village (or of my area)")
def meetings(request: AuthedRequest, f: Query[VillageFilter], page: Query[PageParams]):
    from deliberation.models import Meeting

    qs = Meeting.objects.filter(selectors.reach_q(request.user)).prefetch_related("attendance")
    if f.village_id:
        qs = qs.filter(village_id=f.village_id)
    return paginate(qs.order_by("-held_at", "-id"), page, _meeting)


# --- votes -----------------------------------------------------------------------------------------------------


class OptionOut(DictSchema):
    id: int
    label: str
    approves: bool
    votes: int | None = Field(description="Published once the vote is counted")


class VoteOut(DictSchema):
    id: int
    village_id: int
    node_id: int
    place: str
    matter_id: int | None
    rules_id: int | None
    question: str
    per: str
    per_label: str
    quorum: str
    quorum_label: str
    threshold: str
    threshold_label: str
    secret: bool
    state: str
    state_label: str
    closes_at: dt.datetime
    opened_at: dt.datetime | None
    counted_at: dt.datetime | None
    eligible: int
    turnout: int | None = Field(description="How many took part: published once counted (live for the committee)")
    invalid: int | None
    needed: int = Field(description="How many must take part for the quorum")
    outcome: str
    outcome_label: str
    winner_id: int | None
    options: list[OptionOut]
    on_roll: bool = Field(description="Whether you (or your household) are on the roll")
    voted: bool = Field(description="Whether your (household's) ballot is in")
    voted_how: str = Field(description="online or paper: how it came in (never what)")
    actions: list[str]


def vote_row(user: Any, v: Vote, ballot: selectors.Ballot | None = None) -> dict[str, Any]:
    """One vote as the API shows it; `ballot` given where a list has read everyone's at once."""
    manages = selectors.manages(user, v)
    counted = v.state == Vote.State.COUNTED
    b = ballot if ballot is not None else selectors.my_ballot(user, v)
    actions = selectors.vote_actions(v, manages)
    if v.state == Vote.State.OPEN and manages:
        actions.append("paper")
    if v.state == Vote.State.OPEN and b.voter is not None and not b.voted:
        actions.insert(0, "ballot")
    took = v.turnout if counted else (getattr(v, "took", None) if manages else None)
    return {
        "id": v.pk,
        "village_id": v.village_id,
        "node_id": v.node_id,
        "place": v.node.name,
        "matter_id": v.matter_id,
        "rules_id": v.rules_id,
        "question": v.question,
        "per": v.per,
        "per_label": str(v.get_per_display()),
        "quorum": v.quorum,
        "quorum_label": str(v.get_quorum_display()),
        "threshold": v.threshold,
        "threshold_label": str(v.get_threshold_display()),
        "secret": v.secret,
        "state": v.state,
        "state_label": str(v.get_state_display()),
        "closes_at": v.closes_at,
        "opened_at": v.opened_at,
        "counted_at": v.counted_at,
        "eligible": v.eligible,
        "turnout": took,
        "invalid": v.invalid if counted or manages else None,
        "needed": services.quorum_needed(v.quorum, v.eligible),
        "outcome": v.outcome,
        "outcome_label": str(v.get_outcome_display()) if v.outcome else "",
        "winner_id": v.winner_id,
        "options": [
            {"id": o.pk, "label": o.label, "approves": o.approves, "votes": o.count if counted else None}
            for o in selectors.options(v)
        ],
        "on_roll": b.voter is not None,
        "voted": b.voted,
        "voted_how": b.channel,
        "actions": actions,
    }


class VoteFilter(QueryIn):
    state: Vote.State | None = None


@router.get(f"{P}/votes", response=Page[VoteOut], summary="Votes of my village (or of my area)")
def votes(request: AuthedRequest, f: Query[VoteFilter], page: Query[PageParams]):
    out = paginate(selectors.votes_for(request.user, state=f.state or ""), page)
    ballots = selectors.my_ballots(request.user, out["items"])
    out["items"] = [vote_row(request.user, v, ballots.get(v.pk, selectors.NO_BALLOT)) for v in out["items"]]
    return out


class VoteIn(StrictIn):
    question: str = Field(..., min_length=1, max_length=200)
    matter_id: int | None = Field(None, ge=1)
    rules_id: int | None = Field(None, ge=1)
    node_id: int | None = Field(None, ge=1, description="Who votes: a village or a grid (default: the matter's place)")
    per: Vote.Per = Vote.Per.HOUSEHOLD
    quorum: Vote.Quorum = Vote.Quorum.TWO_THIRDS
    threshold: Vote.Threshold = Vote.Threshold.MAJORITY
    secret: bool = True
    closes_at: dt.datetime
    options: list[str] | None = Field(None, max_length=services.MAX_OPTIONS, description="Default 同意/不同意/弃权")


@router.post(f"{P}/votes", response={201: VoteOut}, summary="Set up a vote (民事民决)")
def vote_create(request: AuthedRequest, body: VoteIn):
    m = selectors.access_matter(request.user, body.matter_id) if body.matter_id else None
    rules = selectors.access_rules(request.user, body.rules_id) if body.rules_id else None
    v = services.vote_create(
        by=request.user,
        matter=m,
        rules=rules,
        node=_node(request.user, body.node_id),
        **body.model_dump(exclude={"matter_id", "rules_id", "node_id"}),
    )
    return Status(201, vote_row(request.user, selectors.access_vote(request.user, v.pk)))


@router.get(f"{P}/votes/{{vote_id}}", response=VoteOut, summary="One vote; its result once counted")
def vote(request: AuthedRequest, vote_id: int):
    return vote_row(request.user, selectors.access_vote(request.user, vote_id))


def _vstep(request: AuthedRequest, vote_id: int, fn: Any, **kw: Any) -> dict[str, Any]:
    fn(vote=selectors.access_vote(request.user, vote_id), by=request.user, **kw)
    return vote_row(request.user, selectors.access_vote(request.user, vote_id))


@router.post(f"{P}/votes/{{vote_id}}/open", response=VoteOut, summary="Open the vote: the roll is frozen now")
def vote_open(request: AuthedRequest, vote_id: int):
    return _vstep(request, vote_id, services.vote_open)


class BallotIn(StrictIn):
    option_id: int = Field(..., ge=1)


@router.post(f"{P}/votes/{{vote_id}}/ballot", response=VoteOut, summary="Cast my (household's) ballot online")
def ballot(request: AuthedRequest, vote_id: int, body: BallotIn):
    return _vstep(request, vote_id, services.vote_cast, option_id=body.option_id)


class CountIn(StrictIn):
    option_id: int = Field(..., ge=1)
    ballots: int = Field(..., ge=0, le=100000)


class SheetBody(StrictIn):
    counts: list[CountIn] = Field(..., min_length=1, max_length=services.MAX_OPTIONS)
    invalid: int = Field(0, ge=0, le=100000)
    voter_ids: list[int] = Field(..., min_length=1, max_length=20000, description="Roll entries checked off")
    note: str = Field("", max_length=200)
    idempotency_key: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")


class SheetOut(DictSchema):
    id: int
    ballots: int
    invalid: int
    vote: VoteOut


@router.post(f"{P}/votes/{{vote_id}}/sheets", response={201: SheetOut}, summary="Enter a paper tally sheet")
def sheet(request: AuthedRequest, vote_id: int, body: SheetBody):
    counts: dict[int, int] = {}
    for c in body.counts:
        if c.option_id in counts:
            raise _twice("counts", _("An option is listed twice."), "sheet.twice")
        counts[c.option_id] = c.ballots
    v = selectors.access_vote(request.user, vote_id)
    s = services.vote_paper(
        vote=v,
        by=request.user,
        note=body.note,
        key=body.idempotency_key,
        sheet=services.SheetIn(counts=counts, invalid=body.invalid, voter_ids=body.voter_ids),
    )
    return Status(
        201,
        {
            "id": s.pk,
            "ballots": s.ballots,
            "invalid": s.invalid,
            "vote": vote_row(request.user, selectors.access_vote(request.user, vote_id)),
        },
    )


@router.post(f"{P}/votes/{{vote_id}}/count", response=VoteOut, summary="Count and publish (after online voting closes)")
def count(request: AuthedRequest, vote_id: int):
    return _vstep(request, vote_id, services.vote_count)


@router.post(f"{P}/votes/{{vote_id}}/cancel", response=VoteOut, summary="Cancel a vote before it is counted")
def cancel(request: AuthedRequest, vote_id: int, body: HideReasonIn):
    return _vstep(request, vote_id, services.vote_cancel, reason=body.reason)


class VoterOut(DictSchema):
    id: int
    label: str
    voted: bool
    how: str = Field(description="online or paper — never what")


class RollFilter(QueryIn):
    node_id: int | None = Field(None, ge=1, description="A grid of the vote's area")
    voted: bool | None = None
    q: str = Field("", max_length=40)


@router.get(f"{P}/votes/{{vote_id}}/roll", response=Page[VoterOut], summary="The roll and who has voted (committee)")
def roll(request: AuthedRequest, vote_id: int, f: Query[RollFilter], page: Query[PageParams]):
    v = selectors.access_vote(request.user, vote_id)
    if not selectors.manages(request.user, v):
        raise NotFound(_("No such vote."), code="vote.not_found")
    node = access_node(request.user, f.node_id) if f.node_id else None
    rows = selectors.roll(v, path=node.path if node else "", voted=f.voted, q=f.q)

    def row(x: Any) -> dict[str, Any]:
        t = getattr(x, "turnout", None)
        return {"id": x.pk, "label": x.label, "voted": t is not None, "how": t.channel if t else ""}

    return paginate(rows, page, row)


# --- 三公开 -------------------------------------------------------------------------------------------------------


class QuestionOut(DictSchema):
    id: int
    who: str
    text: str
    asked_at: dt.datetime
    state: str
    answer: str
    answered_at: dt.datetime | None


class SpendOut(DictSchema):
    matter_id: int
    matter: str
    item: str
    amount: Decimal
    spent_on: dt.date
    payee: str


class DisclosureOut(DictSchema):
    id: int
    village_id: int
    village: str
    kind: str
    kind_label: str
    period: str
    title: str
    body: str
    corrects_id: int | None
    published_at: dt.datetime
    open_questions: int


class DisclosureDetailOut(DisclosureOut):
    questions: list[QuestionOut]
    spendings: list[SpendOut] = Field(description="Finance: the money spent on the village's matters in the period")
    corrected_by: list[int]
    actions: list[str]


def _disclosure(d: Disclosure) -> dict[str, Any]:
    return {
        "id": d.pk,
        "village_id": d.village_id,
        "village": d.village.name,
        "kind": d.kind,
        "kind_label": str(d.get_kind_display()),
        "period": d.period,
        "title": d.title,
        "body": d.body,
        "corrects_id": d.corrects_id,
        "published_at": d.published_at,
        "open_questions": getattr(d, "open_questions", 0),
    }


def disclosure_detail(user: Any, d: Disclosure) -> dict[str, Any]:
    manages = selectors.manages(user, d)
    own = selectors.own_resident(user)
    out = _disclosure(d)
    qs = list(d.questions.select_related("asker").order_by("asked_at", "id"))
    out["open_questions"] = sum(q.state == Question.State.ASKED for q in qs)
    out["questions"] = [
        {
            "id": q.pk,
            "who": q.asker.name if manages else mask_name(q.asker.name),
            "text": q.text,
            "asked_at": q.asked_at,
            "state": q.state,
            "answer": q.answer,
            "answered_at": q.answered_at,
        }
        for q in qs
    ]
    out["spendings"] = [
        {
            "matter_id": s.matter_id,
            "matter": s.matter.title,
            "item": s.line.item,
            "amount": s.amount,
            "spent_on": s.spent_on,
            "payee": s.payee,
        }
        for s in (selectors.spendings_in(d.village, d.period) if d.kind == "finance" else [])
    ]
    out["corrected_by"] = list(d.corrections.values_list("id", flat=True))
    out["actions"] = (["ask"] if own is not None and own.path.startswith(d.path) else []) + (
        ["answer", "correct"] if manages else []
    )
    return out


class DisclosureFilter(QueryIn):
    village_id: int | None = Field(None, ge=1)
    kind: Disclosure.Kind | None = None


@router.get(f"{P}/disclosures", response=Page[DisclosureOut], summary="三公开 postings of my village (or my area)")
def disclosures(request: AuthedRequest, f: Query[DisclosureFilter], page: Query[PageParams]):
    qs = selectors.disclosures_for(request.user, village_id=f.village_id, kind=f.kind or "")
    return paginate(qs, page, _disclosure)


class DisclosureIn(StrictIn):
    village_id: int = Field(..., ge=1)
    kind: Disclosure.Kind
    period: str = Field(..., min_length=7, max_length=7, description="2026-11 or 2026-Q4")
    title: str = Field(..., min_length=1, max_length=80)
    body: str = Field(..., min_length=1, max_length=10000)
    corrects_id: int | None = Field(None, ge=1)


@router.post(f"{P}/disclosures", response={201: DisclosureDetailOut}, summary="Post party, village or finance affairs")
def disclose(request: AuthedRequest, body: DisclosureIn):
    village = access_node(request.user, body.village_id)
    corrects = selectors.access_disclosure(request.user, body.corrects_id) if body.corrects_id else None
    d = services.disclosure_publish(
        by=request.user,
        village=village,
        kind=body.kind,
        period=body.period,
        title=body.title,
        body=body.body,
        corrects=corrects,
    )
    return Status(201, disclosure_detail(request.user, selectors.access_disclosure(request.user, d.pk)))


@router.get(f"{P}/disclosures/{{disclosure_id}}", response=DisclosureDetailOut, summary="One posting and its questions")
def disclosure(request: AuthedRequest, disclosure_id: int):
    return disclosure_detail(request.user, selectors.access_disclosure(request.user, disclosure_id))


class DisclosureQuestionIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=500)


@router.post(
    f"{P}/disclosures/{{disclosure_id}}/questions",
    response={201: DisclosureDetailOut},
    summary="Ask about a posting (质询)",
)
def ask(request: AuthedRequest, disclosure_id: int, body: DisclosureQuestionIn):
    d = selectors.access_disclosure(request.user, disclosure_id)
    services.question_ask(disclosure=d, by=request.user, text=body.text)
    return Status(201, disclosure_detail(request.user, d))


class AnswerIn(StrictIn):
    answer: str = Field(..., min_length=1, max_length=2000)


@router.post(
    f"{P}/questions/{{question_id}}/answer", response=DisclosureDetailOut, summary="Answer a question publicly"
)
def answer(request: AuthedRequest, question_id: int, body: AnswerIn):
    q = Question.objects.filter(pk=question_id).select_related("disclosure__village").first()
    if q is None:
        raise NotFound(_("No such question."), code="question.not_found")
    d = selectors.access_disclosure(request.user, q.disclosure_id)
    services.question_answer(question=q, by=request.user, answer=body.answer)
    return disclosure_detail(request.user, d)


class OverdueOut(DictSchema):
    village_id: int
    village: str
    kind: str
    kind_label: str
    period: str
    deadline: dt.date


@router.get(f"{P}/overdue", response=list[OverdueOut], summary="Postings overdue in my area (for the town)")
def overdue(request: AuthedRequest):
    return [
        {
            "village_id": o.village.pk,
            "village": o.village.name,
            "kind": o.kind,
            "kind_label": o.kind_label,
            "period": o.period,
            "deadline": o.deadline,
        }
        for o in selectors.overdue(selectors.watch_paths(request.user))
    ]


# --- 村规民约 ------------------------------------------------------------------------------------------------------


class RulesOut(DictSchema):
    id: int
    village_id: int
    number: int
    text: str
    summary: str
    state: str
    state_label: str
    created_at: dt.datetime
    adopted_at: dt.datetime | None
    votes: list[int]


def _rules(r: RulesVersion) -> dict[str, Any]:
    return {
        "id": r.pk,
        "village_id": r.village_id,
        "number": r.number,
        "text": r.text,
        "summary": r.summary,
        "state": r.state,
        "state_label": str(r.get_state_display()),
        "created_at": r.created_at,
        "adopted_at": r.adopted_at,
        "votes": list(r.votes.values_list("id", flat=True)),
    }


class RulesFilter(QueryIn):
    village_id: int = Field(..., ge=1)


@router.get(f"{P}/rules", response=list[RulesOut], summary="The village rules: every version, newest first")
def rules(request: AuthedRequest, f: Query[RulesFilter]):
    return [_rules(r) for r in selectors.rules_for(request.user, f.village_id)]


class RulesIn(StrictIn):
    village_id: int = Field(..., ge=1)
    text: str = Field(..., min_length=1, max_length=20000)
    summary: str = Field(..., min_length=1, max_length=300)


@router.post(f"{P}/rules", response={201: RulesOut}, summary="Write a new version, to be voted on")
def rules_draft(request: AuthedRequest, body: RulesIn):
    r = services.rules_draft(
        by=request.user, village=access_node(request.user, body.village_id), text=body.text, summary=body.summary
    )
    return Status(201, _rules(r))


class RecordIn(StrictIn):
    village_id: int = Field(..., ge=1)
    text: str = Field(..., min_length=1, max_length=20000)
    adopted_on: dt.date


@router.post(f"{P}/rules/record", response={201: RulesOut}, summary="Record the rules in force before Gongzhi")
def rules_record(request: AuthedRequest, body: RecordIn):
    r = services.rules_record(
        by=request.user, village=access_node(request.user, body.village_id), text=body.text, adopted_on=body.adopted_on
    )
    return Status(201, _rules(r))


# --- settings and figures ------------------------------------------------------------------------------------------


class SettingOut(DictSchema):
    village_id: int
    cosign_threshold: int
    party_every: str
    affairs_every: str
    finance_every: str
    due_day: int


class SettingIn(StrictIn):
    cosign_threshold: int | None = Field(None, ge=1, le=500)
    party_every: str | None = Field(None, pattern="^(month|quarter)$")
    affairs_every: str | None = Field(None, pattern="^(month|quarter)$")
    finance_every: str | None = Field(None, pattern="^(month|quarter)$")
    due_day: int | None = Field(None, ge=1, le=28)


def _setting(s: Any) -> dict[str, Any]:
    return {
        "village_id": s.village_id,
        "cosign_threshold": s.cosign_threshold,
        "party_every": s.party_every,
        "affairs_every": s.affairs_every,
        "finance_every": s.finance_every,
        "due_day": s.due_day,
    }


@router.get(f"{P}/villages/{{village_id}}/setting", response=SettingOut, summary="A village's deliberation setting")
def setting(request: AuthedRequest, village_id: int):
    village = access_node(request.user, village_id)
    if village.pk not in {v.pk for v in selectors.my_villages(request.user)}:
        raise NotFound(_("No such village."), code="node.not_found")
    return _setting(selectors.setting_for(village))


@router.put(f"{P}/villages/{{village_id}}/setting", response=SettingOut, summary="Change a village's setting")
def setting_put(request: AuthedRequest, village_id: int, body: SettingIn):
    village = access_node(request.user, village_id)
    return _setting(services.setting_update(by=request.user, village=village, **body.model_dump()))


class VillageRowOut(DictSchema):
    village_id: int
    village: str
    proposed: int
    open: int
    passed: int
    done: int
    declined: int
    votes: int
    turnout: float | None = Field(description="Average % of the roll that took part in counted votes")
    rated: int
    rating: float | None
    overdue: int = Field(description="三公开 postings overdue")


class DeliberationReportFilter(QueryIn):
    node_id: int | None = Field(None, ge=1, description="A town or village of your area (default: all of it)")


@router.get(f"{P}/report", response=list[VillageRowOut], summary="Deliberation per village (command centre)")
def report(request: AuthedRequest, f: Query[DeliberationReportFilter]):
    paths = selectors.watch_paths(request.user)
    if f.node_id:
        node = access_node(request.user, f.node_id)
        from org.policy import under

        if not under(paths, node.path):
            raise NotFound(_("No such place in your area."), code="node.not_found")
        paths = (node.path,)
    return [
        {
            **{
                k: getattr(r, k)
                for k in (
                    "proposed",
                    "open",
                    "passed",
                    "done",
                    "declined",
                    "votes",
                    "turnout",
                    "rated",
                    "rating",
                    "overdue",
                )
            },
            "village_id": r.village.pk,
            "village": r.village.name,
        }
        for r in selectors.report(paths)
    ]
