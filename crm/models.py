"""What all apps share: the API clients (game backends) and their credentials."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """One game backend (a game, optionally one server of it) allowed to call the API.

    The key is shown once and stored only as its SHA-256 digest (it is a long random
    token, so a plain digest is enough); the signing secret is stored as is, because
    the server must recompute every request's HMAC with it.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    game = models.CharField(_("game"), max_length=64, blank=True)
    server = models.CharField(
        _("server"),
        max_length=32,
        blank=True,
        help_text=_("Empty: every server of the game. Otherwise this client may write only for this server."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    key_prefix = models.CharField(_("key prefix"), max_length=16, editable=False)
    key_hash = models.CharField(_("key digest"), max_length=64, unique=True, editable=False)
    signing_secret = models.CharField(_("signing secret"), max_length=128, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("rotated"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self):
        return self.name


class CompanyDayOff(models.Model):
    """A day the whole team is off besides the statutory holidays (a company outing, a
    local holiday). Written by `crm.workdays.company_day_off_save`; read by the
    working-days calendar (`crm.workdays`)."""

    day = models.DateField(
        _("date"),
        unique=True,
        error_messages={"unique": _("This date is already a company day off.")},
    )
    reason = models.CharField(_("reason"), max_length=100, blank=True, help_text=_("e.g. company anniversary"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("company day off")
        verbose_name_plural = _("company days off")
        ordering = ["-day"]

    def __str__(self):
        return f"{self.day:%Y-%m-%d} {self.reason}".strip()
