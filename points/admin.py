"""Points in the admin: the rules are configuration and are edited here (by superusers); the ledger,
accounts, shops and redemptions are for looking — they change only through the services, so that every
point moved is an entry and every item of stock a stock move."""

from django.contrib import admin

from core.admin import SuperuserReadOnlyMixin as _ReadOnly
from points.models import Account, Claim, Entry, Goods, Nomination, Redemption, Rule, Shop


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "unit",
        "points_per_unit",
        "cap_per_activity",
        "cap_per_month",
        "needs_approval",
        "is_active",
    )
    list_filter = ("kind", "needs_approval", "is_active")
    search_fields = ("code", "name")

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # awards refer to their rule: retire a rule by making it inactive


@admin.register(Account)
class AccountAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "kind", "resident", "node", "shop", "balance", "updated_at")
    list_filter = ("kind",)
    search_fields = ("resident__name",)
    list_select_related = ("resident", "node", "shop")


@admin.register(Entry)
class EntryAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "at", "kind", "amount", "resident", "source", "sink", "actor_label", "reason")
    list_filter = ("kind",)
    search_fields = ("resident__name", "key", "reason")
    list_select_related = ("resident", "source", "sink")


@admin.register(Claim)
class ClaimAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "resident", "rule", "quantity", "state", "points", "submitted_at", "decided_at")
    list_filter = ("state", "rule")
    list_select_related = ("resident", "rule")


@admin.register(Shop)
class ShopAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("name", "node", "is_active")
    list_select_related = ("node",)


@admin.register(Goods)
class GoodsAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("name", "shop", "price", "stock", "limit_per_person", "limit_period", "is_active")
    list_select_related = ("shop",)


@admin.register(Redemption)
class RedemptionAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("id", "created_at", "shop", "goods", "resident", "quantity", "points", "channel", "state")
    list_filter = ("state", "channel")
    list_select_related = ("shop", "goods", "resident")


@admin.register(Nomination)
class NominationAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("month", "resident", "state", "nominated_at")
    list_filter = ("state",)
    list_select_related = ("resident",)
