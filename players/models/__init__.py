"""Players, their payment ledger and every contact with them."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from crm.channels import Channel

from ..validators import validate_birthday, validate_game_time


class PayerStatus(models.TextChoices):
    NON_PAYER = "non_payer", _("Non-payer")
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")


# The one channel enumeration lives in the channel registry (crm/channels.py).
ContactChannel = Channel


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=40, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default="#607d8b")

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Player(models.Model):
    """One game account, as the game knows it plus what the VIP team adds.

    The money fields (`total_spend`, `purchase_count`, `first_paid_at`,
    `last_paid_at`) are derived from the Payment ledger by `players.services` and
    can be rebuilt with `manage.py rebuild_player_totals`.
    """

    # Personal data: masked without players.view_personal_data, never in the API.
    PERSONAL_FIELDS = ("real_name", "phone", "qq", "wechat", "email", "birthday")
    # Computed from personal data: never a filter, an ordering or a column for those who may not see it.
    PERSONAL_DERIVED_FIELDS = ("birthday_md", "birthday_is_lunar")

    account_id = models.CharField(_("account id"), max_length=64, unique=True)
    server = models.CharField(_("server"), max_length=32, blank=True)
    nickname = models.CharField(_("nickname"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    level = models.PositiveIntegerField(_("game level"), default=0)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True, validators=[validate_game_time])
    last_login_at = models.DateTimeField(_("last login"), null=True, blank=True, validators=[validate_game_time])

    real_name = models.CharField(_("real name"), max_length=64, blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    qq = models.CharField(_("QQ"), max_length=20, blank=True)
    wechat = models.CharField(_("WeChat id"), max_length=64, blank=True)
    email = models.EmailField(_("email"), blank=True)
    birthday = models.DateField(
        _("birthday"),
        null=True,
        blank=True,
        validators=[validate_birthday],
        help_text=_(
            "The date of birth on the Gregorian calendar. Tick 'lunar birthday' to celebrate it on its lunar anniversary."
        ),
    )
    birthday_is_lunar = models.BooleanField(_("lunar birthday"), default=False)
    # Greeting index (crm.calendar): MMDD of the birthday on its calendar, lunar
    # month/day for lunar birthdays. Kept current by players.services.birthdays.
    birthday_md = models.PositiveSmallIntegerField(_("birthday key (MMDD)"), null=True, blank=True, editable=False)

    # Staff-owned: never overwritten by the game API, nor by imports without the column.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("VIP manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="players",
        db_index=False,  # player_manager_recent (manager, -id) serves every lookup by manager
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="players")
    notes = models.TextField(_("notes"), blank=True)
    preferred_channel = models.CharField(
        _("preferred contact channel"), max_length=16, choices=ContactChannel.choices, blank=True
    )
    marketing_opt_out = models.BooleanField(_("opted out of marketing"), default=False)
    is_minor = models.BooleanField(_("minor"), default=False)
    timezone = models.CharField(
        _("time zone"), max_length=40, blank=True, help_text=_("Empty means the CRM's time zone.")
    )

    # Derived from the ledger.
    total_spend = models.DecimalField(_("total spend"), max_digits=14, decimal_places=2, default=Decimal("0"))
    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    first_paid_at = models.DateTimeField(_("first paid"), null=True, blank=True)
    last_paid_at = models.DateTimeField(_("last paid"), null=True, blank=True)
    payer_status = models.CharField(
        _("payer status"), max_length=16, choices=PayerStatus.choices, default=PayerStatus.NON_PAYER
    )

    # VIP: the effective tier, maintained by vip.services.
    tier = models.ForeignKey(
        "vip.Tier", verbose_name=_("VIP tier"), null=True, blank=True, on_delete=models.PROTECT, related_name="players"
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    tier_pinned_until = models.DateTimeField(_("tier pinned until"), null=True, blank=True)
    tier_below_since = models.DateTimeField(
        _("below tier since"),
        null=True,
        blank=True,
        help_text=_(
            "When the player's rolling spend first fell below the tier; the downgrade grace period counts from here."
        ),
    )

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    history = HistoricalRecords(
        excluded_fields=["total_spend", "purchase_count", "first_paid_at", "last_paid_at", "updated_at", "birthday_md"],
        m2m_fields=[tags],
    )

    class Meta:
        verbose_name = _("player")
        verbose_name_plural = _("players")
        ordering = ["-id"]
        permissions = [
            ("view_personal_data", _("Can see players' personal data (phone, real name, birthday, QQ, WeChat, email)")),
            ("view_all_players", _("Can see every player, not only their own")),
            ("assign_manager", _("Can assign players to VIP managers")),
            ("export_players", _("Can export player lists")),
            ("export_large", _("Can export lists larger than the export limit")),
            ("import_players", _("Can import player lists and payment history")),
        ]
        # Every index is written again by each update of a player row (the payment path
        # updates totals, tier and status), so each one here earns its place. Plain
        # indexes for server, channel and phone: they are searched by equality only, and
        # db_index=True would add a second LIKE-pattern index for each on PostgreSQL.
        indexes = [
            models.Index(fields=["server"], name="player_server"),
            models.Index(fields=["channel"], name="player_channel"),
            models.Index(fields=["phone"], name="player_phone"),
            models.Index(fields=["manager", "-id"], name="player_manager_recent"),
            models.Index(fields=["payer_status", "manager"], name="player_status_manager"),
            models.Index(fields=["last_paid_at"], name="player_last_paid"),
            models.Index(fields=["last_login_at"], name="player_last_login"),
            models.Index(fields=["total_spend"], name="player_total_spend"),
            models.Index(fields=["birthday_is_lunar", "birthday_md"], name="player_birthday_md"),
            models.Index(
                fields=["id"],
                condition=models.Q(birthday__isnull=False, birthday_md__isnull=True),
                name="player_birthday_md_stale",
            ),
            # Nickname prefix search (LIKE 'abc%'): on PostgreSQL the pattern opclass makes
            # the index usable under any collation; other databases get a plain index.
            models.Index(fields=["nickname"], name="player_nickname_prefix", opclasses=["varchar_pattern_ops"]),
            # Search by real name (exact); half the players have none, so only those who do.
            models.Index(fields=["real_name"], name="player_real_name", condition=~models.Q(real_name="")),
            # Two more search indexes exist on PostgreSQL only (migration 0012): the phone's
            # last four digits and the reversed account id (an account id without its prefix).
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_spend__gte=0),
                name="player_total_spend_not_negative",
                violation_error_message=_("Total spend cannot be negative."),
            ),
        ]

    def __str__(self):
        return f"{self.nickname or '-'} ({self.account_id})"


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
            models.Index(fields=["-occurred_at"], name="payment_recent"),
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


class ContactDirection(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class ContactOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    REFUSED = "refused", _("Refused")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    PROMISED_RETURN = "promised_return", _("Promised to return")
    MESSAGE_SENT = "message_sent", _("Message sent")
    OTHER = "other", _("Other")


class ContactLog(models.Model):
    """Every contact with a player (回访): who, when, how, what, and what next."""

    player = models.ForeignKey(Player, verbose_name=_("player"), on_delete=models.CASCADE, related_name="contacts")
    channel = models.CharField(
        _("channel"), max_length=16, choices=ContactChannel.choices, default=ContactChannel.PHONE
    )
    direction = models.CharField(
        _("direction"), max_length=16, choices=ContactDirection.choices, default=ContactDirection.OUTBOUND
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    contacted_at = models.DateTimeField(_("contacted at"), db_index=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=ContactOutcome.choices, blank=True)
    next_follow_up = models.DateField(_("next follow-up"), null=True, blank=True, db_index=True)
    # What produced it automatically, e.g. "task:12" or "message:40"; empty when typed by staff.
    source = models.CharField(_("source"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contact log")
        ordering = ["-contacted_at"]
        indexes = [models.Index(fields=["player", "-contacted_at"], name="contact_player_recent")]

    def __str__(self):
        return f"{self.player} {self.get_channel_display()} {self.contacted_at:%Y-%m-%d}"


from .imports import ExportFormat, ExportRecord, ImportJob, ImportKind, ImportStatus, InvalidRowPolicy  # noqa: E402,F401
from .payer_status import AtRiskPlayer, ChurnRule, ChurnSnapshot, PayerStatusChange, PlayerChurn  # noqa: E402,F401
from .service_records import (  # noqa: E402,F401  (service records: cases, SLA, feedback)
    CASE_TRANSITIONS,
    CLOCK_RUNNING,
    OPEN_STATUSES,
    Case,
    CaseCategory,
    CaseEvent,
    CaseEventType,
    CaseSeverity,
    CaseStatus,
    ContactLogChange,
    FeedbackKind,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    SlaPolicy,
)
