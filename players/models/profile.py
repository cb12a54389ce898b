"""A player's profile: who they are in the game, their tier and manager, what staff note."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from crm.channels import Channel

from ..validators import validate_birthday, validate_game_time
from .minors import ADULT_AGE, CHILD_AGE, age_on


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

    # The VIP person: a person is their main account; an account linked to it points there
    # (one level: a main account points nowhere). Written only by players.services.persons.
    person_account = models.ForeignKey(
        "self",
        verbose_name=_("main account (VIP person)"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="linked_accounts",
        db_index=False,  # player_person_linked: only the few linked accounts are indexed
    )

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)
    # Set by players.services.privacy.erasure_confirm: the personal data is gone, the
    # account id is a digest (the ledger still finds it), the game's profile is refused.
    erased_at = models.DateTimeField(_("personal data erased at"), null=True, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=[
            "total_spend",
            "purchase_count",
            "first_paid_at",
            "last_paid_at",
            "updated_at",
            "birthday_md",
            "erased_at",
            "person_account",
        ],
        m2m_fields=[tags],
        # History is read by the player (`id`) and by who changed it, never by account id,
        # manager or tier: an index on those would only cost each row written (a server
        # merge writes one per moved account: 1M rows spent ~14 s of ~48 s on the two
        # account id indexes, bench/bench_servers.py).
        no_db_index=["account_id", "manager", "tier"],
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
            # A person's linked accounts: a partial index, so a million unlinked accounts cost nothing.
            models.Index(
                fields=["person_account"], name="player_person_linked", condition=models.Q(person_account__isnull=False)
            ),
            # Two more search indexes exist on PostgreSQL only (migration 0012): the phone's
            # last four digits and the reversed account id (an account id without its prefix).
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(person_account=models.F("pk")),
                name="player_person_not_self",
                violation_error_message=_("An account cannot be linked to itself."),
            ),
            models.CheckConstraint(
                condition=models.Q(total_spend__gte=0),
                name="player_total_spend_not_negative",
                violation_error_message=_("Total spend cannot be negative."),
            ),
        ]

    def __str__(self):
        if self.erased_at:
            return str(_("(personal data erased)"))
        return f"{self.nickname or '-'} ({self.account_id})"

    # Minority is derived from the date of birth (never a flag to keep up to date): it
    # lifts itself on the 18th birthday. See players.models.minors.
    @property
    def age(self) -> int | None:
        return age_on(self.birthday, timezone.localdate())

    @property
    def is_minor(self) -> bool:
        age = self.age
        return age is not None and age < ADULT_AGE

    @property
    def is_child(self) -> bool:
        """Under 14: their personal information is sensitive (PIPL Art. 28/31)."""
        age = self.age
        return age is not None and age < CHILD_AGE
