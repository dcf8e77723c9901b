from django.contrib import admin
from django.http import HttpRequest

from integrations.models import HotlineOrder, HotlineSource, ImportRun


@admin.register(HotlineSource)
class HotlineSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "node", "is_active", "exported_until"]
    # The account and the secrets are made and rotated by integrations.services, never typed in.
    readonly_fields = ["account", "secret", "previous_secret", "rotated_at", "created_at"]
    raw_id_fields = ["node", "default_category"]


@admin.register(HotlineOrder)
class HotlineOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "source", "order", "via", "received_at"]
    list_filter = ["source", "via"]
    search_fields = ["number"]
    raw_id_fields = ["order"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # made by an import or a push, with its work order


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["filename", "source", "by", "dry_run", "state", "done", "created", "refused", "created_at"]
    list_filter = ["state", "dry_run"]
    readonly_fields = [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
