from django.contrib import admin

from catalog.models import Category, DispatchRule, ServiceItem, TimeLimitRule
from core.admin import SuperuserWritesMixin


@admin.register(Category)
class CategoryAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    list_display = ("code", "name", "level", "time_class", "department", "auto_dispatch", "is_active")
    list_filter = ("level", "time_class", "auto_dispatch", "is_active")
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)

    def save_model(self, request, obj, form, change):
        obj.level = 1 if obj.parent is None else obj.parent.level + 1
        super().save_model(request, obj, form, change)


@admin.register(ServiceItem)
class ServiceItemAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    list_display = ("code", "name", "category", "mode", "level", "department", "promised_days", "is_published")
    list_filter = ("mode", "level", "is_published")
    search_fields = ("code", "name")
    raw_id_fields = ("category",)


@admin.register(TimeLimitRule)
class TimeLimitRuleAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    list_display = ("name", "time_class", "urgency", "respond_hours", "resolve_amount", "resolve_unit", "is_active")


@admin.register(DispatchRule)
class DispatchRuleAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    list_display = ("name", "item", "category", "area", "department", "handle_at_level", "priority", "is_active")
    raw_id_fields = ("item", "category", "area")
