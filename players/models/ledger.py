"""The payment ledger: append-only, written only by `players.services.ledger`."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .profile import Player


class PaymentKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    REFUND = "refund", _("Refund")


class PaymentSource(models.TextChoices):
    API = "api", _("Game API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")
    DEMO = "demo", _("Demo data")


class Payment(models.Model):
    """The append-only ledger. Written only by `players.services.ledger.payments_record_batch`."""

    # Indexed by payment_player_recent (player first): a second index on player alone
    # would only cost every insert.
    player = models.ForeignKey(
        Player, verbose_name=_("player"), on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    source = models.CharField(_("source"), max_length=16, choices=PaymentSource.choices)
    source_ref = models.CharField(
        _("source reference"), max_length=64, blank=True, help_text=_("The API client for events from the game API.")
    )
    event_id = models.CharField(_("event id"), max_length=128)
    kind = models.CharField(_("type"), max_length=16, choices=PaymentKind.choices)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(_("currency"), max_length=3)
    amount_base = models.DecimalField(
        _("amount in base currency"), max_digits=14, decimal_places=2, help_text=_("Counts towards spend and tiers.")
    )
    server = models.CharField(_("server"), max_length=32, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    order_id = models.CharField(_("order id"), max_length=128, blank=True)
    product = models.CharField(_("product"), max_length=200, blank=True)
    refund_of = models.CharField(_("refund of"), max_length=128, blank=True)
    fingerprint = models.CharField(
        _("content fingerprint"),
        max_length=64,
        help_text=_("Digest of the event's content, to tell a retry from a conflict."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # payment_recorded_by: only the few entered by staff
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["player", "-occurred_at"], name="payment_player_recent"),
            # Newest first (the payments list); it also carries what the period sums read
            # (top spenders, the year-end summary: spend per player in a period), so those
            # are index-only scans on PostgreSQL instead of reading the whole ledger's pages.
            models.Index(
                fields=["-occurred_at"], name="payment_recent_cover", include=["player", "kind", "amount_base"]
            ),
            # Game events carry no staff user; indexing their NULLs would cost every insert.
            models.Index(
                fields=["recorded_by"], name="payment_recorded_by", condition=models.Q(recorded_by__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_ref", "event_id"],
                name="payment_event_unique_per_source",
                violation_error_message=_("This event id was already recorded from this source."),
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_message=_("Amount must be greater than 0."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.event_id})"

    @property
    def signed_amount_base(self):
        return self.amount_base if self.kind == PaymentKind.PURCHASE else -self.amount_base


class ProjectionPending(models.Model):
    """A player whose derived state (totals, tier, payer status) has not yet caught up
    with the ledger or their last login: the durable "to project" mark.

    The ledger's writer and the logins' writer add one in the same transaction as the
    events, a new row per player per batch (an insert only, so a writer never waits for
    a projection holding the player's older marks); the projection
    (`players.services.projection`) takes all of a player's marks at once (repeated
    players coalesce) and deletes them in the transaction that applies them. A crash between the two loses nothing: the mark stays, and the
    projection recomputes from the ledger. Holds ids and times only (nothing about the
    person), so it is not a player table for the privacy registry.
    """

    id = models.BigAutoField(primary_key=True)
    player_id = models.BigIntegerField(db_index=True)
    since = models.DateTimeField(help_text="When the events this mark stands for were received.")
    ledger = models.BooleanField(default=False, help_text="The player's payments moved: recompute the totals.")

    class Meta:
        verbose_name = _("player awaiting projection")
        verbose_name_plural = _("players awaiting projection")
        # Oldest first: the projection claims in this order, and the lag is its first entry.
        indexes = [models.Index(fields=["since"], name="projection_pending_since")]

    def __str__(self):
        return f"{self.player_id} @ {self.since:%Y-%m-%d %H:%M:%S}"
