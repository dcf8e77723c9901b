"""Mediation in the admin is for looking (superusers): cases change through the services, which keep the lifecycle,
the time limits and the follow-ups. Parties' phones are not listed here (the case page shows them to the mediation
staff, logged)."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from mediation.models import Case, Mediator, Referral


@admin.register(Case)
class CaseAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("code", "title", "kind", "node", "state", "red_flag", "level", "created_at")
    list_filter = ("state", "kind", "red_flag", "level")
    list_select_related = ("node",)
    search_fields = ("code",)
    exclude = ("account", "red_reason")


@admin.register(Mediator)
class MediatorAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("name", "kind", "node", "active")
    list_filter = ("kind", "active")
    list_select_related = ("node",)


@admin.register(Referral)
class ReferralAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("case", "unit", "state", "at")
    list_filter = ("unit", "state")
    list_select_related = ("case",)
