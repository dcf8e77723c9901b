"""The text models of smart dispatch, versioned.

A model is trained on a county's own closed orders (`manage.py dispatch_train`) and kept here, in the
database, so that every server process and worker loads the current one without a shared disk and
without a restart: storing a new version bumps the "triage" generation (core.memo), and each process
notices within `GONGZHI["MEMO_CHECK_SECONDS"]` and loads it. The models are numpy arrays and JSON
(triage.text.TextModel.to_bytes), never pickles: the bytes are read by every process.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Classifier(models.Model):
    created_at = models.DateTimeField(_("trained"))
    orders = models.PositiveIntegerField(_("orders trained on"))
    category_model = models.BinaryField(_("category model"))
    unit_model = models.BinaryField(_("handling unit model"), blank=True, default=b"")
    # What training measured on the orders it held back: accuracy, macro F1, coverage at precision.
    report = models.JSONField(_("evaluation"), default=dict, blank=True)
    is_current = models.BooleanField(_("current"), default=False)
    trained_by = models.CharField(_("trained by"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("text model")
        verbose_name_plural = _("text models")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="triage_one_current"),
        ]

    def __str__(self) -> str:
        return _("Text model v%(version)s") % {"version": self.pk}
