from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from core.memo import bump

        from .models import ApiToken, User

        # Bearer tokens are checked from memory (accounts.services.token_authenticate): a revoked token,
        # a deactivated user or a changed role flag reaches every server process within a second.
        def changed(
            sender: type, instance: object, raw: bool = False, update_fields: frozenset[str] | None = None, **kw: object
        ) -> None:
            if raw or (update_fields is not None and set(update_fields) <= {"last_login", "last_used_at"}):
                return
            bump("auth")

        for model in (User, ApiToken):
            post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"memo-auth-{model.__name__}")
            post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"memo-auth-d-{model.__name__}")
