"""Work orders in the admin are for looking, not for editing: every change goes through the services
(and so through the state machine and the timeline). Superusers may read everything; others use the
pages and the API, which are scoped."""

from django.contrib import admin

from workorders.models import Event, WorkOrder


class EventInline(admin.TabularInline):
    model = Event
    fields = ("at", "action", "from_state", "to_state", "actor_label", "note", "public")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkOrder)
class WorkOrderAdmin(admin.ModelAdmin):
    list_display = ("tracking_code", "title", "kind", "channel", "state", "department", "created_at", "overdue")
    list_filter = ("state", "kind", "channel", "overdue")
    search_fields = ("tracking_code", "title")
    inlines = [EventInline]
    list_select_related = ("department",)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WorkOrder._meta.fields]
