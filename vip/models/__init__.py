"""VIP tiers, the history of every tier change, and manager assignments."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords


class Tier(models.Model):
    name = models.CharField(_("name"), max_length=20, unique=True)
    level = models.PositiveSmallIntegerField(_("level"), unique=True)
    min_spend = models.DecimalField(
        _("minimum spend"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    window_days = models.PositiveIntegerField(
        _("spend window (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: lifetime spend counts. A number: only spend within that many days counts."),
    )
    downgrade_grace_days = models.PositiveIntegerField(
        _("downgrade grace (days)"),
        default=0,
        help_text=_("How long a player keeps the tier after their rolling spend falls below it."),
    )
    benefits = models.TextField(_("benefits"), blank=True)
    colour = models.CharField(_("colour"), max_length=7, default="#9e9e9e")

    history = HistoricalRecords()

    class Meta:
        ordering = ["level"]
        verbose_name = _("VIP tier")
        verbose_name_plural = _("VIP tiers")

    def __str__(self):
        return self.name


class TierChangeReason(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")
    REVIEW = "review", _("Periodic review")
    MANUAL = "manual", _("Pinned by hand")
    PIN_EXPIRED = "pin_expired", _("Pin expired")
    REBUILD = "rebuild", _("Recomputed from the ledger")


class TierChange(models.Model):
    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(
        Tier,
        verbose_name=pgettext_lazy("tier change", "from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_tier = models.ForeignKey(
        Tier,
        verbose_name=pgettext_lazy("tier change", "to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=16, choices=TierChangeReason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    changed_at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["player", "-changed_at"], name="tierchange_player_recent")]

    def __str__(self):
        return f"{self.player_id}: {self.from_tier or '-'} → {self.to_tier or '-'}"

    @property
    def is_upgrade(self):
        from_level = self.from_tier.level if self.from_tier else 0
        to_level = self.to_tier.level if self.to_tier else 0
        return to_level > from_level


class ManagerAssignment(models.Model):
    """One row each time a player's VIP manager changes: who moved whom to whom."""

    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="manager_assignments"
    )
    from_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("manager assignment", "from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    to_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("manager assignment", "to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    assigned_at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        ordering = ["-assigned_at", "-id"]
        verbose_name = _("manager assignment")
        verbose_name_plural = _("manager assignments")
        indexes = [models.Index(fields=["player", "-assigned_at"], name="assignment_player_recent")]

    def __str__(self):
        return f"{self.player_id}: {self.from_manager or '-'} → {self.to_manager or '-'}"
