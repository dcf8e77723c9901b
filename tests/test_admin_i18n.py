"""The admin speaks Chinese: every model, field and column the admin shows has a translated name.

A field without verbose_name is labelled by Django with its attribute name ("raised by"), which the
catalogue cannot translate; a list_display callable without a description is labelled with its function
name. Both leave English in the zh-Hans admin. Third-party apps (auth, axes, …) bring their own.
"""

from __future__ import annotations

import re

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

THIRD_PARTY = {"auth", "axes", "sessions", "contenttypes", "admin"}


def _admins() -> list[tuple[type[models.Model], admin.options.BaseModelAdmin]]:
    """Our registered model admins, and the inlines they show (their models appear on the pages too)."""
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in THIRD_PARTY:
            continue
        found.append((model, model_admin))
        for inline in model_admin.inlines:
            found.append((inline.model, inline(model, admin.site)))
    return found


def _field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _labels() -> list[tuple[str, object]]:
    """(where, label) for every name the admin shows for our models."""
    labels: list[tuple[str, object]] = []
    seen: set[type[models.Model]] = set()
    for model, model_admin in _admins():
        where = model._meta.label
        if model not in seen:
            seen.add(model)
            labels.append((f"{where} verbose_name", model._meta.verbose_name))
            labels.append((f"{where} verbose_name_plural", model._meta.verbose_name_plural))
            for field in model._meta.concrete_fields:
                if isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField):
                    continue
                labels.append((f"{where}.{field.name}", field.verbose_name))
        columns = list(getattr(model_admin, "list_display", ()))
        if isinstance(model_admin, admin.options.InlineModelAdmin):
            columns += list(model_admin.fields or ()) + list(model_admin.readonly_fields or ())
        for column in columns:
            if column == "__str__" or (isinstance(column, str) and _field(model, column) is not None):
                continue  # the model's verbose_name and field names are checked above
            if isinstance(column, str):
                attr = getattr(model_admin, column, None) or getattr(model, column, None)
            else:
                attr = column
            if isinstance(attr, property):
                attr = attr.fget
            labels.append((f"{type(model_admin).__name__}.{column}", getattr(attr, "short_description", None)))
    return labels


def test_the_admin_has_models_to_check():
    assert len(_labels()) > 100


def test_every_admin_label_is_a_lazy_translation():
    plain = [f"{where}: {label!r}" for where, label in _labels() if not isinstance(label, Promise)]
    assert plain == [], "give these a verbose_name=_(...) / @admin.display(description=_(...))"


def test_every_admin_label_has_a_chinese_translation():
    untranslated = []
    for where, label in _labels():
        if not isinstance(label, Promise):
            continue  # reported by the test above
        with translation.override("en"):
            english = str(label)
        if not re.search(r"[A-Za-z]", english):
            continue
        with translation.override("zh-hans"):
            chinese = str(label)
        if chinese == english:
            untranslated.append(f"{where}: {english!r}")
    assert untranslated == [], "translate these in locale/zh_Hans (make messages)"
