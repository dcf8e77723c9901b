"""Every write of village deliberation: propose and sign (民事民提), comment and meetings (民事民议), votes with
their roll, online ballots, paper tally sheets and the count (民事民决), carrying out with tasks, budget,
spending and progress (民事民办), ratings (民事民评), the 三公开 postings with questions, and the village rules.

Votes are exact: the roll is frozen when the vote opens; a ballot is a `Turnout` row (unique per roll entry,
online and paper alike) and one more on its option's count, in one transaction under the vote's row lock, so
the count can never differ from the ballots stored and a count never misses a ballot being cast."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from core.clock import SHANGHAI, aware, now, today
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.validation import checked_text
from deliberation import selectors
from deliberation.models import (
    Attendance,
    BudgetLine,
    Comment,
    Cosign,
    Disclosure,
    Elector,
    Matter,
    Meeting,
    Option,
    Photo,
    Question,
    Rating,
    RulesVersion,
    Sheet,
    Spending,
    Task,
    Turnout,
    Update,
    VillageSetting,
    Vote,
    Voter,
)
from deliberation.states import COMMENT, MATTER, QUESTION, RULES, VOTE
from org.access import paths_q
from org.models import Household, Level, Node, Relation, Resident, path_ids

if TYPE_CHECKING:
    from accounts.models import User

MAX_PHOTOS = 3
MAX_OPTIONS = 10
MAX_COST = Decimal("99999999.99")
MAX_VOTE_DAYS = 60
ADULT_YEARS = 18


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _text(value: str | None, field: str, *, max_len: int, line: bool = False, min_len: int = 1) -> str:
    return checked_text(value, field, max_len=max_len, line=line, min_len=min_len)


def _money(value: Any, field: str, *, positive: bool = True) -> Decimal:
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise _invalid(field, _("Enter an amount in yuan, like 1200.50."), "money.invalid") from None
    if not d.is_finite() or d > MAX_COST or d < 0 or (positive and d == 0):
        raise _invalid(field, _("Enter an amount from 0.01 to 99,999,999.99 yuan."), "money.out_of_range")
    return d


def _photos(
    matter: Matter | None = None,
    meeting: Meeting | None = None,
    update: Update | None = None,
    uploads: Sequence[Any] = (),
) -> None:
    """Up to MAX_PHOTOS photos of a proposal, a meeting or an update, each checked and re-encoded as an order's."""
    from workorders.photos import upload_prepare

    if len(uploads) > MAX_PHOTOS:
        raise _invalid("photos", _("At most %(n)s photos.") % {"n": MAX_PHOTOS}, "photo.too_many")
    jpegs = [upload_prepare(upload)[0] for upload in uploads]
    for jpeg in jpegs:
        p = Photo(matter=matter, meeting=meeting, update=update, at=now())
        p.file.save("photo.jpg", ContentFile(jpeg), save=False)
        p.save()


def matter_photo_add(*, matter: Matter, by: User, upload: Any) -> Photo:
    """One more photo of a proposal, by its proposer (or whoever entered it for them) or the village."""
    own = selectors.own_resident(by)
    if not (
        selectors.manages(by, matter)
        or matter.entered_by_id == by.pk
        or (own is not None and own.id == matter.proposer_id)
    ):
        raise PermissionDenied(_("Only the proposer or the village adds photos."), code="matter.not_proposer")
    with transaction.atomic():
        list(Matter.objects.select_for_update().filter(pk=matter.pk))
        if matter.photos.count() >= MAX_PHOTOS:
            raise Conflict(_("At most %(n)s photos.") % {"n": MAX_PHOTOS}, code="photo.too_many")
        _photos(matter=matter, uploads=[upload])
    return matter.photos.order_by("-id")[0]


def _managed(user: User, obj: Any, what: str) -> None:
    if not selectors.manages(user, obj):
        raise NotFound(_("No such %(what)s in your area.") % {"what": what}, code="deliberation.not_found")


def _resident(by: User, for_resident: Resident | None) -> Resident:
    """Who acts: `by` themself as a resident, or the resident a grid worker or the village acts for."""
    if for_resident is not None:
        if not selectors.acts_for(by, for_resident.path):
            raise NotFound(_("No such resident in your area."), code="resident.not_found")
        return for_resident
    own = selectors.own_resident(by)
    if own is None:
        raise PermissionDenied(_("Only residents of the village can do this."), code="deliberation.not_resident")
    return own.instance()


def _lives_under(resident: Resident, matter: Matter) -> None:
    if not resident.path.startswith(matter.path):
        raise PermissionDenied(
            _("Only residents of %(place)s can do this for this matter.") % {"place": matter.node.name},
            code="matter.not_eligible",
        )


# --- 民事民提: propose and sign -------------------------------------------------------------------------------


