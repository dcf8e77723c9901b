from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("County")

    def ready(self) -> None:
        from accounts.models import RoleAssignment
        from core.memo import bump_on_change

        from .models import Department, HouseholdLink, Node, PartyMember, Resident

        # Users' scopes and the grid centres are read from memory (org.access, workorders.services).
        bump_on_change("org", Node, Department, Resident, PartyMember, HouseholdLink, RoleAssignment)
