from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartylinkConfig(AppConfig):
    name = "partylink"
    verbose_name = _("Party members and households")