def matter_propose(
    *,
    by: User,
    title: str,
    body: str,
    cost: Any = None,
    node: Node | None = None,
    for_resident: Resident | None = None,
    photos: Sequence[Any] = (),
    key: str = "",
) -> Matter:
    """A resident proposes a matter to their village (or their grid); a grid worker for one without a phone."""
    resident = _resident(by, for_resident)
    if key:
        done = Matter.objects.filter(entered_by=by, idempotency_key=key).first()
        if done is not None:
            return done
    title = _text(title, "title", max_len=80, line=True, min_len=2)
    body = _text(body, "body", max_len=5000, min_len=5)
    amount = _money(cost, "cost", positive=False) if cost not in (None, "") else None
    village = Node.objects.filter(pk__in=path_ids(resident.path), level=Level.VILLAGE).first()
    if village is None:
        raise Conflict(_("This resident lives in no village."), code="matter.no_village")
    if node is None:
        node = village
    elif node.pk not in path_ids(resident.path) or node.level not in (Level.VILLAGE, Level.GRID):
        raise _invalid("node_id", _("Propose to your own village or grid."), "matter.bad_node")
    try:
        with transaction.atomic():
            m = Matter.objects.create(
                village=village,
                node=node,
                path=node.path,
                title=title,
                body=body,
                cost=amount,
                proposer=resident,
                entered_by=by,
                created_at=now(),
                idempotency_key=key,
            )
            _photos(matter=m, uploads=photos)
    except IntegrityError:
        done = Matter.objects.filter(entered_by=by, idempotency_key=key).first()
        if key and done is not None:
            return done
        raise
    return m


def matter_cosign(*, matter: Matter, by: User, for_resident: Resident | None = None) -> Matter:
    """Sign a proposed matter (once each); at the village's threshold it goes on the agenda."""
    resident = _resident(by, for_resident)
    _lives_under(resident, matter)
    if resident.pk == matter.proposer_id:
        raise Conflict(_("You proposed this matter: ask your neighbours to sign."), code="matter.own_proposal")
    threshold = selectors.setting_for(matter.village).cosign_threshold
    with transaction.atomic():
        m = Matter.objects.select_for_update().get(pk=matter.pk)
        if m.state != Matter.State.PROPOSED:
            raise Conflict(
                _("This matter no longer takes signatures: it is %(state)s.") % {"state": m.get_state_display()},
                code="matter.not_signing",
            )
        try:
            with transaction.atomic():
                Cosign.objects.create(matter=m, resident=resident, at=now())
        except IntegrityError:
            raise Conflict(_("You have already signed this matter."), code="matter.already_signed") from None
        m.cosigns += 1
        Matter.objects.filter(pk=m.pk).update(cosigns=F("cosigns") + 1)
        if m.cosigns >= threshold:
            MATTER.move(m, "agenda", fields={"agenda_at": now()})
    return m


def matter_agenda(*, matter: Matter, by: User) -> Matter:
    """The committee puts a matter on the agenda (or back on it after a vote that did not pass it)."""
    _managed(by, matter, _("matter"))
    with transaction.atomic():
        MATTER.move(matter, "agenda", fields={"agenda_at": now()})
    return matter


def matter_decline(*, matter: Matter, by: User, reason: str) -> Matter:
    _managed(by, matter, _("matter"))
    reason = _text(reason, "reason", max_len=300, line=True, min_len=4)
    with transaction.atomic():
        MATTER.move(matter, "decline", fields={"reason": reason, "decided_at": now()})
    return matter


