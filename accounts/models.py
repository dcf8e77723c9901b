from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=40, blank=True)
    # A staff member's work phone, shown to the residents they serve; residents' own numbers live on
    # org.Resident and are masked there.
    work_phone = models.CharField(_("work phone"), max_length=20, blank=True)
    # 长辈版 (the elderly mode, accounts.mode): None until chosen — a resident put on the one-key-call care
    # register then starts in it (sos.services.care_register); True or False once they (or their grid worker)
    # chose. Kept on the user so that it follows them to another phone; a cookie carries it where no one is
    # logged in.
    elder_mode = models.BooleanField(_("elderly mode (长辈版)"), null=True, blank=True, default=None)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


# Whoever a page or the API serves (request.user): a login, or a visitor who has not logged in. The access
# gates and selectors answer both (the anonymous see nothing); the services act for a User.
Viewer: TypeAlias = "User | AnonymousUser"


def actor_label(user: object) -> str:
    """How a step's actor is written on the record: the person's name, or "System" for the workers."""
    return str(user)[:80] if user is not None else str(_("System"))


class Role(models.TextChoices):
    ADMIN = "admin", _("administrator")
    LEADER = "leader", _("leader")
    DISPATCHER = "dispatcher", _("dispatcher")
    DEPT_STAFF = "dept_staff", _("department staff")
    TOWN_STAFF = "town_staff", _("town staff")
    VILLAGE_STAFF = "village_staff", _("village staff")
    GRID_WORKER = "grid_worker", _("grid worker")
    PARTY_MEMBER = "party_member", _("party member")
    VOLUNTEER = "volunteer", _("volunteer")
    RESIDENT = "resident", _("resident")
    # Another system's account (a 12345 hotline's): files what it sends into its area, logs in nowhere.
    INTEGRATION = "integration", _("connected system")


class RoleAssignment(models.Model):
    """A role held over a part of the tree (a node) or, for department staff, over a department."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    node = models.ForeignKey(
        "org.Node", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("node")
    )
    department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("department"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.CheckConstraint(
                condition=(Q(role="dept_staff", department__isnull=False, node__isnull=True))
                | (~Q(role="dept_staff") & Q(department__isnull=True, node__isnull=False)),
                name="role_scope_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "node"], name="role_unique_node", condition=Q(node__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["user", "role", "department"], name="role_unique_dept", condition=Q(department__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.node or self.department}"


class ApiToken(models.Model):
    """A bearer token for API clients. Only a SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=60)
    prefix = models.CharField(_("prefix"), max_length=12)
    digest = models.CharField(_("token digest"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
