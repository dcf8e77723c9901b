"""Notices in the admin are for looking (superusers); they are written and withdrawn through the pages."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from notices.models import Notice


@admin.register(Notice)
class NoticeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("title", "node", "state", "pinned", "published_at", "expires_at")
    list_filter = ("state", "pinned")
    list_select_related = ("node",)
