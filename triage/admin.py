from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin
from triage.models import Classifier


@admin.register(Classifier)
class ClassifierAdmin(SuperuserReadOnlyMixin, admin.ModelAdmin):
    """To look, not to change: a model comes from `manage.py dispatch_train`, which also makes it current
    in every process (the admin's save would not)."""

    list_display = ("id", "created_at", "orders", "is_current", "trained_by")
    exclude = ("category_model", "unit_model")
    readonly_fields = ("created_at", "orders", "report", "is_current", "trained_by")

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and obj is not None and not obj.is_current
