"""Django admin for the county model, scoped by org.access for everyone but superusers.

For a non-superuser the admin is deliberately small:
- rows outside their scope do not exist (not listed, not opened, not offered as a choice);
- they edit only households and residents, and only under the nodes of the roles that keep the
  register (checked per row against those roles' subtrees, not against the union of all roles);
- URL filters are limited to the declared list filters, so masked fields cannot be searched for;
- personal numbers and birth dates they may not see are shown masked, read-only;
- no raw-id boxes (they would print any row's name) and no links to logins;
- party links, service points, the tree and departments are read-only for them.
Opening a resident with whole numbers shown is logged like any other unmasked read.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import SuperuserWritesMixin
from core.masking import mask_id_number, mask_phone
from core.validators import validate_id_number, validate_phone
from org import access, services
from org.models import Department, Household, HouseholdLink, Level, Node, PartyMember, Resident, ServicePoint
from org.selectors import whole_number


class ScopedAdmin(admin.ModelAdmin):
    """Rows outside the user's scope do not exist for them: not listed, not opened, not chosen."""

    scope_field = "path"  # the path copy that places a row in the tree
    editable_by_staff = False  # may non-superusers with a register role add and change these rows?

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(access.paths_q(access.get_scope(request.user).people_paths, self.scope_field))

    def lookup_allowed(self, lookup, value, request=None):
        # Only the declared filters: "?id_number__startswith=4201" must not become a guessing oracle.
        if request is not None and request.user.is_superuser:
            return super().lookup_allowed(lookup, value, request)
        allowed = {f if isinstance(f, str) else f[0] for f in self.list_filter if isinstance(f, str | tuple | list)}
        return lookup.split("__")[0] in allowed and super().lookup_allowed(lookup, value, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            edit = access.get_scope(request.user).edit_paths
            model = db_field.related_model
            if model is Node:
                kwargs["queryset"] = Node.objects.filter(access.paths_q(edit))
            elif model is Household:
                kwargs["queryset"] = Household.objects.filter(access.paths_q(edit))
            elif model is Resident:
                kwargs["queryset"] = Resident.objects.filter(access.paths_q(edit))
            else:
                kwargs["queryset"] = model._default_manager.none()
            kwargs["widget"] = forms.Select  # never a raw-id box: it prints any row's name
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _row_path(self, obj) -> str:
        value = obj
        for part in self.scope_field.split("__"):
            value = getattr(value, part)
        return value

    # Permissions come from roles, not from Django's per-model permission rows: one source of truth.
    def has_module_permission(self, request):
        return request.user.is_superuser or bool(access.get_scope(request.user).people_paths)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not self.editable_by_staff:
            return False
        scope = access.get_scope(request.user)
        if obj is None:
            return bool(scope.edit_paths)
        return scope.covers(scope.edit_paths, self._row_path(obj))

    def has_add_permission(self, request):
        return self.has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        # Households and residents leave the register through services (moves, deaths), never a click.
        return request.user.is_superuser


class NodeForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = ["parent", "level", "kind", "name", "code", "lat", "lng", "sort"]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.instance.pk is None and "level" in data:
            try:
                services.check_node_level(parent=data.get("parent"), level=data["level"])
            except services.TreeError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Node)
class NodeAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    form = NodeForm
    list_display = ["name", "level", "kind", "code", "parent"]
    list_filter = ["level", "kind"]
    search_fields = ["name", "code"]
    raw_id_fields = ["parent"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(access.get_scope(request.user).nodes_q())

    def has_module_permission(self, request):
        return request.user.is_superuser or bool(access.get_scope(request.user).node_paths)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    # Restructuring the tree moves every path below it: only superusers do that (SuperuserWritesMixin).

    def get_readonly_fields(self, request, obj=None):
        # Moving a node would strand the path copies below it; re-parenting is a service job, not a form.
        return ["parent", "level"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            changed = [f for f in form.changed_data if f in services.NODE_EDITABLE]
            services.node_update(node=obj, **{f: getattr(obj, f) for f in changed})
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
    """Members shown on their household, read-only: residents are added and edited on their own page."""

    model = Resident
    shown = ("name", "relation", "gender", "masked_phone")
    fields = shown
    readonly_fields = shown
    extra = 0
    show_change_link = True
    can_delete = False

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    def has_view_permission(self, request, obj=None):
        return True  # the parent household's admin already decided the user may see it

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    editable_by_staff = True
    list_display = ["address", "grid", "number", "tag_list"]
    search_fields = ["address"]
    list_select_related = ["grid"]
    inlines = [ResidentInline]

    @admin.display(description=_("tags"))
    def tag_list(self, obj):
        return "、".join(obj.tag_labels())

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
    editable_by_staff = True
    list_display = ["name", "household", "gender", "relation", "masked_phone", "masked_id"]
    list_filter = ["gender", "relation"]
    search_fields = ["name", "phone_tail"]
    list_select_related = ["household"]
    raw_id_fields = ["user", "household"]  # superusers only: ScopedAdmin gives others scoped selects

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    @admin.display(description=_("ID number"))
    def masked_id(self, obj):
        return mask_id_number(obj.id_number)

    @admin.display(description=_("age"))
    def age(self, obj):
        from org.selectors import age

        return age(obj.birth_date)

    def _hidden(self, request, obj) -> set[str]:
        """Fields the user's role may not see for this resident: shown masked, read-only."""
        if request.user.is_superuser:
            return set()
        hidden = {"user"}  # logins are the administrator's business
        if obj is None:
            return hidden
        scope = access.get_scope(request.user)
        if not scope.unmask_phone(obj):
            hidden.add("phone")
        if not scope.unmask_id(obj):
            hidden |= {"id_number", "birth_date"}  # the birth date is half of the ID number
        return hidden

    _MASKED = {"phone": "masked_phone", "id_number": "masked_id", "birth_date": "age"}

    def get_fields(self, request, obj=None):
        hidden = self._hidden(request, obj)
        shown = [f for f in ResidentForm.Meta.fields if f not in hidden or f in self._MASKED]
        return [self._MASKED[f] if f in hidden else f for f in shown]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["masked_phone", "masked_id", "age"]
        if obj is not None:
            readonly.append("household")  # moving people between households is a service job
            if not self.has_change_permission(request, obj):
                readonly += ResidentForm.Meta.fields  # view-only users: everything read-only
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        hidden = self._hidden(request, obj)
        kwargs["fields"] = [
            f for f in ResidentForm.Meta.fields if f not in hidden and f not in self.get_readonly_fields(request, obj)
        ]
        return super().get_form(request, obj, change, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            hidden = self._hidden(request, obj)
            for field in ("phone", "id_number"):
                # The form shows these whole: read them as every page does (logged).
                whole_number(
                    request.user, getattr(obj, field), field=field, allowed=field not in hidden, channel="admin",
                    path=request.path, resident=obj,
                )  # fmt: skip
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.resident_update_contact(
                resident=obj,
                phone=form.cleaned_data.get("phone") if "phone" in form.cleaned_data else None,
                id_number=form.cleaned_data.get("id_number") if "id_number" in form.cleaned_data else None,
            )
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
class DepartmentAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    list_display = ["name", "code", "level", "jurisdiction", "phone", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "code"]
    raw_id_fields = ["jurisdiction"]

    def has_module_permission(self, request):
        return request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff  # the list of departments is public to staff


@admin.register(ServicePoint)
class ServicePointAdmin(ScopedAdmin):
    list_display = ["name", "kind", "node", "phone", "opening_hours"]
    list_filter = ["kind"]
    search_fields = ["name", "address"]
    raw_id_fields = ["node"]

    def save_model(self, request, obj, form, change):
        obj.path = obj.node.path
        super().save_model(request, obj, form, change)


@admin.register(PartyMember)
class PartyMemberAdmin(ScopedAdmin):
    list_display = ["__str__", "branch", "is_center_household", "joined_on"]
    list_filter = ["is_center_household"]
    raw_id_fields = ["resident", "branch"]

    def save_model(self, request, obj, form, change):
        obj.path = obj.resident.path
        super().save_model(request, obj, form, change)


@admin.register(HouseholdLink)
class HouseholdLinkAdmin(ScopedAdmin):
    scope_field = "household__path"
    list_display = ["household", "member", "since"]
    raw_id_fields = ["household", "member"]
