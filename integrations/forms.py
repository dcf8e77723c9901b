"""The forms of the exchange's pages (core.forms: every posted field read through one)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Flag, Text, Whole


class SourceForm(ActionForm):
    name = Text(max_length=60, required=True, line=True, label=_("Name"))
    code = Text(max_length=20, line=True, label=_("Code"))
    node = Whole(label=_("Area"))
    # The mapping as JSON: {"columns": {…}, "categories": {…}, "units": {…}}.
    mapping = Text(max_length=20000, label=_("Column mapping"))
    default_category = Text(max_length=20, line=True, label=_("Category when none matches"))
    is_active = Flag(label=_("Active"))


class ImportForm(ActionForm):
    source = Whole(label=_("Hotline"))
    file = forms.FileField(label=_("File"), error_messages={"required": _("Please choose a file.")})
    dry_run = Flag(label=_("Dry run: check every row, import nothing"))


class ExportForm(ActionForm):
    since = Text(max_length=40, line=True, label=_("Changed since"))
    format = Choice(choices=[("xlsx", "Excel"), ("csv", "CSV")], required=True, label=_("Format"))
    mark = Flag(label=_("Remember this export: the next one starts where it ends"))
