"""Village deliberation (五民工作法): matters residents propose (民事民提), discuss (民事民议), decide by vote
(民事民决), carry out (民事民办) and evaluate (民事民评); the village's 三公开 postings and its rules (村规民约).

Votes are kept so that they are exact and, when secret, unlinkable:
- the roll (`Voter`: a household or a person) is frozen when the vote opens, with the residents who may cast
  each entry's ballot online (`Elector`: the adults of a household, or the person);
- `Turnout` is the ballot stored, one per roll entry by a unique constraint, online and paper alike: who voted
  and how (online or on paper); its option only for an open ballot;
- `Option.count` is the tally, raised in the same transaction as the turnout row. A secret ballot leaves no row
  that joins a voter to an option: there is nothing to link, in the admin or in the database."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Household, Node, PathField, Resident


class VillageSetting(models.Model):
    """What a village decides for itself: how many co-signatures put a matter on the agenda, and how often
    each of the 三公开 is posted."""

    class Every(models.TextChoices):
        MONTH = "month", _("monthly")
        QUARTER = "quarter", _("quarterly")

    village = models.OneToOneField(
        Node, on_delete=models.CASCADE, related_name="deliberation_setting", verbose_name=_("village")
    )
    cosign_threshold = models.PositiveSmallIntegerField(_("co-signatures for the agenda"), default=10)
    party_every = models.CharField(
        _("party affairs posted"), max_length=8, choices=Every.choices, default=Every.QUARTER
    )
    affairs_every = models.CharField(
        _("village affairs posted"), max_length=8, choices=Every.choices, default=Every.MONTH
    )
    finance_every = models.CharField(_("finance posted"), max_length=8, choices=Every.choices, default=Every.MONTH)
    due_day = models.PositiveSmallIntegerField(_("posted by day of the next period"), default=10)

    class Meta:
        verbose_name = _("village deliberation setting")
        verbose_name_plural = _("village deliberation settings")
        constraints = [
            models.CheckConstraint(condition=Q(cosign_threshold__gte=1), name="setting_threshold_positive"),
            models.CheckConstraint(condition=Q(due_day__gte=1, due_day__lte=28), name="setting_due_day_in_month"),
        ]

    def __str__(self) -> str:
        return str(self.village)


class Matter(models.Model):
    class State(models.TextChoices):
        PROPOSED = "proposed", _("collecting signatures")
        AGENDA = "agenda", _("on the agenda")
        VOTING = "voting", _("being voted on")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("not passed")
        DOING = "doing", _("being carried out")
        DONE = "done", _("done")
        DECLINED = "declined", _("declined")
        MERGED = "merged", _("merged")

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="matters", verbose_name=_("village or grid"))
    path = PathField(_("path"))
    title = models.CharField(_("title"), max_length=80)
    body = models.TextField(_("what and why"), max_length=5000)
    cost = models.DecimalField(_("estimated cost (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True)
    proposer = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PROPOSED)
    cosigns = models.PositiveIntegerField(_("co-signatures"), default=0)
    created_at = models.DateTimeField(_("proposed at"))
    agenda_at = models.DateTimeField(_("put on the agenda at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    reason = models.CharField(_("public reason"), max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged", verbose_name=_("merged into")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("matter")
        verbose_name_plural = _("matters")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["path", "state"], name="matter_path_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["entered_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="matter_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(cost__isnull=True) | Q(cost__gte=0), name="matter_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title


class Cosign(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="signatures", verbose_name=_("matter"))
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident"))
    at = models.DateTimeField(_("signed at"))

    class Meta:
        verbose_name = _("co-signature")
        verbose_name_plural = _("co-signatures")
        constraints = [models.UniqueConstraint(fields=["matter", "resident"], name="cosign_once")]

    def __str__(self) -> str:
        return f"{self.matter} · {self.resident}"


class Comment(models.Model):
    """民事民议 online: hidden by village staff with a reason, never deleted."""

    class State(models.TextChoices):
        SHOWN = "shown", _("shown")
        HIDDEN = "hidden", _("hidden")

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="comments", verbose_name=_("matter"))
    author = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("resident")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("written by")
    )
    text = models.TextField(_("comment"), max_length=1000)
    at = models.DateTimeField(_("written at"))
    state = models.CharField(_("state"), max_length=6, choices=State.choices, default=State.SHOWN)
    hidden_reason = models.CharField(_("reason for hiding"), max_length=200, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hidden by"),
    )
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.text[:30]


class Meeting(models.Model):
    """议事会 held in the 阳光议事厅: recorded by staff, with who came by household."""

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    path = PathField(_("path"))
    matter = models.ForeignKey(
        Matter, on_delete=models.PROTECT, null=True, blank=True, related_name="meetings", verbose_name=_("matter")
    )
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=120)
    minutes = models.TextField(_("minutes"), max_length=10000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("deliberation meeting")
        verbose_name_plural = _("deliberation meetings")
        ordering = ["-held_at", "-id"]

    def __str__(self) -> str:
        return f"{self.place} {self.held_at:%Y-%m-%d}"


class Attendance(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance", verbose_name=_("meeting"))
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("household"))
    people = models.PositiveSmallIntegerField(_("people who came"), default=1)

    class Meta:
        verbose_name = _("meeting attendance")
        verbose_name_plural = _("meeting attendance")
        constraints = [models.UniqueConstraint(fields=["meeting", "household"], name="meeting_household_once")]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.household}"


class RulesVersion(models.Model):
    """村规民约: one text per version; a draft is adopted by a vote and supersedes the one before."""

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        VOTING = "voting", _("being voted on")
        ADOPTED = "adopted", _("in force")
        REJECTED = "rejected", _("not adopted")
        SUPERSEDED = "superseded", _("superseded")

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    path = PathField(_("path"))
    number = models.PositiveIntegerField(_("version"))
    text = models.TextField(_("text"), max_length=20000)
    summary = models.CharField(_("what changes"), max_length=300)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("written by")
    )
    created_at = models.DateTimeField(_("written at"))
    adopted_at = models.DateTimeField(_("adopted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("village rules version")
        verbose_name_plural = _("village rules")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["village", "number"], name="rules_version_number"),
            models.UniqueConstraint(fields=["village"], condition=Q(state="adopted"), name="rules_one_in_force"),
        ]

    def __str__(self) -> str:
        return f"{self.village} v{self.number}"


class Vote(models.Model):
    class Per(models.TextChoices):
        HOUSEHOLD = "household", _("one vote per household")
        PERSON = "person", _("one vote per resident aged 18 or over")

    class Quorum(models.TextChoices):
        NONE = "none", _("no quorum")
        HALF = "half", _("more than half take part")
        TWO_THIRDS = "two_thirds", _("at least two thirds take part")

    class Threshold(models.TextChoices):
        MAJORITY = "majority", _("more than half of the votes cast")
        TWO_THIRDS = "two_thirds", _("at least two thirds of the votes cast")

    class State(models.TextChoices):
        DRAFT = "draft", _("not yet open")
        OPEN = "open", _("voting under way")
        COUNTED = "counted", _("counted and published")
        CANCELLED = "cancelled", _("cancelled")

    class Outcome(models.TextChoices):
        PASSED = "passed", _("passed")
        FAILED = "failed", _("not passed")
        NO_QUORUM = "no_quorum", _("quorum not reached")

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="votes", verbose_name=_("who votes: the area")
    )
    path = PathField(_("path"))
    matter = models.ForeignKey(
        Matter, on_delete=models.PROTECT, null=True, blank=True, related_name="votes", verbose_name=_("matter")
    )
    rules = models.ForeignKey(
        RulesVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="votes",
        verbose_name=_("village rules version"),
    )
    question = models.CharField(_("question"), max_length=200)
    per = models.CharField(_("who votes"), max_length=10, choices=Per.choices, default=Per.HOUSEHOLD)
    quorum = models.CharField(_("quorum"), max_length=10, choices=Quorum.choices, default=Quorum.TWO_THIRDS)
    threshold = models.CharField(_("to pass"), max_length=10, choices=Threshold.choices, default=Threshold.MAJORITY)
    secret = models.BooleanField(_("secret ballot"), default=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    closes_at = models.DateTimeField(_("online voting closes at"))
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("set up by")
    )
    created_at = models.DateTimeField(_("set up at"))
    # The result, frozen when counted.
    eligible = models.PositiveIntegerField(_("eligible"), default=0)
    turnout = models.PositiveIntegerField(_("took part"), default=0)
    invalid = models.PositiveIntegerField(_("invalid paper ballots"), default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    winner = models.ForeignKey(
        "Option", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("winning option")
    )
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["path", "state"], name="vote_path_state")]

    def __str__(self) -> str:
        return self.question


class Option(models.Model):
    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="options", verbose_name=_("vote"))
    label = models.CharField(_("option"), max_length=60)
    sort = models.PositiveSmallIntegerField(_("order"))
    approves = models.BooleanField(_("approves the matter"), default=False)
    count = models.PositiveIntegerField(_("votes"), default=0)

    class Meta:
        verbose_name = _("vote option")
        verbose_name_plural = _("vote options")
        ordering = ["vote", "sort"]
        constraints = [models.UniqueConstraint(fields=["vote", "sort"], name="option_sort_once")]

    def __str__(self) -> str:
        return self.label


class Voter(models.Model):
    """An entry of the roll, frozen when the vote opens: a household, or a person (with their household)."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="roll", verbose_name=_("vote"))
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("household"))
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("resident")
    )
    path = PathField(_("path"), db_index=False)  # the household's grid at opening: the check-off list by grid
    label = models.CharField(_("on the roll as"), max_length=240)

    class Meta:
        verbose_name = _("roll entry")
        verbose_name_plural = _("roll")
        ordering = ["vote", "path", "id"]
        indexes = [models.Index(fields=["vote", "path", "id"], name="voter_vote_path")]
        constraints = [
            models.UniqueConstraint(
                fields=["vote", "household"], condition=Q(resident__isnull=True), name="voter_household_once"
            ),
            models.UniqueConstraint(
                fields=["vote", "resident"], condition=Q(resident__isnull=False), name="voter_person_once"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Elector(models.Model):
    """Who may cast a roll entry's ballot online: frozen at opening, so moving in later gives no vote and
    moving out later takes none away."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="+", verbose_name=_("vote"))
    voter = models.ForeignKey(Voter, on_delete=models.CASCADE, related_name="electors", verbose_name=_("roll entry"))
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+", verbose_name=_("resident"))

    class Meta:
        verbose_name = _("elector")
        verbose_name_plural = _("electors")
        constraints = [models.UniqueConstraint(fields=["vote", "resident"], name="elector_once")]

    def __str__(self) -> str:
        return f"{self.voter} · {self.resident_id}"


class Sheet(models.Model):
    """A paper tally sheet entered by staff: the totals per option, the spoilt ballots, and the roll entries
    checked off as having voted on paper."""

    vote = models.ForeignKey(Vote, on_delete=models.PROTECT, related_name="sheets", verbose_name=_("vote"))
    counts = models.JSONField(_("votes per option"))
    invalid = models.PositiveIntegerField(_("invalid ballots"), default=0)
    ballots = models.PositiveIntegerField(_("ballots"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    entered_at = models.DateTimeField(_("entered at"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("paper tally sheet")
        verbose_name_plural = _("paper tally sheets")
        constraints = [
            models.UniqueConstraint(
                fields=["vote", "idempotency_key"], condition=~Q(idempotency_key=""), name="sheet_idempotency_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vote} · {self.ballots}"


class Turnout(models.Model):
    """The ballot stored: one per roll entry (the unique constraint), online or on paper. `option` is kept
    for an open ballot only; a secret ballot's choice is only in the option's count."""

    class Channel(models.TextChoices):
        ONLINE = "online", _("online")
        PAPER = "paper", _("on paper")

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="turnouts", verbose_name=_("vote"))
    voter = models.OneToOneField(Voter, on_delete=models.CASCADE, related_name="turnout", verbose_name=_("roll entry"))
    channel = models.CharField(_("how"), max_length=6, choices=Channel.choices)
    option = models.ForeignKey(
        Option,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("option (open ballots)"),
    )
    sheet = models.ForeignKey(
        Sheet, on_delete=models.PROTECT, null=True, blank=True, related_name="turnouts", verbose_name=_("tally sheet")
    )
    cast_by = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("cast by")
    )

    class Meta:
        verbose_name = _("ballot cast")
        verbose_name_plural = _("ballots cast")
        ordering = ["vote", "voter"]  # never by id or time: a secret ballot's order says nothing
        indexes = [models.Index(fields=["vote", "channel"], name="turnout_vote_channel")]

    def __str__(self) -> str:
        return str(self.voter)


class Task(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("matter"))
    title = models.CharField(_("task"), max_length=120)
    responsible = models.CharField(_("responsible"), max_length=60)
    due = models.DateField(_("due"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["matter", "id"]

    def __str__(self) -> str:
        return self.title


class BudgetLine(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="budget", verbose_name=_("matter"))
    item = models.CharField(_("item"), max_length=120)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")
        ordering = ["matter", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="budget_line_positive")]

    def __str__(self) -> str:
        return self.item


class Spending(models.Model):
    """Money spent on a matter: feeds the village's finance disclosure of its period."""

    matter = models.ForeignKey(Matter, on_delete=models.PROTECT, related_name="spendings", verbose_name=_("matter"))
    line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, related_name="spendings", verbose_name=_("budget line")
    )
    path = PathField(_("path"))  # the village: the finance disclosure reads by village and day
    amount = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2)
    spent_on = models.DateField(_("spent on"))
    payee = models.CharField(_("paid to"), max_length=120)
    note = models.CharField(_("note"), max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    entered_at = models.DateTimeField(_("entered at"))

    class Meta:
        verbose_name = _("spending")
        verbose_name_plural = _("spendings")
        ordering = ["-spent_on", "-id"]
        indexes = [models.Index(fields=["path", "spent_on"], name="spending_path_day")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="spending_positive")]

    def __str__(self) -> str:
        return f"{self.payee} {self.amount}"


