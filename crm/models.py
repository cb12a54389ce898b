"""What all apps share: the API clients (game backends) and their credentials."""

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
