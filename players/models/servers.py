"""Server merges (合服): a game merges old servers into one; every account of the old
servers is re-keyed to the new server id. Written only by `players.services.servers`."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ServerMerge(models.Model):
    """One server merge: which servers of a game became which, who did it, what moved.

    The merge's old server ids are its `ServerMergeSource` rows; an old id is merged
    once (unique), so it names its merge, and the server it now lives on is found by
    following later merges (`players.services.servers.server_current`)."""

    game = models.CharField(
        _("game"), max_length=64, blank=True, help_text=_("Empty: the API clients of every game on these servers.")
    )
    new_server = models.CharField(_("new server"), max_length=32)
    note = models.TextField(_("note"), blank=True)
    accounts = models.PositiveIntegerField(_("accounts moved"), default=0)
    api_clients = models.PositiveIntegerField(_("API clients moved"), default=0)
    rules = models.PositiveIntegerField(_("rules moved"), default=0)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("server merge")
        verbose_name_plural = _("server merges")
        ordering = ["-merged_at"]
        permissions = [("merge_servers", _("Can merge game servers (合服)"))]

    def __str__(self):
        return _("Servers merged into %(server)s") % {"server": self.new_server}


class ServerMergeSource(models.Model):
    """An old server id of a merge. Unique: a server merged away exists no more."""

    merge = models.ForeignKey(
        ServerMerge, verbose_name=_("server merge"), on_delete=models.CASCADE, related_name="sources"
    )
    server = models.CharField(_("old server"), max_length=32)
    accounts = models.PositiveIntegerField(_("accounts moved"), default=0)

    class Meta:
        verbose_name = _("old server")
        verbose_name_plural = _("old servers")
        ordering = ["server"]
        constraints = [
            models.UniqueConstraint(
                fields=["server"],
                name="server_merge_source_once",
                violation_error_message=_("This server was already merged into another."),
            )
        ]

    def __str__(self):
        return self.server