def matter_merge(*, matter: Matter, into: Matter, by: User, reason: str = "") -> Matter:
    """A duplicate joins the matter it repeats: its signatures count there (each person once)."""
    _managed(by, matter, _("matter"))
    _managed(by, into, _("matter"))
    if into.pk == matter.pk or into.village_id != matter.village_id:
        raise _invalid("into_id", _("Merge into another matter of the same village."), "matter.bad_merge")
    if into.state in (Matter.State.DECLINED, Matter.State.MERGED):
        raise Conflict(
            _("That matter is %(state)s: merge into one still open.") % {"state": into.get_state_display()},
            code="matter.bad_merge",
        )
    reason = _text(reason or _("Same as %(title)s") % {"title": into.title}, "reason", max_len=300, line=True)
    with transaction.atomic():
        first, second = sorted([matter.pk, into.pk])
        list(Matter.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk"))
        MATTER.move(matter, "merge", fields={"reason": reason, "merged_into": into, "decided_at": now()})
        have = set(Cosign.objects.filter(matter=into).values_list("resident_id", flat=True)) | {into.proposer_id}
        moved = [
            Cosign(matter=into, resident_id=rid, at=at)
            for rid, at in Cosign.objects.filter(matter=matter).values_list("resident_id", "at")
            if rid not in have
        ]
        if matter.proposer_id not in have and not any(c.resident_id == matter.proposer_id for c in moved):
            moved.append(Cosign(matter=into, resident_id=matter.proposer_id, at=matter.created_at))
        Cosign.objects.bulk_create(moved)
        Matter.objects.filter(pk=into.pk).update(cosigns=F("cosigns") + len(moved))
        into.refresh_from_db()
        if into.state == Matter.State.PROPOSED and into.cosigns >= selectors.setting_for(into.village).cosign_threshold:
            MATTER.move(into, "agenda", fields={"agenda_at": now()})
    return matter


# --- 民事民议: comments and meetings -----------------------------------------------------------------------------


def comment_add(*, matter: Matter, by: User, text: str) -> Comment:
    """A resident of the matter's place says what they think; the committee answers in the same thread."""
    staff = selectors.manages(by, matter)
    resident = None
    if not staff:
        own = _resident(by, None)
        _lives_under(own, matter)
        resident = own
    if matter.state in (Matter.State.DECLINED, Matter.State.MERGED):
        raise Conflict(
            _("This matter is closed to comments: it is %(state)s.") % {"state": matter.get_state_display()},
            code="matter.closed",
        )
    text = _text(text, "text", max_len=1000, min_len=2)
    return Comment.objects.create(matter=matter, author=resident, user=by, text=text, at=now())


def comment_hide(*, comment: Comment, by: User, reason: str) -> Comment:
    _managed(by, comment.matter, _("comment"))
    reason = _text(reason, "reason", max_len=200, line=True, min_len=2)
    with transaction.atomic():
        COMMENT.move(comment, "hide", fields={"hidden_reason": reason, "hidden_by": by, "hidden_at": now()})
    return comment


def meeting_record(
    *,
    by: User,
    village: Node,
    held_at: dt.datetime,
    place: str,
    minutes: str,
    households: Mapping[int, int] | Sequence[int] = (),
    matter: Matter | None = None,
    photos: Sequence[Any] = (),
) -> Meeting:
    """议事会 in the 阳光议事厅: when, where, minutes, who came (households, with how many people each)."""
    if village.level != Level.VILLAGE or not selectors.manages(by, village):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    if matter is not None and matter.village_id != village.pk:
        raise _invalid("matter_id", _("The matter is not of this village."), "meeting.bad_matter")
    held_at = aware(held_at)
    if held_at > now() + dt.timedelta(hours=1):
        raise _invalid("held_at", _("Record a meeting once it has been held."), "meeting.in_future")
    place = _text(place, "place", max_len=120, line=True)
    minutes = _text(minutes, "minutes", max_len=10000, min_len=5)
    came = dict(households) if isinstance(households, Mapping) else {int(h): 1 for h in households}
    if len(came) > 5000 or any(not 1 <= n <= 30 for n in came.values()):
        raise _invalid("households", _("Between 1 and 30 people per household."), "meeting.bad_attendance")
    found = set(
        Household.objects.filter(paths_q((village.path,), "path"), pk__in=list(came)).values_list("pk", flat=True)
    )
    if found != set(came):
        raise _invalid("households", _("Some households are not of this village."), "meeting.bad_household")
    with transaction.atomic():
        m = Meeting.objects.create(
            village=village,
            path=village.path,
            matter=matter,
            held_at=held_at,
            place=place,
            minutes=minutes,
            recorded_by=by,
            recorded_at=now(),
        )
        Attendance.objects.bulk_create([Attendance(meeting=m, household_id=h, people=n) for h, n in came.items()])
        _photos(meeting=m, uploads=photos)
    return m


# --- 民事民决: votes ----------------------------------------------------------------------------------------------


def vote_create(
    *,
    by: User,
    question: str,
    closes_at: dt.datetime,
    matter: Matter | None = None,
    rules: RulesVersion | None = None,
    node: Node | None = None,
    per: str = Vote.Per.HOUSEHOLD,
    quorum: str = Vote.Quorum.TWO_THIRDS,
    threshold: str = Vote.Threshold.MAJORITY,
    secret: bool = True,
    options: Sequence[str] | None = None,
) -> Vote:
    """Set up a vote on a matter on the agenda, on a draft of the village rules, or on a question of the
    village. Without options it asks 同意 / 不同意 / 弃权, and passes when 同意 wins by the threshold."""
    if matter is not None and rules is not None:
        raise _invalid("matter_id", _("A vote is on a matter or on the rules, not both."), "vote.bad_subject")
    subject: Any = matter or rules
    if node is None:
        node = matter.node if matter is not None else (rules.village if rules is not None else None)
    if node is None or node.level not in (Level.VILLAGE, Level.GRID) or not selectors.manages(by, node):
        raise NotFound(_("No such village or grid in your area."), code="node.not_found")
    village = selectors.village_of(node)
    assert village is not None
    if subject is not None:
        _managed(by, subject, _("matter") if matter is not None else _("version of the village rules"))
        if not node.path.startswith(subject.path if matter is not None else village.path) or (
            subject.village_id != village.pk
        ):
            raise _invalid("node_id", _("Those who vote live where the matter is."), "vote.bad_node")
    if rules is not None and node.pk != village.pk:
        raise _invalid("node_id", _("Village rules are adopted by the whole village."), "vote.bad_node")
    if matter is not None and matter.state != Matter.State.AGENDA:
        raise MATTER.refusal(matter.state, "vote")
    if rules is not None and rules.state != RulesVersion.State.DRAFT:
        raise RULES.refusal(rules.state, "vote")
    if subject is not None and subject.votes.filter(state__in=["draft", "open"]).exists():
        raise Conflict(_("A vote on this is already set up."), code="vote.exists")
    question = _text(question, "question", max_len=200, line=True, min_len=4)
    for field, value, choices in (
        ("per", per, Vote.Per.values),
        ("quorum", quorum, Vote.Quorum.values),
        ("threshold", threshold, Vote.Threshold.values),
    ):
        if value not in choices:
            raise _invalid(field, _("Choose one of the options offered."), "vote.bad_choice")
    closes_at = aware(closes_at)
    if closes_at <= now() + dt.timedelta(minutes=10) or closes_at > now() + dt.timedelta(days=MAX_VOTE_DAYS):
        raise _invalid(
            "closes_at",
            _("Voting closes between ten minutes and %(n)s days from now.") % {"n": MAX_VOTE_DAYS},
            "vote.bad_close",
        )
    if options:
        labels = [_text(o, "options", max_len=60, line=True) for o in options]
        if not 2 <= len(labels) <= MAX_OPTIONS or len(set(labels)) != len(labels):
            raise _invalid("options", _("From 2 to %(n)s different options.") % {"n": MAX_OPTIONS}, "vote.bad_options")
        rows = [(label, False) for label in labels]
    else:
        # Stored in the words of whoever sets the vote up (zh-Hans by default), like any option typed in.
        rows = [(_("Agree"), True), (_("Disagree"), False), (_("Abstain"), False)]
    with transaction.atomic():
        v = Vote.objects.create(
            village=village,
            node=node,
            path=node.path,
            matter=matter,
            rules=rules,
            question=question,
            per=per,
            quorum=quorum,
            threshold=threshold,
            secret=secret,
            closes_at=closes_at,
            created_by=by,
            created_at=now(),
        )
        Option.objects.bulk_create(
            [Option(vote=v, label=label, sort=i, approves=a) for i, (label, a) in enumerate(rows)]
        )
    return v


def _adult_cutoff(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - ADULT_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - ADULT_YEARS, day=28)


def _label(address: str, names: list[str]) -> str:
    return f"{address} · {'、'.join(names[:3])}{'…' if len(names) > 3 else ''}"[:240]


def vote_open(*, vote: Vote, by: User) -> Vote:
    """Open the vote: the roll is frozen now — the households of the area (or its residents aged 18 or over),
    with who may cast each household's ballot online (its adults, and its head)."""
    _managed(by, vote, _("vote"))
    if vote.closes_at <= now() + dt.timedelta(minutes=10):
        raise _invalid("closes_at", _("Voting would close within ten minutes: set up a new vote."), "vote.bad_close")
    cutoff = _adult_cutoff(today())
    with transaction.atomic():
        VOTE.move(vote, "open", fields={"opened_at": now()})
        people = list(
            Resident.objects.filter(paths_q((vote.path,), "path"))
            .order_by("path", "household_id", "id")
            .values_list("id", "household_id", "path", "name", "birth_date", "relation", "household__address")
        )
        adult = {
            pid
            for pid, _h, _p, _n, born, rel, _a in people
            if (born is not None and born <= cutoff) or (vote.per == Vote.Per.HOUSEHOLD and rel == Relation.HEAD)
        }
        if vote.per == Vote.Per.HOUSEHOLD:
            households: dict[int, list[Any]] = {}
            for pid, hid, path, name, _born, _rel, address in people:
                households.setdefault(hid, [path, address, [], []])
                households[hid][2].append(name)
                if pid in adult:
                    households[hid][3].append(pid)
            voters = Voter.objects.bulk_create(
                [
                    Voter(vote=vote, household_id=hid, path=path, label=_label(address, names))
                    for hid, (path, address, names, _a) in households.items()
                ],
                batch_size=500,
            )
            electors = [
                Elector(vote=vote, voter=v, resident_id=pid) for v in voters for pid in households[v.household_id][3]
            ]
        else:
            adults_in_order = [pid for pid, *_rest in people if pid in adult]
            voters = Voter.objects.bulk_create(
                [
                    Voter(vote=vote, household_id=hid, resident_id=pid, path=path, label=_label(address, [name]))
                    for pid, hid, path, name, _born, _rel, address in people
                    if pid in adult
                ],
                batch_size=500,
            )
            electors = [
                Elector(vote=vote, voter=v, resident_id=pid) for v, pid in zip(voters, adults_in_order, strict=True)
            ]
        if not voters:
            raise Conflict(_("Nobody lives in this area: there is no one to vote."), code="vote.empty_roll")
        Elector.objects.bulk_create(electors, batch_size=1000)
        Vote.objects.filter(pk=vote.pk).update(eligible=len(voters))
        vote.eligible = len(voters)
        if vote.matter_id is not None:
            MATTER.move(Matter.objects.get(pk=vote.matter_id), "vote")
        if vote.rules_id is not None:
            RULES.move(RulesVersion.objects.get(pk=vote.rules_id), "vote")
    return vote


def _locked_open(vote: Vote) -> Vote:
    v = Vote.objects.select_for_update().get(pk=vote.pk)
    if v.state != Vote.State.OPEN:
        raise Conflict(
            _("This vote is %(state)s: no more ballots.") % {"state": v.get_state_display()}, code="vote.not_open"
        )
    return v


def vote_cast(*, vote: Vote, by: User, option_id: int) -> Turnout:
    """An online ballot, by a resident the frozen roll names (for their household, or themself)."""
    own = selectors.own_resident(by)
    if own is None:
        raise PermissionDenied(_("Only residents on the roll can vote."), code="vote.not_on_roll")
    with transaction.atomic():
        v = _locked_open(vote)
        if now() >= v.closes_at:
            raise Conflict(_("Online voting has closed."), code="vote.closed")
        e = Elector.objects.filter(vote=v, resident_id=own.id).select_related("voter").first()
        if e is None:
            raise PermissionDenied(
                _("You are not on the roll of this vote (it was fixed when the vote opened)."), code="vote.not_on_roll"
            )
        option = Option.objects.filter(vote=v, pk=option_id).first()
        if option is None:
            raise _invalid("option_id", _("No such option in this vote."), "vote.bad_option")
        try:
            with transaction.atomic():
                t = Turnout.objects.create(
                    vote=v,
                    voter=e.voter,
                    channel=Turnout.Channel.ONLINE,
                    cast_by_id=None if v.secret else own.id,
                    option=None if v.secret else option,
                )
        except IntegrityError:
            raise Conflict(
                _("Your household's ballot is already in.")
                if v.per == Vote.Per.HOUSEHOLD
                else _("Your ballot is already in."),
                code="vote.already_voted",
            ) from None
        Option.objects.filter(pk=option.pk).update(count=F("count") + 1)
    return t


@dataclass(frozen=True)
class SheetIn:
    counts: Mapping[int, int]  # option id → ballots for it
    invalid: int
    voter_ids: Sequence[int]  # the roll entries checked off as having voted on paper


def vote_paper(*, vote: Vote, by: User, sheet: SheetIn, note: str = "", key: str = "") -> Sheet:
    """A paper tally sheet: the totals per option and the spoilt ballots must add up to the roll entries
    checked off; any of them already voted (online or on another sheet) refuses the whole sheet."""
    _managed(by, vote, _("vote"))
    note = _text(note, "note", max_len=200, line=True, min_len=0)
    ids = list(dict.fromkeys(sheet.voter_ids))
    if len(ids) != len(sheet.voter_ids):
        raise _invalid("voter_ids", _("A household or person is checked off twice."), "sheet.twice")
    if not ids:
        raise _invalid("voter_ids", _("Check off who voted on paper."), "sheet.empty")
    if sheet.invalid < 0 or any(n < 0 for n in sheet.counts.values()):
        raise _invalid("counts", _("Counts are whole numbers, 0 or more."), "sheet.bad_count")
    total = sum(sheet.counts.values()) + sheet.invalid
    if total != len(ids):
        raise _invalid(
            "counts",
            _("The ballots (%(ballots)s) must equal those checked off (%(ticked)s).")
            % {"ballots": total, "ticked": len(ids)},
            "sheet.unbalanced",
        )
    with transaction.atomic():
        if key:
            done = Sheet.objects.filter(vote=vote, idempotency_key=key).first()
            if done is not None:
                return done
        v = _locked_open(vote)
        if total > v.eligible - Turnout.objects.filter(vote=v).count():
            raise _invalid(
                "counts", _("More ballots than those on the roll who have not voted yet."), "sheet.exceeds_roll"
            )
        opts = {o.pk: o for o in Option.objects.filter(vote=v)}
        if set(sheet.counts) - set(opts):
            raise _invalid("counts", _("No such option in this vote."), "vote.bad_option")
        roll = {x.pk: x for x in Voter.objects.filter(vote=v, pk__in=ids).select_related("turnout")}
        if len(roll) != len(ids):
            raise _invalid(
                "voter_ids", _("Some of those checked off are not on this vote's roll."), "sheet.not_on_roll"
            )
        already = [x.label for x in roll.values() if hasattr(x, "turnout")]
        if already:
            raise Conflict(
                _("Already voted: %(who)s. Nothing was entered; take them off the sheet and check the paper ballots.")
                % {"who": _("; ").join(already[:5]) + ("…" if len(already) > 5 else "")},
                code="vote.already_voted",
            )
        s = Sheet.objects.create(
            vote=v,
            counts={str(k): n for k, n in sheet.counts.items()},
            invalid=sheet.invalid,
            ballots=total,
            note=note,
            entered_by=by,
            entered_at=now(),
            idempotency_key=key,
        )
        try:
            with transaction.atomic():
                Turnout.objects.bulk_create(
                    [Turnout(vote=v, voter_id=i, channel=Turnout.Channel.PAPER, sheet=s) for i in ids]
                )
        except IntegrityError:
            raise Conflict(
                _("Someone on the sheet has just voted online. Nothing was entered."), code="vote.already_voted"
            ) from None
        for oid, n in sheet.counts.items():
            if n:
                Option.objects.filter(pk=oid).update(count=F("count") + n)
        if sheet.invalid:
            Vote.objects.filter(pk=v.pk).update(invalid=F("invalid") + sheet.invalid)
    return s


@dataclass(frozen=True)
class Result:
    eligible: int
    turnout: int
    invalid: int
    valid: int
    quorum_met: bool
    needed: int  # ballots the quorum asks for
    winner: Option | None
    outcome: str


def quorum_needed(quorum: str, eligible: int) -> int:
    """The fewest roll entries that must take part: more than half, or at least two thirds (exactly 2/3 does)."""
    if quorum == Vote.Quorum.HALF:
        return eligible // 2 + 1
    if quorum == Vote.Quorum.TWO_THIRDS:
        return -(-2 * eligible // 3)
    return 0


def wins(threshold: str, votes: int, valid: int) -> bool:
    """Whether an option's `votes` of the `valid` ballots meet the threshold (exactly 2/3 does)."""
    if valid == 0:
        return False
    if threshold == Vote.Threshold.TWO_THIRDS:
        return 3 * votes >= 2 * valid
    return 2 * votes > valid


def compute(vote: Vote, opts: list[Option], turnout: int, invalid: int) -> Result:
    valid = sum(o.count for o in opts)
    needed = quorum_needed(vote.quorum, vote.eligible)
    met = turnout >= needed and turnout > 0
    top = max((o.count for o in opts), default=0)
    leaders = [o for o in opts if o.count == top]
    winner = leaders[0] if len(leaders) == 1 and wins(vote.threshold, top, valid) else None
    if not met:
        outcome = Vote.Outcome.NO_QUORUM
    elif winner is not None and (winner.approves or not any(o.approves for o in opts)):
        outcome = Vote.Outcome.PASSED
    else:
        outcome = Vote.Outcome.FAILED
    return Result(vote.eligible, turnout, invalid, valid, met, needed, winner if met else None, outcome)


def vote_count(*, vote: Vote, by: User) -> Result:
    """Count once online voting has closed (paper sheets are entered before): the result is frozen and
    published with the turnout; the matter passes or not, a draft of the rules comes in force or not."""
    _managed(by, vote, _("vote"))
    with transaction.atomic():
        v = Vote.objects.select_for_update().get(pk=vote.pk)
        if v.state == Vote.State.OPEN and now() < v.closes_at:
            raise Conflict(
                _("Online voting is still open until %(at)s.")
                % {"at": f"{v.closes_at.astimezone(SHANGHAI):%m-%d %H:%M}"},
                code="vote.still_open",
            )
        opts = list(Option.objects.filter(vote=v).order_by("sort"))
        turnout = Turnout.objects.filter(vote=v).count()
        r = compute(v, opts, turnout, v.invalid)
        VOTE.move(
            v, "count", fields={"counted_at": now(), "turnout": turnout, "outcome": r.outcome, "winner": r.winner}
        )
        passed = r.outcome == Vote.Outcome.PASSED
        if v.matter_id is not None:
            MATTER.move(
                Matter.objects.get(pk=v.matter_id),
                "decide",
                "passed" if passed else "failed",
                fields={"decided_at": now()},
            )
        if v.rules_id is not None:
            rules = RulesVersion.objects.get(pk=v.rules_id)
            if passed:
                for old in RulesVersion.objects.filter(village_id=rules.village_id, state="adopted"):
                    RULES.move(old, "supersede")
            RULES.move(
                rules, "decide", "adopted" if passed else "rejected", fields={"adopted_at": now() if passed else None}
            )
    vote.refresh_from_db()
    return r


def vote_cancel(*, vote: Vote, by: User, reason: str) -> Vote:
    """Cancel a vote before it is counted (set up wrongly): its matter goes back on the agenda."""
    _managed(by, vote, _("vote"))
    reason = _text(reason, "reason", max_len=200, line=True, min_len=2)
    with transaction.atomic():
        v = Vote.objects.select_for_update().get(pk=vote.pk)
        was_open = v.state == Vote.State.OPEN
        VOTE.move(v, "cancel", fields={"cancel_reason": reason})
        if was_open and v.matter_id is not None:
            MATTER.move(Matter.objects.get(pk=v.matter_id), "unvote")
        if was_open and v.rules_id is not None:
            RULES.move(RulesVersion.objects.get(pk=v.rules_id), "unvote")
    vote.refresh_from_db()
    return vote


# --- 民事民办 and 民事民评 ------------------------------------------------------------------------------------------


def matter_start(*, matter: Matter, by: User) -> Matter:
    _managed(by, matter, _("matter"))
    with transaction.atomic():
        MATTER.move(matter, "start")
    return matter


def _doing(matter: Matter, by: User) -> None:
    _managed(by, matter, _("matter"))
    if matter.state not in (Matter.State.PASSED, Matter.State.DOING):
        raise Conflict(
            _("Only a matter passed and being carried out has tasks, budget and spending."), code="matter.not_doing"
        )


def task_add(*, matter: Matter, by: User, title: str, responsible: str, due: dt.date | None = None) -> Task:
    _doing(matter, by)
    return Task.objects.create(
        matter=matter,
        title=_text(title, "title", max_len=120, line=True),
        responsible=_text(responsible, "responsible", max_len=60, line=True),
        due=due,
    )


def task_done(*, task: Task, by: User) -> Task:
    _doing(task.matter, by)
    if not Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now()):
        raise Conflict(_("This task is already done."), code="task.done")
    task.refresh_from_db()
    return task


def budget_add(*, matter: Matter, by: User, item: str, amount: Any) -> BudgetLine:
    _doing(matter, by)
    return BudgetLine.objects.create(
        matter=matter, item=_text(item, "item", max_len=120, line=True), amount=_money(amount, "amount")
    )


def spending_add(
    *, matter: Matter, by: User, line: BudgetLine, amount: Any, spent_on: dt.date, payee: str, note: str = ""
) -> Spending:
    """Money spent on a budget line (never more than the line): it shows in the village's finance posting."""
    _doing(matter, by)
    if line.matter_id != matter.pk:
        raise _invalid("line_id", _("No such budget line of this matter."), "spending.bad_line")
    amount = _money(amount, "amount")
    if spent_on > today() or spent_on < matter.created_at.date() - dt.timedelta(days=366):
        raise _invalid("spent_on", _("Enter the day it was paid (not in the future)."), "spending.bad_day")
    payee = _text(payee, "payee", max_len=120, line=True)
    note = _text(note, "note", max_len=200, line=True, min_len=0)
    with transaction.atomic():
        locked = BudgetLine.objects.select_for_update().get(pk=line.pk)
        spent = locked.spendings.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        if spent + amount > locked.amount:
            raise Conflict(
                _("This is more than is left on the budget line (%(left)s yuan).") % {"left": locked.amount - spent},
                code="spending.over_budget",
            )
        return Spending.objects.create(
            matter=matter,
            line=locked,
            path=matter.village.path,
            amount=amount,
            spent_on=spent_on,
            payee=payee,
            note=note,
            entered_by=by,
            entered_at=now(),
        )


def update_add(*, matter: Matter, by: User, text: str, photos: Sequence[Any] = ()) -> Update:
    _doing(matter, by)
    text = _text(text, "text", max_len=1000, min_len=2)
    with transaction.atomic():
        u = Update.objects.create(matter=matter, text=text, by=by, at=now())
        _photos(update=u, uploads=photos)
    return u


def matter_finish(*, matter: Matter, by: User) -> Matter:
    """Carried out: the residents are asked to rate it."""
    _managed(by, matter, _("matter"))
    if matter.tasks.filter(done_at__isnull=True).exists():
        raise Conflict(_("Some tasks are not done yet."), code="matter.tasks_open")
    with transaction.atomic():
        MATTER.move(matter, "finish", fields={"done_at": now()})
    return matter


def rating_add(*, matter: Matter, by: User, stars: int, comment: str = "") -> Rating:
    resident = _resident(by, None)
    _lives_under(resident, matter)
    if matter.state != Matter.State.DONE:
        raise Conflict(_("A matter is rated once it is done."), code="matter.not_done")
    if not 1 <= stars <= 5:
        raise _invalid("stars", _("Rate from 1 to 5 stars."), "rating.bad_stars")
    comment = _text(comment, "comment", max_len=300, line=True, min_len=0)
    try:
        with transaction.atomic():
            return Rating.objects.create(matter=matter, resident=resident, stars=stars, comment=comment, at=now())
    except IntegrityError:
        raise Conflict(_("You have already rated this matter."), code="rating.already") from None


# --- 三公开 ------------------------------------------------------------------------------------------------------


def disclosure_publish(
    *, by: User, village: Node, kind: str, period: str, title: str, body: str, corrects: Disclosure | None = None
) -> Disclosure:
    """Post the village's party affairs, village affairs or finance for a period; a posting is never changed:
    a correction is a new posting naming the one it corrects."""
    if village.level != Level.VILLAGE or not selectors.manages(by, village):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    if kind not in Disclosure.Kind.values:
        raise _invalid("kind", _("Choose one of the options offered."), "disclosure.bad_kind")
    period = _text(period, "period", max_len=7, line=True)
    bounds = selectors.period_bounds(period)
    if bounds is None:
        raise _invalid("period", _("A period is a month (2026-11) or a quarter (2026-Q4)."), "disclosure.bad_period")
    if bounds[0] > today():
        raise _invalid("period", _("That period has not begun."), "disclosure.bad_period")
    if corrects is not None and (corrects.village_id != village.pk or corrects.kind != kind):
        raise _invalid("corrects_id", _("Correct a posting of the same village and kind."), "disclosure.bad_correction")
    return Disclosure.objects.create(
        village=village,
        path=village.path,
        kind=kind,
        period=period,
        title=_text(title, "title", max_len=80, line=True, min_len=2),
        body=_text(body, "body", max_len=10000),
        corrects=corrects,
        published_by=by,
        published_at=now(),
    )


def question_ask(*, disclosure: Disclosure, by: User, text: str) -> Question:
    """质询: a resident of the village asks about a posting; the question and its answer are public."""
    resident = _resident(by, None)
    if not resident.path.startswith(disclosure.path):
        raise PermissionDenied(_("Only residents of the village can ask."), code="disclosure.not_resident")
    text = _text(text, "text", max_len=500, min_len=4)
    return Question.objects.create(disclosure=disclosure, asker=resident, text=text, asked_at=now())


def question_answer(*, question: Question, by: User, answer: str) -> Question:
    _managed(by, question.disclosure, _("posting"))
    answer = _text(answer, "answer", max_len=2000, min_len=2)
    with transaction.atomic():
        QUESTION.move(question, "answer", fields={"answer": answer, "answered_by": by, "answered_at": now()})
    return question


# --- 村规民约 -----------------------------------------------------------------------------------------------------


def rules_draft(*, by: User, village: Node, text: str, summary: str) -> RulesVersion:
    """A new version of the village rules, to be put to a vote."""
    if village.level != Level.VILLAGE or not selectors.manages(by, village):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    text = _text(text, "text", max_len=20000, min_len=10)
    summary = _text(summary, "summary", max_len=300, line=True, min_len=2)
    with transaction.atomic():
        list(Node.objects.select_for_update().filter(pk=village.pk))
        if RulesVersion.objects.filter(village=village, state__in=["draft", "voting"]).exists():
            raise Conflict(_("A new version is already being prepared or voted on."), code="rules.pending")
        last = RulesVersion.objects.filter(village=village).order_by("-number").values_list("number", flat=True).first()
        return RulesVersion.objects.create(
            village=village,
            path=village.path,
            number=(last or 0) + 1,
            text=text,
            summary=summary,
            written_by=by,
            created_at=now(),
        )


def rules_record(*, by: User, village: Node, text: str, adopted_on: dt.date) -> RulesVersion:
    """The rules a village already had before Gongzhi, recorded as version 1 in force (only where none is)."""
    if village.level != Level.VILLAGE or not selectors.manages(by, village):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    text = _text(text, "text", max_len=20000, min_len=10)
    if adopted_on > today():
        raise _invalid("adopted_on", _("Enter the day they were adopted (not in the future)."), "rules.bad_day")
    with transaction.atomic():
        list(Node.objects.select_for_update().filter(pk=village.pk))
        if RulesVersion.objects.filter(village=village).exists():
            raise Conflict(_("This village's rules are already recorded."), code="rules.exists")
        at = dt.datetime.combine(adopted_on, dt.time(12), tzinfo=SHANGHAI)
        return RulesVersion.objects.create(
            village=village,
            path=village.path,
            number=1,
            text=text,
            summary=_("The rules in force before"),
            state=RulesVersion.State.ADOPTED,
            written_by=by,
            created_at=now(),
            adopted_at=at,
        )


def setting_update(*, by: User, village: Node, **values: Any) -> VillageSetting:
    if village.level != Level.VILLAGE or not selectors.manages(by, village):
        raise NotFound(_("No such village in your area."), code="node.not_found")
    s = selectors.setting_for(village)
    for field, value in values.items():
        if value is None:
            continue
        if field == "cosign_threshold" and not 1 <= int(value) <= 500:
            raise _invalid(field, _("From 1 to 500 signatures."), "setting.bad_threshold")
        if field == "due_day" and not 1 <= int(value) <= 28:
            raise _invalid(field, _("A day from 1 to 28."), "setting.bad_day")
        if field.endswith("_every") and value not in VillageSetting.Every.values:
            raise _invalid(field, _("Choose one of the options offered."), "setting.bad_every")
        setattr(s, field, value)
    s.save()
    return s
