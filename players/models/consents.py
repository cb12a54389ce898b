"""A player's consent to be reached, per channel and purpose (PIPL Art. 24, MIIT Order 31).

`ConsentEvent` is the ledger: every grant, refusal and withdrawal as it was recorded
(source, time, evidence, who), kept `CRM_CONSENT_HISTORY_DAYS` after it was superseded.
`Consent` is its projection, one row per player × channel × purpose: the latest event,
which the message door and the targeting read in one index probe. Both are written by
`players.services.consents` only.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.channels import consent_channel_choices


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentSource(models.TextChoices):
    API = "api", _("Game API")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Staff")
    REPLY = "reply", _("Player's reply")
    MIGRATION = "migration", _("Former opt-out flag")


class _ConsentFields(models.Model):
    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=16, choices=consent_channel_choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose.choices)
    status = models.CharField(_("consent"), max_length=16, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    # When the player gave or refused it (the reply's time, the import's date), and when
    # the CRM recorded it.
    occurred_at = models.DateTimeField(_("given at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    evidence = models.TextField(
        _("evidence"),
        blank=True,
        help_text=_("The player's words, the call it was given in, or the import it came from."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # A game API client (its name) or an import (ImportJob id), when not a person.
    recorded_via = models.CharField(_("recorded via"), max_length=120, blank=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.get_channel_display()} · {self.get_purpose_display()}: {self.get_status_display()}"


class ConsentEvent(_ConsentFields):
    """One grant, refusal or withdrawal, as recorded (append-only; purged by age)."""

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        permissions = [("record_consent", _("Can record players' consent"))]
        indexes = [
            models.Index(fields=["player", "channel", "purpose", "occurred_at"], name="consent_event_key"),
            models.Index(fields=["recorded_at"], name="consent_event_recorded"),
        ]


class Consent(_ConsentFields):
    """The consent in force per player × channel × purpose: the latest `ConsentEvent`."""

    event = models.ForeignKey(
        ConsentEvent, verbose_name=_("record"), null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["channel", "purpose"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["player", "channel", "purpose"], name="consent_once_per_key"),
        ]
