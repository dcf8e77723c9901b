from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import ApiToken, RoleAssignment, User
from core.admin import SuperuserWritesMixin
from core.errors import ValidationFailed


class RoleForm(forms.ModelForm):
    """A role over a node, or over a department for department staff: the service's rule, before saving."""

    class Meta:
        model = RoleAssignment
        fields = ["role", "node", "department"]

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        try:
            services.role_check(
                role=cleaned.get("role", ""), node=cleaned.get("node"), department=cleaned.get("department")
            )
        except ValidationFailed as exc:
            raise forms.ValidationError([str(m) for msgs in exc.fields.values() for m in msgs]) from exc
        return cleaned


class RoleInline(admin.TabularInline):
    model = RoleAssignment
    form = RoleForm
    extra = 0
    raw_id_fields = ["node", "department"]


@admin.register(User)
class UserAdmin(SuperuserWritesMixin, BaseUserAdmin):
    """Users and roles are the administrator's: only superusers manage them."""

    fieldsets = (*(BaseUserAdmin.fieldsets or ()), (_("Gongzhi"), {"fields": ("display_name", "work_phone")}))
    list_display = ["username", "display_name", "is_active", "is_staff", "last_login"]
    search_fields = ["username", "display_name"]
    inlines = [RoleInline]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_formset(self, request, form, formset, change):
        """Roles are written by the services (role_assign, role_revoke), never by the inline itself."""
        if formset.model is not RoleAssignment:
            return super().save_formset(request, form, formset, change)
        changed = formset.save(commit=False)
        for gone in formset.deleted_objects:
            services.role_revoke(assignment=gone)
        for a in changed:
            if a.pk is not None:  # changed in place: the old role goes, the new one comes
                services.role_revoke(assignment=a)
            services.role_assign(user=form.instance, role=a.role, node=a.node, department=a.department)
        return None


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser
