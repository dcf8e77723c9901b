from django.apps import AppConfig


class DemoConfig(AppConfig):
    # An app only so that `seed_demo` is found as a management command; it has no models, so no admin
    # page shows its name and it needs no translated verbose_name.
    name = "demo"
