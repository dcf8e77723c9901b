"""Deliberation pages, Chinese first and for a phone: a resident sees their village's matters, signs, comments,
votes with one big button per option, reads the 三公开 and the village rules; the committee runs the agenda,
votes (the roll to check paper ballots off), meetings, the work and the postings. Writes go through
deliberation.services; a refusal is a message, bad input changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from core.forms import bind
from core.pages import attempt, gate, local_datetime, new_key, to_int
from deliberation import forms, selectors, services
from deliberation.models import Comment, Disclosure, Matter, Meeting, Photo, Question, Task, Vote
from org.access import paths_q, residents_for
from org.models import Household, Level, Node


def _village_page(request: AuthedRequest) -> tuple[Node, bool]:
    """A village page that the committee also posts to: the village and whether the user manages it; 404 for
    no village, and for a post by anyone else."""
    village = _village(request)
    if village is None:
        raise Http404
    manages = selectors.manages(request.user, village)
    if request.method == "POST" and not manages:
        raise Http404
    return village, manages


def _village(request: AuthedRequest) -> Node | None:
    """The village a page is about: ?village= among the user's, else their own, else their first."""
    villages = selectors.my_villages(request.user)
    wanted = to_int(request.GET.get("village"))
    if wanted:
        for v in villages:
            if v.pk == wanted:
                return v
        raise Http404
    own = selectors.own_resident(request.user)
    if own is not None:
        for v in villages:
            if own.path.startswith(v.path):
                return v
    return villages[0] if villages else None


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """阳光议事厅: the village's matters by stage, its open votes, and the way to propose."""
    village = _village(request)
    if village is None:
        raise Http404
    matters = list(selectors.matters_for(request.user, village_id=village.pk)[:200])
    signed = selectors.signed(request.user, matters)
    stages: dict[str, list[Any]] = {"signing": [], "deciding": [], "doing": [], "done": [], "closed": []}
    for m in matters:
        key = {
            "proposed": "signing",
            "agenda": "deciding",
            "voting": "deciding",
            "passed": "doing",
            "doing": "doing",
            "done": "done",
        }.get(m.state, "closed")
        stages[key].append({"m": m, "signed": m.pk in signed})
    votes = list(selectors.votes_for(request.user).filter(village=village, state__in=["open", "draft", "counted"])[:20])
    ballots = selectors.my_ballots(request.user, votes)
    rows = [
        {"v": v, "b": ballots.get(v.pk, selectors.NO_BALLOT)}
        for v in votes
        if v.state != Vote.State.DRAFT or selectors.manages(request.user, v)
    ]
    manages = selectors.manages(request.user, village)
    return render(
        request,
        "deliberation/home.html",
        {
            "village": village,
            "villages": selectors.my_villages(request.user),
            "stages": stages,
            "votes": rows,
            "manages": manages,
            "watches": bool(selectors.watch_paths(request.user)),
            "proposes": selectors.own_resident(request.user) is not None or bool(selectors.proxy_paths(request.user)),
            "threshold": selectors.setting_for(village).cosign_threshold,
        },
    )


def _proxied(request: AuthedRequest) -> Any:
    paths = tuple(sorted({*selectors.proxy_paths(request.user), *selectors.manage_paths(request.user)}))
    if not paths:
        return []
    return (
        residents_for(request.user)
        .filter(paths_q(paths, "path"))
        .select_related("household")
        .order_by("path", "household_id", "id")[:500]
    )


@login_required
@require_http_methods(["GET", "POST"])
def propose(request: AuthedRequest) -> HttpResponse:
    """民事民提 on a phone: a title, what and why, a rough cost, up to three photos."""
    own = selectors.own_resident(request.user)
    proxied = _proxied(request)
    if own is None and not proxied:
        raise Http404
    form = forms.ProposeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, form.error_text())
        else:
            d = form.cleaned_data
            who = None
            if d["resident"]:
                who = residents_for(request.user).filter(pk=d["resident"]).first()
                if who is None:
                    raise Http404
            node = Node.objects.filter(pk=d["node"]).first() if d["node"] else None
            m = attempt(
                request,
                services.matter_propose,
                by=request.user,
                title=d["title"],
                body=d["body"],
                cost=d["cost"] or None,
                node=node,
                for_resident=who,
                key=d["key"],
                photos=request.FILES.getlist("photos"),
            )
            if m is not None:
                messages.success(request, _("Your proposal is in. Ask your neighbours to sign it."))
                return redirect("deliberation:matter", m.pk)
    places = []
    if own is not None:
        places = list(
            Node.objects.filter(
                pk__in=[int(x) for x in own.path.strip("/").split("/")], level__in=[Level.VILLAGE, Level.GRID]
            ).order_by("level")
        )
    return render(
        request,
        "deliberation/propose.html",
        {"form": form.data, "places": places, "proxied": proxied, "key": new_key()},
    )


