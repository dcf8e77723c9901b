"""The lifecycles of village deliberation (core.fsm).

A matter: proposed (collecting co-signatures) → on the agenda (by enough signatures, or by the committee) →
voted on → passed or not passed → carried out → done; declined (with a public reason) or merged into another
while proposed or on the agenda; a matter not passed may go back on the agenda.
A vote: not yet open → open (the roll frozen) → counted and published; cancelled before it is counted.
Village rules: a draft → being voted on → in force (the one before superseded) or not adopted.
A comment: shown → hidden (with a reason, never deleted). A question about a disclosure: asked → answered."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

MATTER: Machine = register(
    Machine(
        name="matter",
        model="deliberation.Matter",
        transitions=table(
            ("agenda", ("proposed", "failed"), "agenda"),
            ("decline", ("proposed", "agenda"), "declined"),
            ("merge", ("proposed", "agenda"), "merged"),
            ("vote", "agenda", "voting"),
            ("decide", "voting", ("passed", "failed")),
            ("unvote", "voting", "agenda"),
            ("start", "passed", "doing"),
            ("finish", "doing", "done"),
        ),
        refused=_("This matter cannot be changed so now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)

VOTE: Machine = register(
    Machine(
        name="vote",
        model="deliberation.Vote",
        transitions=table(
            ("open", "draft", "open"),
            ("count", "open", "counted"),
            ("cancel", ("draft", "open"), "cancelled"),
        ),
        refused=_("This vote cannot be changed so now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)

RULES: Machine = register(
    Machine(
        name="rules",
        model="deliberation.RulesVersion",
        transitions=table(
            ("vote", "draft", "voting"),
            ("decide", "voting", ("adopted", "rejected")),
            ("unvote", "voting", "draft"),
            ("supersede", "adopted", "superseded"),
        ),
        refused=_("This version of the village rules cannot be changed so now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)

COMMENT: Machine = register(
    Machine(
        name="comment",
        model="deliberation.Comment",
        transitions=table(("hide", "shown", "hidden")),
        refused=_("This comment is already hidden."),
        refused_code="comment.hidden",
        recheck=True,
        decide_on_row=True,
    )
)

QUESTION: Machine = register(
    Machine(
        name="question",
        model="deliberation.Question",
        transitions=table(("answer", "asked", "answered")),
        refused=_("This question is already answered."),
        refused_code="question.answered",
        recheck=True,
        decide_on_row=True,
    )
)
