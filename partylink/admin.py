"""Household work in the admin is for looking (superusers); it changes through the services, which keep
the links' history and the needs' lifecycle."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from partylink.models import LinkChange, Need, Project, Visit, VisitPlan


@admin.register(Visit)
class VisitAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("household", "visited_at", "visitor", "member")
    list_select_related = ("household", "visitor", "member__resident")
    date_hierarchy = "visited_at"


@admin.register(Need)
class NeedAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("text", "kind", "state", "household", "created_at", "order")
    list_filter = ("state", "kind", "asked")
    list_select_related = ("household", "order")


@admin.register(LinkChange)
class LinkChangeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("household", "action", "member", "previous", "by", "at", "reason")
    list_filter = ("action",)
    list_select_related = ("household", "member__resident", "previous__resident", "by")


@admin.register(VisitPlan)
class VisitPlanAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("village", "visits", "period", "updated_by", "updated_at")
    list_select_related = ("village", "updated_by")


@admin.register(Project)
class ProjectAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("title", "village", "lead", "state", "progress", "budget", "proposed_at")
    list_filter = ("state",)
    list_select_related = ("village", "lead__resident")
