from django.contrib import admin

from core.models import CalendarDay, PersonalDataAccess, WorkerBeat


class SuperuserWritesMixin:
    """Only superusers add, change or delete; who may look is each admin's own business."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class SuperuserReadOnlyMixin:
    """For records that change only through the services (and so through their own record): superusers
    may look, nobody adds, changes or deletes here."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    """Auditors read this log; nobody edits it."""

    list_display = ["at", "user", "resident", "subject", "field", "channel", "path"]
    search_fields = ["subject"]
    list_filter = ["field", "channel"]
    date_hierarchy = "at"
    raw_id_fields = ["user", "resident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(CalendarDay)
class CalendarDayAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    """Holiday and make-up workday overrides: staff may look, administrators edit."""

    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"

    def has_module_permission(self, request):
        return request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


@admin.register(WorkerBeat)
class WorkerBeatAdmin(SuperuserReadOnlyMixin, admin.ModelAdmin):
    """The workers' heartbeats, written only by the workers themselves (core.worker)."""

    list_display = ["name", "last_beat", "started_at", "stopped_at", "host", "pid", "last_error_at"]
    readonly_fields = [
        "name",
        "pid",
        "host",
        "interval",
        "started_at",
        "last_beat",
        "stopped_at",
        "last_error",
        "last_error_at",
    ]
