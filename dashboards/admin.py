"""The assessment in the admin, for looking: schemes are versioned (a change is a new version, made
through the API), special items are added on the assessment page or over the API, results change only by
a logged recompute, tallies only through the worker. Nobody writes here, superusers included: every write
goes through dashboards.services, which lets only an assessment's owner write its scheme and special
items (see its docstring)."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from dashboards.models import Exemption, Result, ResultLog, Scheme, SpecialItem


@admin.register(Scheme)
class SchemeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("version", "name", "valid_from", "weights", "basic_weight", "created_at")


@admin.register(SpecialItem)
class SpecialItemAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("month", "group", "area", "node", "department", "points", "reason", "by", "at")


@admin.register(Exemption)
class ExemptionAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("order", "department", "status", "requested_by", "requested_at", "decided_by", "decided_at")
    list_filter = ("status",)


@admin.register(Result)
class ResultAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("month", "group", "scheme", "computed_at", "published_at", "published_by")


@admin.register(ResultLog)
class ResultLogAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("result", "action", "by", "at", "reason")
