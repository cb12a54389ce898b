"""Minors (derived from the date of birth, `players.selectors.minors`): the NPPA spending
caps a payment went over, for supervisors to follow up (a refund to the guardian, a word
with the game's anti-addiction team). Written by `players.services.minors` only, from
the ledger's one writer."""

from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

ADULT_AGE = 18
CHILD_AGE = 14  # under it, personal information is sensitive (PIPL Art. 28, 31)


def age_on(birthday: date | None, day: date) -> int | None:
    """Full years from `birthday` to `day` (None without a birthday)."""
    if birthday is None:
        return None
    return day.year - birthday.year - ((day.month, day.day) < (birthday.month, birthday.day))


def born_after(day: date, years: int) -> date:
    """Whoever was born after the returned date is younger than `years` on `day`
    (a 29 February birthday comes of age on 1 March in common years)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return date(day.year - years, 2, 28)


class MinorBand(models.TextChoices):
    """Where a player's date of birth puts them today (no birthday: not known)."""

    ADULT = "adult", _("no (18 or over)")
    MINOR = "minor", _("minor (under 18)")
    CHILD = "child", _("under 14: sensitive personal information")


class MinorSpendRule(models.TextChoices):
    NO_PAYMENT = "no_payment", _("No paid service at this age")
    PER_PAYMENT = "per_payment", _("Over the cap per payment")
    PER_MONTH = "per_month", _("Over the monthly cap")


class MinorSpendFlag(models.Model):
    """One payment by a minor over a cap of their age (one flag per payment and rule)."""

    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="minor_spend_flags"
    )
    payment = models.ForeignKey(
        "players.Payment", verbose_name=_("payment"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rule = models.CharField(_("rule"), max_length=16, choices=MinorSpendRule.choices)
    age = models.PositiveSmallIntegerField(_("age at payment"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    month_total = models.DecimalField(_("spent in the month"), max_digits=14, decimal_places=2)
    cap = models.DecimalField(_("cap"), max_digits=14, decimal_places=2)
    occurred_at = models.DateTimeField(_("paid at"))
    created_at = models.DateTimeField(_("flagged at"))
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    review_note = models.TextField(_("review note"), blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("minor's payment over the cap")
        verbose_name_plural = _("minors' payments over the caps")
        permissions = [("review_minorspendflag", _("Can review minors' payments over the caps"))]
        constraints = [
            models.UniqueConstraint(fields=["payment", "rule"], name="minor_flag_once_per_payment_rule"),
        ]
        indexes = [models.Index(fields=["reviewed_at", "-occurred_at"], name="minor_flag_queue")]

    def __str__(self):
        return f"{self.player} · {self.get_rule_display()}"
