"""Payer churn: the rules (global, overridable per tier), the per-player figures the
rules need, every payer-status transition, and a daily snapshot for the trend.

How a payer's status is decided (``players.services.payer_status``; defaults in brackets,
each editable in the admin, per tier where a tier row overrides the global row):

- ``non_payer``: net spend is 0 (never paid, or refunded back to nothing).
- ``churned``: the last purchase is ``churn_after_days`` [30] days old or older.
- ``at_risk``: not churned, and at least one reason applies. The reasons (overdue
  for the player's own rhythm, spend dropped, no recent login), their SQL, labels and
  weights are a registry: ``players.churn_reasons``.
- ``active``: otherwise.

Churn risk score, 0–100 (stored, used to order the worklist):

    score = round(Σ weight × strength, over the reasons that apply)

with each reason's weight (50, 30, 20 for the three above) and strength (0–1) from
the registry. Each term grows with its reason's strength, so the score is monotone
in each. ``churned`` scores 100, ``non_payer`` and ``active`` (no reason) score 0.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from ..churn_reasons import reason_choices, reasons
from .profile import PayerStatus, Player

# The reasons' choices, built from the registry (players.churn_reasons).
ChurnReason = models.TextChoices("ChurnReason", [(code.upper(), (code, label)) for code, label in reason_choices()])


class RiskBand(models.TextChoices):
    HIGH = "high", _("High (70-100)")
    MEDIUM = "medium", _("Medium (40-69)")
    LOW = "low", _("Low (1-39)")
    NONE = "none", _("None (0)")


RISK_BANDS = {  # band -> (lowest score, highest score)
    RiskBand.HIGH: (70, 100),
    RiskBand.MEDIUM: (40, 69),
    RiskBand.LOW: (1, 39),
    RiskBand.NONE: (0, 0),
}


def reason_flag_fields() -> dict[str, models.BooleanField]:
    """One ``reason_<code>`` flag per registered churn reason (players.churn_reasons),
    for the tables that store which reasons applied; each such model adds them where
    they belong in its field order. A new registry entry is a new column on those
    tables: ``manage.py makemigrations players``."""
    return {reason.column: models.BooleanField(reason.label, default=False) for reason in reasons()}


class ReasonFlagsMixin:
    """For a model with ``reason_flag_fields()``."""

    @property
    def reasons(self) -> list[str]:
        """The codes of the reasons that applied, in the registry's order."""
        return [reason.code for reason in reasons() if getattr(self, reason.column)]


