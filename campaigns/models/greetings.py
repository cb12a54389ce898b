"""Birthday and festival greetings: rules, the once-per-occasion claim, and gifts."""

from datetime import date, time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.calendar import FESTIVAL_CHOICES, Festival
from crm.channels import message_channel_choices
from players.models import ErasedPlayerRefusedMixin, PayerStatus

# Variables a greeting's texts may use beyond campaigns.templating.TEMPLATE_VARIABLES.
GREETING_VARIABLES = {
    "occasion": _("The occasion, e.g. Birthday or Mid-Autumn Festival"),
    "occasion_date": _("The occasion's date, YYYY-MM-DD"),
    "gift": _("The gift: its code, item or value (empty without a gift)"),
}


class GreetingOccasion(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    REGISTRATION_ANNIVERSARY = "registration", _("Registration anniversary")
    FESTIVAL = "festival", _("Festival")
    CUSTOM_DATE = "custom", _("Custom date")


def occasion_text(occasion: str, festival: str = "", custom_name: str = "") -> str:
    """An occasion in words, in the active language: the festival's name, the custom
    occasion's name, else the kind of occasion (Birthday)."""
    if occasion == GreetingOccasion.FESTIVAL and festival in Festival.values:
        return str(Festival(festival).label)
    if occasion == GreetingOccasion.CUSTOM_DATE:
        return custom_name
    if occasion in GreetingOccasion.values:
        return str(GreetingOccasion(occasion).label)
    return occasion


class GiftKind(models.TextChoices):
    ITEM = "item", _("Item")
    CODE = "code", _("Gift code")
    VALUE = "value", _("Value (credit)")


class CustomOccasion(models.Model):
    """A date the team greets on that the calendar does not know (a game's anniversary)."""

    name = models.CharField(_("name"), max_length=80)
    is_lunar = models.BooleanField(_("lunar date"), default=False)
    month = models.PositiveSmallIntegerField(
        pgettext_lazy("month of the year", "month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(
        pgettext_lazy("day of the month", "day"), validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    year = models.PositiveSmallIntegerField(
        _("year"), null=True, blank=True, help_text=_("Empty: every year. A year: that year only.")
    )

    class Meta:
        ordering = ["month", "day"]
        verbose_name = _("custom occasion")
        verbose_name_plural = _("custom occasions")

    def __str__(self):
        return self.name

    def clean(self):
        if self.month is None or self.day is None:
            return
        if self.is_lunar:
            if self.day > 30:
                raise ValidationError({"day": _("A lunar month has at most 30 days.")})
        else:
            try:
                date(2000, self.month, self.day)  # a leap year: Feb 29 is allowed
            except ValueError:
                raise ValidationError({"day": _("This month has no such day.")}) from None


# A minor's greeting when the rule has no text for minors (in the players' language).
MINOR_GREETING_DEFAULT = _("{nickname}, happy {occasion}!")


class GreetingRule(models.Model):
    """Who is greeted on which occasion, how, and with what gift."""

    name = models.CharField(_("name"), max_length=120)
    is_active = models.BooleanField(pgettext_lazy("greeting rule", "enabled"), default=True)
    occasion = models.CharField(_("occasion"), max_length=16, choices=GreetingOccasion.choices)
    festival = models.CharField(
        _("festival"), max_length=20, choices=FESTIVAL_CHOICES, blank=True, help_text=_("For festival rules.")
    )
    custom_occasion = models.ForeignKey(
        CustomOccasion,
        verbose_name=_("custom occasion"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rules",
        help_text=_("For custom-date rules."),
    )
    starts_on = models.DateField(
        _("starts on"),
        null=True,
        blank=True,
        help_text=_("Occasions whose first action falls before this day are not caught up."),
    )

    # Segment: empty means "any".
    tier_min = models.ForeignKey(
        "vip.Tier", verbose_name=_("lowest VIP tier"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tier_max = models.ForeignKey(
        "vip.Tier",
        verbose_name=_("highest VIP tier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    payer_status = models.CharField(_("payer status"), max_length=16, choices=PayerStatus.choices, blank=True)
    server = models.CharField(_("server"), max_length=32, blank=True)
    player_channel = models.CharField(
        _("player channel"), max_length=32, blank=True, help_text=_("The store or channel the player came from.")
    )
    tags = models.ManyToManyField(
        "players.Tag",
        verbose_name=_("tags"),
        blank=True,
        related_name="+",
        help_text=_("Players with any of these tags; empty means any player."),
    )

    # What the CRM does.
    task_lead_days = models.PositiveSmallIntegerField(
        _("call task lead (days)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(30)],
        help_text=_("Create a call task for the player's manager this many days before; empty: no call task."),
    )
    task_title = models.CharField(_("call task title"), max_length=200, blank=True)
    message_channel = models.CharField(
        _("message channel"),
        max_length=16,
        blank=True,
        choices=message_channel_choices,
        help_text=_("Empty: no automatic message."),
    )
    send_time = models.TimeField(
        _("send at (player time)"), default=time(10, 0), help_text=_("On the day, in the player's time zone.")
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    template = models.TextField(
        _("message"),
        blank=True,
        help_text=_("The automatic message. Variables in braces, e.g. {nickname}; checked when saved."),
    )
    call_script = models.ForeignKey(
        "players.CallScript",
        verbose_name=_("call script"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="greeting_rules",
        limit_choices_to={"category": "greeting_call"},
        help_text=_("For the call task: a greeting-call script from the script library, filled in for each player."),
    )
    minor_template = models.TextField(
        _("text for minors"),
        blank=True,
        help_text=_(
            "Sent (or used as the call script) for players under 18 instead of the text above: they get no gift "
            "and nothing about spending, as the law forbids marketing to minors. Empty: a plain greeting."
        ),
    )

    gift_kind = models.CharField(_("gift"), max_length=8, choices=GiftKind.choices, blank=True)
    gift_item = models.CharField(
        _("gift item or code prefix"), max_length=120, blank=True, help_text=_("For gift codes: the code's prefix.")
    )
    gift_value = models.DecimalField(
        _("gift value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Counted against the tier's monthly gift budget."),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("greeting rule")
        verbose_name_plural = _("greeting rules")

    def __str__(self):
        return self.name

    @property
    def lead_days(self) -> int:
        """How many days before the occasion the first action happens."""
        return self.task_lead_days or 0

    def clean(self):
        errors = {}
        if self.occasion == GreetingOccasion.FESTIVAL and not self.festival:
            errors["festival"] = _("Choose the festival.")
        if self.occasion == GreetingOccasion.CUSTOM_DATE and not self.custom_occasion_id:
            errors["custom_occasion"] = _("Choose the custom occasion.")
        if self.task_lead_days is None and not self.message_channel:
            errors["message_channel"] = _("A rule needs a call task, a message, or both.")
        if self.message_channel and not self.template.strip():
            errors["template"] = _("A message needs a text.")
        if not self.message_channel and self.template.strip():
            errors["template"] = _("A call's script comes from the script library: choose it as the call script.")
        if self.call_script_id and self.task_lead_days is None:
            errors["call_script"] = _("A call script needs a call task: set the call task lead.")
        for field in ("template", "minor_template", "task_title", "subject"):
            if field not in errors and getattr(self, field):
                from ..templating import template_validate

                try:
                    template_validate(getattr(self, field), extra_variables=GREETING_VARIABLES)
                except ValidationError as exc:
                    errors[field] = exc.messages
        if self.gift_kind and self.gift_kind != GiftKind.VALUE and not self.gift_item:
            errors["gift_item"] = _("Name the gift item or the code prefix.")
        if self.gift_kind == GiftKind.VALUE and not self.gift_value:
            errors["gift_value"] = _("A credit gift needs a value.")
        if self.tier_min_id and self.tier_max_id and self.tier_min.level > self.tier_max.level:
            errors["tier_max"] = _("The highest tier is below the lowest tier.")
        if errors:
            raise ValidationError(errors)


class GreetingStatus(models.TextChoices):
    DONE = "done", _("Greeted")
    SKIPPED = "skipped", _("Skipped")


class Greeting(models.Model):
    """One (rule, player, occasion date): claimed by a unique insert before anything
    is created or sent, so a double run, a duplicated beat or a second worker greet once."""

    rule = models.ForeignKey(GreetingRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="greetings")
    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="greetings"
    )
    occasion_date = models.DateField(_("occasion date"))
    status = models.CharField(_("status"), max_length=8, choices=GreetingStatus.choices, default=GreetingStatus.DONE)
    # The run that won the claim (a random token); lets a run find what it claimed.
    claim = models.CharField(_("claimed by run"), max_length=32, blank=True)
    # What the claim got. No database foreign keys (as OutreachTask.player): the job links
    # 100,000s of greetings in one transaction, and the deferred checks at commit run a
    # plan cached per connection, a sequential scan of the gift ledger per greeting when
    # it was planned on a near-empty ledger (70 s per 50,000 greetings, measured). Django
    # still nulls the links when a task, message or gift is deleted.
    task = models.ForeignKey(
        "campaigns.OutreachTask",
        verbose_name=_("call task"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
    )
    message = models.ForeignKey(
        "campaigns.Message",
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
    )
    gift = models.ForeignKey(
        "campaigns.GiftEntry",
        verbose_name=_("gift"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("skipped by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-occasion_date", "-id"]
        verbose_name = _("greeting")
        verbose_name_plural = _("greetings")
        permissions = [("skip_greeting", _("Can skip an upcoming greeting"))]
        indexes = [
            models.Index(fields=["player", "occasion_date"], name="greeting_player_date"),
            models.Index(fields=["claim"], name="greeting_claim"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "player", "occasion_date"],
                name="greeting_once_per_rule_player_date",
                violation_error_message=_("This player was already greeted for this occasion by this rule."),
            )
        ]

    def __str__(self):
        return f"{self.rule} · {self.occasion_date:%Y-%m-%d}"


class GiftBudget(models.Model):
    """How much gift value a VIP tier may receive per calendar month."""

    tier = models.OneToOneField("vip.Tier", verbose_name=_("VIP tier"), on_delete=models.CASCADE, related_name="+")
    monthly_amount = models.DecimalField(
        _("monthly budget"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        ordering = ["tier__level"]
        verbose_name = _("gift budget")
        verbose_name_plural = _("gift budgets")

    def __str__(self):
        return f"{self.tier}: {self.monthly_amount}"


class GiftEntry(ErasedPlayerRefusedMixin, models.Model):
    """The gift ledger: every gift given to a player (greetings, case compensation).
    Written only by `campaigns.services.gifts.gift_record` (and its bulk twin)."""

    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.PROTECT, related_name="gifts"
    )
    tier = models.ForeignKey(
        "vip.Tier",
        verbose_name=_("VIP tier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The player's tier when given; the budget it counts against."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=GiftKind.choices)
    item = models.CharField(_("item"), max_length=120, blank=True)
    code = models.CharField(_("code"), max_length=64, blank=True)
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    month = models.DateField(_("budget month"), help_text=_("First day of the month the gift counts against."))
    given_on = models.DateField(_("given on"))
    # What gave it, e.g. "greeting:3:20261122" or "case:17"; unique with the player.
    source = models.CharField(_("source"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("given by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-given_on", "-id"]
        verbose_name = _("gift")
        verbose_name_plural = _("gift ledger")
        indexes = [models.Index(fields=["tier", "month"], name="gift_tier_month")]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "source"],
                condition=~models.Q(source=""),
                name="gift_once_per_player_and_source",
                violation_error_message=_("This player already received a gift from this source."),
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.item or self.code} ({self.value})"