@login_required
def matter_page(request: AuthedRequest, matter_id: int) -> HttpResponse:
    m = gate(selectors.access_matter, request.user, matter_id)
    manages = selectors.manages(request.user, m)
    signed = bool(selectors.signed(request.user, [m]))
    mine = selectors.my_rating(request.user, m)
    return render(
        request,
        "deliberation/matter.html",
        {
            "m": m,
            "manages": manages,
            "signed": signed,
            "my_rating": mine,
            "actions": selectors.matter_actions(request.user, m, signed=signed, rated=mine is not None),
            "comments": [selectors.comment_row(request.user, c, manages) for c in selectors.comments(request.user, m)],
            "photos": list(m.photos.all()),
            "votes": list(m.votes.order_by("-id")),
            "tasks": list(m.tasks.all()),
            "budget": list(m.budget.all()),
            "spendings": list(m.spendings.select_related("line")),
            "updates": list(m.updates.prefetch_related("photos")),
            "money": selectors.money(m),
            "ratings": selectors.ratings(m),
            "threshold": selectors.setting_for(m.village).cosign_threshold,
            "meetings": list(m.meetings.all()),
            "proxied": _proxied(request) if m.state == "proposed" else [],
            "signatures": list(m.signatures.select_related("resident").order_by("at")) if manages else [],
            "vote_choices": {
                "per": Vote.Per.choices,
                "quorum": Vote.Quorum.choices,
                "threshold": Vote.Threshold.choices,
            },
            "grids": Node.objects.filter(parent_id=m.village_id, level=Level.GRID).order_by("sort", "name"),
        },
    )


@login_required
@require_POST
def matter_step(request: AuthedRequest, matter_id: int, step: str) -> HttpResponse:
    m = gate(selectors.access_matter, request.user, matter_id)
    here = redirect("deliberation:matter", m.pk)
    f: Any
    if step == "sign":
        f = bind(request, forms.ForForm)
        if f is None:
            return here
        who = (
            residents_for(request.user).filter(pk=f.cleaned_data["resident"]).first()
            if f.cleaned_data["resident"]
            else None
        )
        if f.cleaned_data["resident"] and who is None:
            raise Http404
        if attempt(request, services.matter_cosign, matter=m, by=request.user, for_resident=who):
            messages.success(request, _("Signed. Thank you."))
    elif step in ("agenda", "start", "finish"):
        fn = {"agenda": services.matter_agenda, "start": services.matter_start, "finish": services.matter_finish}[step]
        if attempt(request, fn, matter=m, by=request.user):
            messages.success(request, _("Done."))
    elif step == "decline":
        f = bind(request, forms.ReasonForm)
        if f is not None and attempt(
            request, services.matter_decline, matter=m, by=request.user, reason=f.cleaned_data["reason"]
        ):
            messages.success(request, _("The matter is declined; the reason is public."))
    elif step == "merge":
        f = bind(request, forms.MergeForm)
        if f is not None:
            into = (
                gate(selectors.access_matter, request.user, f.cleaned_data["into"]) if f.cleaned_data["into"] else None
            )
            if into is None:
                messages.error(request, _("Enter the number of the matter to merge into."))
            elif attempt(
                request,
                services.matter_merge,
                matter=m,
                into=into,
                by=request.user,
                reason=f.cleaned_data["reason"] or "",
            ):
                messages.success(request, _("Merged."))
    elif step == "comment":
        f = bind(request, forms.CommentForm)
        if f is not None and attempt(
            request, services.comment_add, matter=m, by=request.user, text=f.cleaned_data["text"]
        ):
            messages.success(request, _("Your comment is posted."))
    elif step == "task":
        f = bind(request, forms.TaskForm)
        if f is not None and attempt(request, services.task_add, matter=m, by=request.user, **f.cleaned_data):
            messages.success(request, _("Task added."))
    elif step == "budget":
        f = bind(request, forms.LineForm)
        if f is not None and attempt(request, services.budget_add, matter=m, by=request.user, **f.cleaned_data):
            messages.success(request, _("Budget line added."))
    elif step == "spending":
        f = bind(request, forms.SpendingForm)
        if f is not None:
            d = f.cleaned_data
            line = m.budget.filter(pk=d["line"] or 0).first()
            if line is None:
                messages.error(request, _("Choose a budget line."))
            elif attempt(
                request,
                services.spending_add,
                matter=m,
                by=request.user,
                line=line,
                amount=d["amount"],
                spent_on=d["spent_on"],
                payee=d["payee"],
                note=d["note"] or "",
            ):
                messages.success(request, _("Spending recorded."))
    elif step == "update":
        f = bind(request, forms.UpdateForm)
        if f is not None and attempt(
            request,
            services.update_add,
            matter=m,
            by=request.user,
            text=f.cleaned_data["text"],
            photos=request.FILES.getlist("photos"),
        ):
            messages.success(request, _("Progress posted."))
    elif step == "rate":
        f = bind(request, forms.RatingForm)
        if f is not None:
            if f.cleaned_data["stars"] is None:
                messages.error(request, _("Rate from 1 to 5 stars."))
            elif attempt(
                request,
                services.rating_add,
                matter=m,
                by=request.user,
                stars=f.cleaned_data["stars"],
                comment=f.cleaned_data["comment"] or "",
            ):
                messages.success(request, _("Thank you for your rating."))
    else:
        raise Http404
    return here


@login_required
@require_POST
def comment_hide(request: AuthedRequest, comment_id: int) -> HttpResponse:
    c = Comment.objects.filter(pk=comment_id).first()
    if c is None:
        raise Http404
    m = gate(selectors.access_matter, request.user, c.matter_id)
    f = bind(request, forms.HideForm)
    if f is not None and attempt(
        request, services.comment_hide, comment=c, by=request.user, reason=f.cleaned_data["reason"]
    ):
        messages.success(request, _("The comment is hidden; the reason is shown in its place."))
    return redirect("deliberation:matter", m.pk)


@login_required
@require_POST
def task_done(request: AuthedRequest, task_id: int) -> HttpResponse:
    t = Task.objects.filter(pk=task_id).select_related("matter").first()
    if t is None:
        raise Http404
    gate(selectors.access_matter, request.user, t.matter_id)
    if attempt(request, services.task_done, task=t, by=request.user):
        messages.success(request, _("Task done."))
    return redirect("deliberation:matter", t.matter_id)


@login_required
def photo(request: AuthedRequest, photo_id: int) -> FileResponse:
    p = Photo.objects.filter(pk=photo_id).select_related("matter", "meeting", "update__matter").first()
    if p is None:
        raise Http404
    if p.meeting is not None:
        if not Meeting.objects.filter(selectors.reach_q(request.user), pk=p.meeting.pk).exists():
            raise Http404
    else:
        gate(selectors.access_matter, request.user, p.matter_id or (p.update.matter_id if p.update else 0))
    return FileResponse(p.file.open("rb"), content_type="image/jpeg")


# --- votes -----------------------------------------------------------------------------------------------------


@login_required
@require_POST
def vote_new(request: AuthedRequest) -> HttpResponse:
    f = bind(request, forms.VoteForm)
    if f is None:
        return redirect("deliberation:home")
    d = f.cleaned_data
    m = gate(selectors.access_matter, request.user, d["matter"]) if d["matter"] else None
    rules = gate(selectors.access_rules, request.user, d["rules"]) if d["rules"] else None
    back = (
        redirect("deliberation:matter", m.pk)
        if m
        else (redirect("deliberation:rules", rules.village_id) if rules else redirect("deliberation:home"))
    )
    closes = local_datetime(d["closes_at"])
    if closes is None:
        messages.error(request, _("Enter the date and time."))
        return back
    node = Node.objects.filter(pk=d["node"]).first() if d["node"] else None
    options = [x.strip() for x in (d["options"] or "").split("\n") if x.strip()]
    v = attempt(
        request,
        services.vote_create,
        by=request.user,
        matter=m,
        rules=rules,
        node=node,
        question=d["question"],
        per=d["per"],
        quorum=d["quorum"],
        threshold=d["threshold"],
        secret=d["secret"],
        closes_at=closes,
        options=options or None,
    )
    if v is None:
        return back
    messages.success(request, _("The vote is set up. Open it when you are ready: the roll is fixed then."))
    return redirect("deliberation:vote", v.pk)