class Update(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="updates", verbose_name=_("matter"))
    text = models.TextField(_("progress"), max_length=1000)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("written by")
    )
    at = models.DateTimeField(_("written at"))

    class Meta:
        verbose_name = _("progress update")
        verbose_name_plural = _("progress updates")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.text[:30]


class Photo(models.Model):
    """A photo of a proposal, a meeting or a progress update."""

    matter = models.ForeignKey(
        Matter, on_delete=models.CASCADE, null=True, blank=True, related_name="photos", verbose_name=_("matter")
    )
    meeting = models.ForeignKey(
        Meeting, on_delete=models.CASCADE, null=True, blank=True, related_name="photos", verbose_name=_("meeting")
    )
    update = models.ForeignKey(
        Update,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("progress update"),
    )
    file = models.FileField(_("photo"), upload_to="deliberation/%Y/%m/")
    at = models.DateTimeField(_("taken in at"))

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            models.CheckConstraint(
                condition=Q(matter__isnull=False) | Q(meeting__isnull=False) | Q(update__isnull=False),
                name="photo_belongs_somewhere",
            )
        ]

    def __str__(self) -> str:
        return self.file.name


class Rating(models.Model):
    """民事民评: a resident's rating of a matter carried out (1–5), once."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="ratings", verbose_name=_("matter"))
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident"))
    stars = models.PositiveSmallIntegerField(_("rating"))
    comment = models.CharField(_("comment"), max_length=300, blank=True)
    at = models.DateTimeField(_("rated at"))

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(fields=["matter", "resident"], name="rating_once"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_one_to_five"),
        ]

    def __str__(self) -> str:
        return f"{self.matter} · {self.stars}"


class Disclosure(models.Model):
    """三公开: a posting of party affairs, village affairs or finance for a period; never changed, a
    correction is a new posting that names the one it corrects."""

    class Kind(models.TextChoices):
        PARTY = "party", _("party affairs")
        AFFAIRS = "affairs", _("village affairs")
        FINANCE = "finance", _("finance")

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    path = PathField(_("path"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    period = models.CharField(_("period"), max_length=7)  # "2026-11" or "2026-Q4"
    title = models.CharField(_("title"), max_length=80)
    body = models.TextField(_("text"), max_length=10000)
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections", verbose_name=_("corrects")
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("published by")
    )
    published_at = models.DateTimeField(_("published at"))

    class Meta:
        verbose_name = _("disclosure")
        verbose_name_plural = _("disclosures (三公开)")
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["path", "kind", "period"], name="disclosure_path_kind")]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """质询: a resident's question about a posting, answered publicly by the village."""

    class State(models.TextChoices):
        ASKED = "asked", _("waiting for an answer")
        ANSWERED = "answered", _("answered")

    disclosure = models.ForeignKey(
        Disclosure, on_delete=models.PROTECT, related_name="questions", verbose_name=_("disclosure")
    )
    asker = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", verbose_name=_("asked by"))
    text = models.CharField(_("question"), max_length=500)
    asked_at = models.DateTimeField(_("asked at"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.ASKED)
    answer = models.TextField(_("answer"), max_length=2000, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("question about a disclosure")
        verbose_name_plural = _("questions about disclosures")
        ordering = ["asked_at", "id"]

    def __str__(self) -> str:
        return self.text[:30]
