from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalogue")

    def ready(self) -> None:
        from core.memo import bump_on_change

        from .models import Category, DispatchRule, ServiceItem, TimeLimitRule

        # Intake reads these from memory (catalog.cache): any change reaches every server process.
        bump_on_change("catalog", Category, ServiceItem, DispatchRule, TimeLimitRule)