class ChurnRule(models.Model):
    """The churn rules. One global row (no tier) holds every value; a row for a tier
    overrides only the values it fills in, the rest come from the global row."""

    RULE_FIELDS = (
        "churn_after_days",
        "gap_multiplier",
        "min_gap_days",
        "spend_window_days",
        "spend_drop_ratio",
        "no_login_days",
    )
    DEFAULTS = {
        "churn_after_days": 30,
        "gap_multiplier": Decimal("2.0"),
        "min_gap_days": 7,
        "spend_window_days": 30,
        "spend_drop_ratio": Decimal("0.50"),
        "no_login_days": 7,
    }

    tier = models.OneToOneField(
        "vip.Tier",
        verbose_name=_("VIP tier"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="churn_rule",
        help_text=_("Empty: the global rule. A tier: overrides the global rule for players of that tier."),
    )
    churn_after_days = models.PositiveSmallIntegerField(
        _("churned after (days without payment)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Default 30. Higher tiers may use a shorter window."),
    )
    gap_multiplier = models.DecimalField(
        _("overdue: multiple of the median gap"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_("Default 2: at risk when the days since the last payment exceed twice the player's median gap."),
    )
    min_gap_days = models.PositiveSmallIntegerField(
        _("overdue: at least (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Default 7: the overdue threshold is never shorter than this."),
    )
    spend_window_days = models.PositiveSmallIntegerField(
        _("spend window (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Default 30: recent spend is compared with the same number of days before it."),
    )
    spend_drop_ratio = models.DecimalField(
        _("spend drop: below this share of the previous window"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1"))],
        help_text=_("Default 0.50: at risk when recent spend is under 50 % of the window before."),
    )
    no_login_days = models.PositiveSmallIntegerField(
        _("no login for (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Default 7."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("churn rule")
        verbose_name_plural = _("churn rules")
        ordering = [Coalesce("tier__level", 0)]
        permissions = [("view_churn_report", _("Can see the payer churn reports"))]
        constraints = [
            models.UniqueConstraint(
                Coalesce("tier", models.Value(0)),
                name="churnrule_one_global_row",
                violation_error_message=_("There is already a rule for this tier (or a global rule)."),
            )
        ]

    def __str__(self):
        return str(_("Churn rule for %(tier)s") % {"tier": self.tier}) if self.tier_id else str(_("Global churn rule"))

    @property
    def is_global(self) -> bool:
        return self.tier_id is None

    def clean(self):
        if self.tier_id is None:
            missing = {
                name: [_("The global rule needs a value.")] for name in self.RULE_FIELDS if getattr(self, name) is None
            }
            if missing:
                raise ValidationError(missing)


class PlayerChurn(ReasonFlagsMixin, models.Model):
    """What the churn rules last concluded about one player, and the figures they used.

    Written only by ``players.services.payer_status`` (set-based SQL), on every payment and
    login and by the nightly scan; ``status`` equals the player's ``payer_status``
    once a refresh has finished.
    """

    player = models.OneToOneField(
        "players.Player", verbose_name=_("player"), primary_key=True, on_delete=models.CASCADE, related_name="churn"
    )
    status = models.CharField(_("payer status"), max_length=16, choices=PayerStatus.choices)
    risk_score = models.PositiveSmallIntegerField(_("churn risk"), default=0, db_index=True)
    locals().update(reason_flag_fields())  # reason_overdue, reason_spend_drop, ... (the registry's)
    median_gap_days = models.FloatField(
        _("median gap between purchases (days)"), null=True, blank=True, help_text=_("Empty: fewer than 2 purchases.")
    )
    median_purchases = models.PositiveIntegerField(
        _("purchases behind the median"), default=0, help_text=_("The median is recomputed when purchases change.")
    )
    median_last_paid_at = models.DateTimeField(_("last purchase behind the median"), null=True, blank=True)
    spend_recent = models.DecimalField(_("spend, last window"), max_digits=14, decimal_places=2, default=Decimal("0"))
    spend_previous = models.DecimalField(
        _("spend, window before"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    changed_at = models.DateTimeField(_("evaluated at"), help_text=_("When these figures last changed."))

    class Meta:
        verbose_name = _("payer churn figures")
        verbose_name_plural = _("payer churn figures")
        indexes = [models.Index(fields=["status", "-risk_score"], name="playerchurn_status_risk")]

    def __str__(self):
        return f"{self.player}: {self.get_status_display()} ({self.risk_score})"


class PayerStatusTrigger(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")
    LOGIN = "login", _("Login")
    SCAN = "scan", _("Nightly scan")
    REFRESH = "refresh", _("Refresh")


class PayerStatusChange(ReasonFlagsMixin, models.Model):
    """One row per payer-status transition: from, to, when, why. Churned → active is a
    recovery. The tier is the one the player held at the change, for per-tier reports."""

    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="payer_status_changes"
    )
    from_status = models.CharField(_("from"), max_length=16, choices=PayerStatus.choices)
    to_status = models.CharField(_("to"), max_length=16, choices=PayerStatus.choices)
    changed_at = models.DateTimeField(_("when"))
    tier = models.ForeignKey(
        "vip.Tier", verbose_name=_("VIP tier"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk_score = models.PositiveSmallIntegerField(_("churn risk"), default=0)
    locals().update(reason_flag_fields())  # reason_overdue, reason_spend_drop, ... (the registry's)
    days_since_payment = models.FloatField(_("days since last purchase"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=PayerStatusTrigger.choices)

    class Meta:
        verbose_name = _("payer status change")
        verbose_name_plural = _("payer status changes")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["player", "-changed_at"], name="payerstatus_player_recent"),
            models.Index(fields=["to_status", "changed_at"], name="payerstatus_to_when"),
        ]

    def __str__(self):
        return f"{self.player}: {self.get_from_status_display()} → {self.get_to_status_display()}"

    @property
    def is_recovery(self) -> bool:
        return self.from_status == PayerStatus.CHURNED and self.to_status == PayerStatus.ACTIVE


class ChurnSnapshot(models.Model):
    """Per day and tier, written by the nightly scan: how many payers were in each
    status and the revenue at risk (last-window spend of at-risk payers)."""

    day = models.DateField(_("day"))
    tier = models.ForeignKey(
        "vip.Tier", verbose_name=_("VIP tier"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    active = models.PositiveIntegerField(_("active"), default=0)
    at_risk = models.PositiveIntegerField(_("at risk"), default=0)
    churned = models.PositiveIntegerField(_("churned"), default=0)
    revenue_at_risk = models.DecimalField(_("revenue at risk"), max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("churn snapshot")
        verbose_name_plural = _("churn snapshots")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                "day",
                Coalesce("tier", models.Value(0)),
                name="churnsnapshot_once_per_day_and_tier",
                violation_error_message=_("There is already a snapshot for this day and tier."),
            )
        ]

    def __str__(self):
        return f"{self.day} {self.tier or '-'}"


class AtRiskPlayer(Player):
    """The "At-risk VIPs" worklist in the admin: the same players, another list."""

    class Meta:
        proxy = True
        verbose_name = _("at-risk VIP")
        verbose_name_plural = _("at-risk VIPs")
