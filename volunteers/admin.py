"""Volunteer service in the admin is for looking (superusers); it changes through the services."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from volunteers.models import Activity, Participation, Team, Volunteer


@admin.register(Volunteer)
class VolunteerAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("resident", "path", "joined_at", "is_active")
    search_fields = ("resident__name",)
    list_select_related = ("resident",)


@admin.register(Team)
class TeamAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("name", "node", "created_at", "is_active")
    list_select_related = ("node",)


@admin.register(Activity)
class ActivityAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("title", "node", "starts_at", "capacity", "state")
    list_filter = ("state",)
    list_select_related = ("node",)


@admin.register(Participation)
class ParticipationAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("activity", "volunteer", "state", "hours", "rating")
    list_filter = ("state",)
    list_select_related = ("activity", "volunteer__resident")
