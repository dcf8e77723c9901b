from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SosConfig(AppConfig):
    name = "sos"
    verbose_name = _("One-key call")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from core.memo import bump
        from sos.selectors import GATE_GENERATION

        # A logout ends that session's open live streams within their second (sos.stream): no other
        # counter moves when a session is deleted.
        def logged_out(**kw: object) -> None:
            bump(GATE_GENERATION)

        user_logged_out.connect(logged_out, weak=False, dispatch_uid="sos-stream-logout")
