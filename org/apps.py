from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("County")

    def ready(self) -> None:
        from accounts.models import RoleAssignment
        from core.memo import bump_on_change

        from .models import Department, HouseholdLink, Node, PartyMember, Resident

        # Two generations, so that a change throws away only what it touches (core.memo): "tree" — the nodes and
        # departments (grid centres, place names, the hotline's maps, levels) — and "org" — users' scopes, which
        # read the tree too, roles, residents, party members and their households. A resident's edit no longer
        # makes every process read the grid index and the place names again.
        bump_on_change("tree", Node, Department)
        bump_on_change("org", Node, Department, Resident, PartyMember, HouseholdLink, RoleAssignment)