@login_required
def vote_page(request: AuthedRequest, vote_id: int) -> HttpResponse:
    v = gate(selectors.access_vote, request.user, vote_id)
    manages = selectors.manages(request.user, v)
    if v.state == Vote.State.DRAFT and not manages:
        raise Http404
    ctx: dict[str, Any] = {
        "v": v,
        "manages": manages,
        "b": selectors.my_ballot(request.user, v),
        "options": selectors.options(v),
        "needed": services.quorum_needed(v.quorum, v.eligible),
        "actions": selectors.vote_actions(v, manages),
    }
    if manages and v.state == Vote.State.OPEN:
        grid = to_int(request.GET.get("grid"))
        node = Node.objects.filter(pk=grid).first() if grid else None
        ctx["grids"] = list(selectors.grids(v))
        ctx["grid"] = node
        ctx["took_part"] = v.took
        ctx["waiting"] = list(
            selectors.roll(
                v,
                path=node.path if node and node.path.startswith(v.path) else "",
                voted=False,
                q=(request.GET.get("q") or "")[:40].replace("\x00", ""),
            )[:300]
        )
        ctx["key"] = new_key()
    return render(request, "deliberation/vote.html", ctx)


@login_required
@require_POST
def vote_step(request: AuthedRequest, vote_id: int, step: str) -> HttpResponse:
    v = gate(selectors.access_vote, request.user, vote_id)
    here = redirect("deliberation:vote", v.pk)
    f: Any
    if step == "ballot":
        f = bind(request, forms.BallotForm)
        if f is not None:
            if f.cleaned_data["option"] is None:
                messages.error(request, _("Choose one of the options offered."))
            elif attempt(request, services.vote_cast, vote=v, by=request.user, option_id=f.cleaned_data["option"]):
                messages.success(request, _("Your ballot is in. Thank you for voting."))
    elif step == "open":
        if attempt(request, services.vote_open, vote=v, by=request.user):
            messages.success(request, _("The vote is open; the roll is fixed."))
    elif step == "count":
        if attempt(request, services.vote_count, vote=v, by=request.user):
            messages.success(request, _("Counted; the result is published."))
    elif step == "cancel":
        f = bind(request, forms.HideForm)
        if f is not None and attempt(
            request, services.vote_cancel, vote=v, by=request.user, reason=f.cleaned_data["reason"]
        ):
            messages.success(request, _("The vote is cancelled."))
    elif step == "paper":
        options = selectors.options(v)
        f = bind(request, forms.SheetForm, options=options)
        if f is not None:
            counts = f.counts(options)
            invalid = f.cleaned_data["invalid"]
            if any(n is None or n < 0 for n in counts.values()) or (invalid is not None and invalid < 0):
                messages.error(request, _("Counts are whole numbers, 0 or more."))
            elif attempt(
                request,
                services.vote_paper,
                vote=v,
                by=request.user,
                note=f.cleaned_data["note"] or "",
                key=f.cleaned_data["key"],
                sheet=services.SheetIn(
                    counts={k: n or 0 for k, n in counts.items()},
                    invalid=invalid or 0,
                    voter_ids=f.cleaned_data["voter"],
                ),
            ):
                messages.success(request, _("The tally sheet is entered; those checked off have voted."))
    else:
        raise Http404
    return here


