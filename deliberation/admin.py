"""Deliberation in the admin is for looking (superusers): it changes through the services, which keep the
lifecycles, the frozen roll and the tally. A secret ballot shows who voted, never how: `Turnout.option` is
empty for it, and the option's count is the only record of the choice."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from deliberation.models import Disclosure, Matter, Meeting, RulesVersion, Turnout, VillageSetting, Vote


@admin.register(Matter)
class MatterAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("title", "village", "node", "state", "cosigns", "created_at")
    list_filter = ("state",)
    list_select_related = ("village", "node")


@admin.register(Vote)
class VoteAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("question", "village", "per", "secret", "state", "eligible", "turnout", "outcome")
    list_filter = ("state", "per", "secret")
    list_select_related = ("village",)


@admin.register(Turnout)
class TurnoutAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("vote", "voter", "channel")  # who voted and how it came in; never the choice
    list_filter = ("channel",)
    list_select_related = ("vote", "voter")
    exclude = ("option", "cast_by")


@admin.register(Meeting)
class MeetingAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("place", "village", "held_at", "matter")
    list_select_related = ("village", "matter")


@admin.register(Disclosure)
class DisclosureAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("title", "village", "kind", "period", "published_at")
    list_filter = ("kind",)
    list_select_related = ("village",)


@admin.register(RulesVersion)
class RulesAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("village", "number", "state", "adopted_at")
    list_select_related = ("village",)


@admin.register(VillageSetting)
class VillageSettingAdmin(admin.ModelAdmin):
    """The one thing edited here: a village's threshold and posting schedule (the village can also set it)."""

    list_display = ("village", "cosign_threshold", "party_every", "affairs_every", "finance_every", "due_day")
    list_select_related = ("village",)
    raw_id_fields = ("village",)
