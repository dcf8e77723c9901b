"""One-key call in the admin is for looking: registrations, chains and calls change through the services
(and so through the escalation ladder and the record). Superusers only; everyone else uses the scoped
pages and API."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from sos.models import Call, CallEvent, CareProfile, Contact, Responder


class ResponderInline(_ReadOnly, admin.TabularInline):
    model = Responder
    fields = ("position", "kind", "user", "name", "phone")
    readonly_fields = fields
    extra = 0


class ContactInline(_ReadOnly, admin.TabularInline):
    model = Contact
    fields = ("name", "relation", "phone")
    readonly_fields = fields
    extra = 0


class CallEventInline(_ReadOnly, admin.TabularInline):
    model = CallEvent
    fields = ("at", "action", "from_state", "to_state", "level", "actor_label", "note")
    readonly_fields = fields
    extra = 0


@admin.register(CareProfile)
class CareProfileAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("resident", "path", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("resident__name",)
    inlines = [ResponderInline, ContactInline]
    list_select_related = ("resident",)


@admin.register(Call)
class CallAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "resident", "kind", "channel", "state", "stage", "level", "raised_at", "responder")
    list_filter = ("state", "kind", "stage")
    inlines = [CallEventInline]
    list_select_related = ("resident", "responder")
