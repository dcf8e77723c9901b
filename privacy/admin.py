"""Personal-data requests in the admin are for looking (superusers); they are answered through the pages."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from privacy.models import AnonymisedOrder, DataRequest, OwnDataAccess


@admin.register(DataRequest)
class DataRequestAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "resident", "kind", "state", "created_at", "handled_by", "handled_at")
    list_filter = ("state", "kind")
    list_select_related = ("resident", "handled_by")


@admin.register(OwnDataAccess)
class OwnDataAccessAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("at", "user", "resident", "channel")
    list_filter = ("channel",)
    list_select_related = ("user", "resident")


@admin.register(AnonymisedOrder)
class AnonymisedOrderAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("order", "at")