# --- meetings, 三公开, rules, figures ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def meetings(request: AuthedRequest) -> HttpResponse:
    village, manages = _village_page(request)
    if request.method == "POST":
        f = bind(request, forms.MeetingForm)
        if f is not None:
            d = f.cleaned_data
            held = local_datetime(d["held_at"])
            came = {h: 1 for h in d["household"]}
            matter = gate(selectors.access_matter, request.user, d["matter"]) if d["matter"] else None
            if held is None:
                messages.error(request, _("Enter the date and time."))
            elif attempt(
                request,
                services.meeting_record,
                by=request.user,
                village=village,
                matter=matter,
                held_at=held,
                place=d["place"],
                minutes=d["minutes"],
                households=came,
                photos=request.FILES.getlist("photos"),
            ):
                messages.success(request, _("Meeting recorded."))
                return redirect(f"{request.path}?village={village.pk}")
    rows = Meeting.objects.filter(village=village).prefetch_related("attendance", "photos").select_related("matter")
    return render(
        request,
        "deliberation/meetings.html",
        {
            "village": village,
            "manages": manages,
            "rows": rows[:50],
            "households": Household.objects.filter(paths_q((village.path,), "path")).order_by("path", "id")[:1000]
            if manages
            else [],
            "matters": Matter.objects.filter(
                village=village, state__in=["proposed", "agenda", "voting", "passed", "doing"]
            )
            if manages
            else [],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def disclosures(request: AuthedRequest) -> HttpResponse:
    village, manages = _village_page(request)
    if request.method == "POST":
        f = bind(request, forms.DisclosureForm)
        if f is not None:
            d = f.cleaned_data
            corrects = gate(selectors.access_disclosure, request.user, d["corrects"]) if d["corrects"] else None
            x = attempt(
                request,
                services.disclosure_publish,
                by=request.user,
                village=village,
                kind=d["kind"],
                period=d["period"],
                title=d["title"],
                body=d["body"],
                corrects=corrects,
            )
            if x is not None:
                messages.success(request, _("Posted."))
                return redirect("deliberation:disclosure", x.pk)
    kind = request.GET.get("kind", "")
    kind = kind if kind in Disclosure.Kind.values else ""
    watch = selectors.watch_paths(request.user)
    return render(
        request,
        "deliberation/disclosures.html",
        {
            "village": village,
            "villages": selectors.my_villages(request.user),
            "manages": manages,
            "kind": kind,
            "kinds": Disclosure.Kind.choices,
            "rows": selectors.disclosures_for(request.user, village_id=village.pk, kind=kind)[:100],
            "overdue": selectors.overdue(watch) if watch else [],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def disclosure_page(request: AuthedRequest, disclosure_id: int) -> HttpResponse:
    d = gate(selectors.access_disclosure, request.user, disclosure_id)
    if request.method == "POST":
        f = bind(request, forms.AskForm)
        if f is not None and attempt(
            request, services.question_ask, disclosure=d, by=request.user, text=f.cleaned_data["text"]
        ):
            messages.success(request, _("Your question is sent; the answer will be public."))
        return redirect("deliberation:disclosure", d.pk)
    manages = selectors.manages(request.user, d)
    own = selectors.own_resident(request.user)
    return render(
        request,
        "deliberation/disclosure.html",
        {
            "d": d,
            "manages": manages,
            "asks": own is not None and own.path.startswith(d.path),
            "questions": list(d.questions.select_related("asker").order_by("asked_at", "id")),
            "spendings": list(selectors.spendings_in(d.village, d.period)) if d.kind == "finance" else [],
            "corrections": list(d.corrections.all()),
        },
    )


@login_required
@require_POST
def answer(request: AuthedRequest, question_id: int) -> HttpResponse:
    q = Question.objects.filter(pk=question_id).select_related("disclosure").first()
    if q is None:
        raise Http404
    gate(selectors.access_disclosure, request.user, q.disclosure_id)
    f = bind(request, forms.AnswerForm)
    if f is not None and attempt(
        request, services.question_answer, question=q, by=request.user, answer=f.cleaned_data["answer"]
    ):
        messages.success(request, _("Answered publicly."))
    return redirect("deliberation:disclosure", q.disclosure_id)


@login_required
@require_http_methods(["GET", "POST"])
def rules_page(request: AuthedRequest, village_id: int) -> HttpResponse:
    village = Node.objects.filter(pk=village_id, level=Level.VILLAGE).first()
    if village is None or village.pk not in {v.pk for v in selectors.my_villages(request.user)}:
        raise Http404
    manages = selectors.manages(request.user, village)
    if request.method == "POST":
        if not manages:
            raise Http404
        f = bind(request, forms.RulesForm)
        if f is not None and attempt(request, services.rules_draft, by=request.user, village=village, **f.cleaned_data):
            messages.success(request, _("The new version is written; put it to a vote."))
        return redirect("deliberation:rules", village.pk)
    versions = selectors.rules_for(request.user, village.pk)
    return render(
        request,
        "deliberation/rules.html",
        {
            "village": village,
            "manages": manages,
            "versions": versions,
            "current": next((r for r in versions if r.state == "adopted"), None),
            "draft": next((r for r in versions if r.state in ("draft", "voting")), None),
            "vote_choices": {
                "per": Vote.Per.choices,
                "quorum": Vote.Quorum.choices,
                "threshold": Vote.Threshold.choices,
            },
        },
    )


@login_required
@require_POST
def rules_record(request: AuthedRequest, village_id: int) -> HttpResponse:
    """The rules a village had before Gongzhi, recorded as version 1 in force."""
    village = Node.objects.filter(pk=village_id, level=Level.VILLAGE).first()
    if village is None or not selectors.manages(request.user, village):
        raise Http404
    f = bind(request, forms.RecordForm)
    if f is not None and attempt(request, services.rules_record, by=request.user, village=village, **f.cleaned_data):
        messages.success(request, _("The rules in force are recorded."))
    return redirect("deliberation:rules", village.pk)


@login_required
def report_page(request: AuthedRequest) -> HttpResponse:
    """民事民评 per village for the town and the county: matters by stage, turnout, ratings, overdue postings."""
    paths = selectors.watch_paths(request.user)
    if not paths:
        raise Http404
    return render(
        request, "deliberation/report.html", {"rows": selectors.report(paths), "overdue": selectors.overdue(paths)}
    )
