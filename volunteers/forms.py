"""The forms of the volunteer pages: every posted action is read here (core.forms).

Lengths are those of the rows and services behind them (Activity.title 80, place 120, description 1000,
Team.name 60, description 300, Volunteer.availability 100, a cancellation's reason 200, the check-in code
12): what is longer is refused, never cut. Numbers are read with points.forms.Whole: the service says what
is out of range ("Places must be from 1 to 500.")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.forms import ActionForm, NextForm, Text, Whole

CODE_MAX = 12  # Activity.checkin_code
# A datetime-local value, and the longest ISO form datetime.fromisoformat reads that we need:
# "2025-06-01T09:00:00.000000+08:00".
WHEN_MAX = 32


# --- a volunteer's ------------------------------------------------------------------------------------------


class JoinForm(ActionForm):
    """Skills as typed, separated by commas (the service keeps at most ten, each at most 20 characters)."""

    skills = Text(max_length=250, label=_("What you are good at (optional, separated by commas)"))
    availability = Text(max_length=100, label=_("When you have time (optional)"))  # Volunteer.availability


class CodeCheckinForm(ActionForm):
    """Check in with the code shown at the place; it names the activity."""

    code = Text(max_length=CODE_MAX, label=_("Check-in code"))


class SignupForm(NextForm):
    """Sign up (or onto the waiting list): nothing to fill in but where to go back to."""


class CheckinForm(NextForm):
    """The organiser checks a participant in (`participation`); a volunteer checks themself in (`code`)."""

    participation = Whole()
    code = Text(max_length=CODE_MAX, label=_("Check-in code"))


class WithdrawForm(NextForm):
    """Withdraw a sign-up: nothing to fill in but where to go back to."""


class CheckoutForm(NextForm):
    code = Text(max_length=CODE_MAX, label=_("Check-in code"))


class RateForm(ActionForm):
    """A rating 0–5 and, if the organiser corrects them, the hours (empty: counted from check-in and out)."""

    rating = Whole(label=_("Rating"))
    hours = Text(max_length=6, label=_("Hours"))  # "23.5"; the service reads the number and its range


class ActivityCancelForm(ActionForm):
    reason = Text(max_length=200, label=_("Why it is cancelled"))  # the service's limit


class ActivityFinishForm(ActionForm):
    """Close the activity: nothing to fill in."""


# --- organisers ---------------------------------------------------------------------------------------------


class PublishForm(ActionForm):
    """An activity of a village or town (`node`), or of a team; the times as the page's datetime-local boxes
    send them, in Beijing time."""

    node = Whole(label=_("Organised by"))
    team = Whole(label=_("Team (optional)"))
    title = Text(max_length=80, label=_("Title"))  # Activity.title
    place = Text(max_length=120, label=_("Place"))  # Activity.place
    description = Text(max_length=1000, label=_("Description (optional)"))  # Activity.description
    starts_at = Text(max_length=WHEN_MAX, label=_("Starts"))
    ends_at = Text(max_length=WHEN_MAX, label=_("Ends"))
    capacity = Whole(label=_("Places"))


class TeamForm(ActionForm):
    node = Whole(label=_("Under"))
    name = Text(max_length=60, label=_("Name"))  # Team.name
    description = Text(max_length=300, label=pgettext_lazy("team", "Description"))  # Team.description
    leader = Whole(label=_("Leader (optional)"))
