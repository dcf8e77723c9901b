from django.contrib import admin

from notify.models import Delivery, DeliveryAttempt, Message, Subscription


class _ReadOnly(admin.ModelAdmin):
    """For superusers to look, not to change: writes go through the services (a webhook's change must reach
    every process's in-memory copy, which the services see to)."""

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


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "channel", "kind", "text", "sent_at", "attempts")
    list_filter = ("channel", "kind")

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(_ReadOnly):
    list_display = ("name", "url", "node", "is_active", "consecutive_failures", "disabled_at", "removed_at")
    list_filter = ("is_active",)
    exclude = ("secret", "previous_secret")  # shown to the webhook's managers on its page, not in lists


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "duration_ms", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = ("created_at", "subscription", "event_type", "event_id", "state", "attempts", "last_status_code")
    list_filter = ("state", "event_type")
    list_select_related = ("subscription",)
    inlines = [DeliveryAttemptInline]
