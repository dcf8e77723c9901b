"""Django admin for the county model, scoped by org.access for everyone but superusers.

A village clerk with admin access sees and edits only their village's households and residents, picks
grids only from their village, and sees personal numbers masked unless their role needs them; opening a
resident's change form with numbers shown is logged like any other unmasked read.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.audit import log_personal_read
from core.masking import mask_id_number, mask_phone
from core.validators import validate_id_number, validate_phone
from org import access, services
from org.models import Department, Household, HouseholdLink, Level, Node, PartyMember, Resident, ServicePoint


class ScopedAdmin(admin.ModelAdmin):
    """Rows outside the user's scope do not exist for them: not listed, not opened (404), not chosen."""

    scope_field = "path"  # the path copy that places a row in the tree

    def scoped(self, request: HttpRequest, qs):
        if request.user.is_superuser:
            return qs
        scope = access.get_scope(request.user)
        if not scope.people_paths:
            return qs.none()
        q = None
        for p in scope.people_paths:
            part = Node(path=p).subtree_q(self.scope_field)
            q = part if q is None else q | part
        return qs.filter(q)

    def get_queryset(self, request):
        return self.scoped(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.related_model is Node:
                kwargs["queryset"] = Node.objects.filter(_people_nodes_q(request))
            elif db_field.related_model is Household:
                kwargs["queryset"] = access.households_for(request.user)
            elif db_field.related_model is Resident:
                kwargs["queryset"] = access.residents_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Permissions come from roles, not from Django's per-model permission rows: one source of truth.
    def has_module_permission(self, request):
        return request.user.is_superuser or access.get_scope(request.user).sees_people

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or bool(access.get_scope(request.user).roles & access.REGISTER_EDITORS)

    def has_add_permission(self, request):
        return self.has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


def _people_nodes_q(request: HttpRequest):
    from django.db.models import Q

    q = Q(pk__in=[])
    for p in access.get_scope(request.user).people_paths:
        q |= Node(path=p).subtree_q()
    return q


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "kind", "code", "parent"]
    list_filter = ["level", "kind"]
    search_fields = ["name", "code"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(access.get_scope(request.user).nodes_q())

    def has_add_permission(self, request):
        # Restructuring the tree moves every path below it: only superusers do that.
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        # Moving a node would strand the path copies below it; re-parenting is a service job, not a form.
        return ["path", "parent", "level"] if obj else ["path"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.node_create(
            parent=obj.parent,
            level=obj.level,
            kind=obj.kind,
            name=obj.name,
            code=obj.code,
            lat=obj.lat,
            lng=obj.lng,
            sort=obj.sort,
        )
        obj.pk, obj.path = created.pk, created.path


class ResidentInline(admin.TabularInline):
    model = Resident
    fields = ["name", "relation", "gender", "birth_date", "masked_phone"]
    readonly_fields = ["masked_phone"]
    extra = 0
    show_change_link = True

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)


class HouseholdForm(forms.ModelForm):
    tags = forms.MultipleChoiceField(
        choices=Household.Tag.choices, required=False, widget=forms.CheckboxSelectMultiple, label=_("tags")
    )

    class Meta:
        model = Household
        fields = ["grid", "number", "address", "tags"]


@admin.register(Household)
class HouseholdAdmin(ScopedAdmin):
    form = HouseholdForm
    list_display = ["address", "grid", "number", "tags"]
    search_fields = ["address"]
    list_select_related = ["grid"]
    inlines = [ResidentInline]
    autocomplete_fields: list[str] = []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "grid" and field is not None:
            field.queryset = field.queryset.filter(level=Level.GRID)
        return field

    def save_model(self, request, obj, form, change):
        if change:
            if "grid" in form.changed_data:
                services.household_move(household=obj, grid=obj.grid)
            obj.path = obj.grid.path
            super().save_model(request, obj, form, change)
            return
        created = services.household_create(
            grid=obj.grid, address=obj.address, number=obj.number, tags=form.cleaned_data.get("tags", [])
        )
        obj.pk, obj.path, obj.created_at = created.pk, created.path, created.created_at


class ResidentForm(forms.ModelForm):
    class Meta:
        model = Resident
        fields = ["household", "name", "gender", "birth_date", "relation", "phone", "id_number", "user"]

    def clean_phone(self):
        value = self.cleaned_data.get("phone", "")
        validate_phone(value)
        return value

    def clean_id_number(self):
        value = (self.cleaned_data.get("id_number") or "").upper()
        validate_id_number(value)
        return value


@admin.register(Resident)
class ResidentAdmin(ScopedAdmin):
    form = ResidentForm
    list_display = ["name", "household", "gender", "relation", "masked_phone", "masked_id"]
    list_filter = ["gender", "relation"]
    search_fields = ["name", "phone_tail"]
    list_select_related = ["household"]
    raw_id_fields = ["user"]

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    @admin.display(description=_("ID number"))
    def masked_id(self, obj):
        return mask_id_number(obj.id_number)

    def _hidden(self, request, obj) -> list[str]:
        """Numbers the user's role may not see for this resident become read-only masked values."""
        if obj is None or request.user.is_superuser:
            return []
        scope = access.get_scope(request.user)
        hidden = []
        if not scope.unmask_phone(obj):
            hidden.append("phone")
        if not scope.unmask_id(obj):
            hidden.append("id_number")
        return hidden

    def get_fields(self, request, obj=None):
        hidden = self._hidden(request, obj)
        masked = {"phone": "masked_phone", "id_number": "masked_id"}
        return [masked[f] if f in hidden else f for f in ResidentForm.Meta.fields]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["masked_phone", "masked_id"]
        if obj is not None and not self.has_change_permission(request, obj):
            readonly += ResidentForm.Meta.fields  # view-only users: everything read-only, numbers masked
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [f for f in ResidentForm.Meta.fields if f not in self._hidden(request, obj)]
        return super().get_form(request, obj, change, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            hidden = self._hidden(request, obj)
            for field in ("phone", "id_number"):
                if field not in hidden and getattr(obj, field):
                    log_personal_read(user=request.user, resident=obj, field=field, channel="admin", path=request.path)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.resident_update_contact(
                resident=obj,
                phone=form.cleaned_data.get("phone") if "phone" in form.cleaned_data else None,
                id_number=form.cleaned_data.get("id_number") if "id_number" in form.cleaned_data else None,
            )
            obj.path = obj.household.path
            super().save_model(request, obj, form, change)
            return
        created = services.resident_create(
            household=obj.household,
            name=obj.name,
            gender=obj.gender,
            birth_date=obj.birth_date,
            relation=obj.relation,
            phone=obj.phone,
            id_number=obj.id_number,
            user=obj.user,
        )
        obj.pk, obj.path, obj.phone_tail = created.pk, created.path, created.phone_tail


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "level", "jurisdiction", "phone", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "code"]
    raw_id_fields = ["jurisdiction"]

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(ServicePoint)
class ServicePointAdmin(ScopedAdmin):
    list_display = ["name", "kind", "node", "phone", "opening_hours"]
    list_filter = ["kind"]
    search_fields = ["name", "address"]

    def save_model(self, request, obj, form, change):
        obj.path = obj.node.path
        super().save_model(request, obj, form, change)


@admin.register(PartyMember)
class PartyMemberAdmin(ScopedAdmin):
    list_display = ["__str__", "branch", "is_center_household", "joined_on"]
    list_filter = ["is_center_household"]
    raw_id_fields = ["resident"]

    def save_model(self, request, obj, form, change):
        obj.path = obj.resident.path
        super().save_model(request, obj, form, change)


@admin.register(HouseholdLink)
class HouseholdLinkAdmin(ScopedAdmin):
    scope_field = "household__path"
    list_display = ["household", "member", "since"]
    raw_id_fields = ["household", "member"]
