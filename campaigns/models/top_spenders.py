"""The year-end spend summary's table: net spend per player and calendar year, derived from the
payment ledger by one function (`campaigns.services.top_spenders.year_spend_rebuild`, its
only writer) and rebuildable from it at any time. The nightly run rebuilds the years whose
payments changed (`year_spend_refresh`); the annual gift list reads it instead of summing a
year of payments on every page."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PlayerYearSpend(models.Model):
    # No database foreign key (as OutreachTask.player): a rebuild inserts a year's payers
    # (up to a million rows) in one statement; Django still cascades deletes.
    player = models.ForeignKey(
        "players.Player",
        verbose_name=_("player"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # the unique (player, year) index starts with it
    )
    year = models.PositiveSmallIntegerField(_("year"))
    spend = models.DecimalField(_("spend in the year"), max_digits=16, decimal_places=2)
    purchases = models.PositiveIntegerField(_("purchases"))
    last_paid_at = models.DateTimeField(_("last paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("spend in a year")
        verbose_name_plural = _("spend per year")
        indexes = [models.Index(fields=["year", "-spend", "player"], name="year_spend_ranked")]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "year"],
                name="year_spend_once_per_player",
                violation_error_message=_("This player's spend in this year is already summed."),
            )
        ]

    def __str__(self):
        return f"{self.year}: {self.spend}"


class YearSpendBuild(models.Model):
    """When a year's sums were last built from the ledger, and up to which payment: a payment
    received later (a higher id) that occurred in the year makes the nightly run rebuild it."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    built_at = models.DateTimeField(_("summed at"))
    # Every payment with an id up to this one was committed before the build read the ledger.
    payments_through = models.BigIntegerField(_("payments through id"), default=0)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("year's spend build")
        verbose_name_plural = _("year's spend builds")

    def __str__(self):
        return str(self.year)
