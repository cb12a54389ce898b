"""Retention outreach campaigns: who to reach (a saved segment), how (tasks for the
managers or automatic messages), and the control group that proves what it brought back."""

import secrets
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.calendar import FESTIVAL_CHOICES, festival_choice_label, festival_dates, festival_next
from crm.channels import Channel, message_channel_choices
from players.models import ContactOutcome

from . import OutreachTask


class CampaignGoal(models.TextChoices):
    WIN_BACK = "win_back", _("Win-back")
    VIP_CARE = "vip_care", _("VIP care")
    NEW_TIER_WELCOME = "new_tier_welcome", _("New-tier welcome")
    EVENT_PROMOTION = "event_promotion", _("Event promotion")
    OTHER = "other", _("Other")


class CampaignChannel:
    """How a campaign reaches its players: a phone-call task for the manager, or one of
    the message channels of the registry (crm.channels), not another enumeration."""

    PHONE_TASK = "phone_task"
    SMS = Channel.SMS.value
    EMAIL = Channel.EMAIL.value
    IN_GAME = Channel.IN_GAME.value


# WeChat through WeCom sends one text to all of a member's customers as one group-message
# task the member confirms in WeCom; every different text is another task to confirm. Only
# variables shared by many players (a tier, a server, the manager) may be in such a text.
WECOM_TEXT_VARIABLES = ("manager", "tier", "server")


def wecom_text_errors(text: str) -> list[str]:
    """Why `text` cannot go as a WeCom group message (a variable that differs per player),
    or []."""
    from players.templating import template_variables

    personal = [name for name in template_variables(text) if name not in WECOM_TEXT_VARIABLES]
    if not personal:
        return []
    return [
        _(
            "On WeChat (WeCom) one group message carries one text to all of a member's customers, and "
            "every different text is another task the member confirms one by one in WeCom: %(variables)s "
            "would make one task per player. Remove it, or choose another channel. Allowed here: %(allowed)s."
        )
        % {
            "variables": ", ".join(f"{{{name}}}" for name in personal),
            "allowed": ", ".join(f"{{{name}}}" for name in WECOM_TEXT_VARIABLES),
        }
    ]


def campaign_channel_choices() -> list[tuple[str, str]]:
    return [(CampaignChannel.PHONE_TASK, _("Phone-call task for the manager")), *message_channel_choices()]


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LAUNCHING = "launching", _("Launching")
    LAUNCHED = "launched", _("Launched")


def _new_holdout_seed():
    return secrets.randbelow(2**31)


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=120)
    goal = models.CharField(_("goal"), max_length=20, choices=CampaignGoal.choices, default=CampaignGoal.WIN_BACK)
    segment = models.JSONField(
        _("segment"), default=dict, blank=True, help_text=_("The saved filter choosing the players.")
    )
    channel = models.CharField(
        _("channel"), max_length=16, choices=campaign_channel_choices, default=CampaignChannel.PHONE_TASK
    )
    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("Email subject; may use variables.")
    )
    template = models.TextField(
        _("message"),
        blank=True,
        help_text=_("The message text for SMS, e-mail or in-game mail. Variables such as {nickname}."),
    )
    call_script = models.ForeignKey(
        "players.CallScript",
        verbose_name=_("call script"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text=_("For phone-call tasks: the script (话术) from the script library, filled in for each player."),
    )
    festival = models.CharField(
        _("festival"),
        max_length=20,
        choices=FESTIVAL_CHOICES,
        blank=True,
        help_text=_(
            "Optional: a festival or solar term the campaign goes out on (除夕, 清明, 冬至...). "
            "Its start is that day; left empty, the festival's next day is filled in."
        ),
    )
    start_date = models.DateField(_("start"))
    due_date = models.DateField(_("due"))
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"),
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text=_(
            "Share of the segment left out on purpose, as the control group that results are measured against."
        ),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=50,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "0–100. When two campaigns compete for a player's last message allowed on a channel, "
            "the higher priority is sent and the other waits, with the reason."
        ),
    )
    holdout_seed = models.PositiveIntegerField(
        _("holdout seed"),
        default=_new_holdout_seed,
        editable=False,
        help_text=_("Makes the control group random, yet the same every time it is computed."),
    )
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team for unmanaged players"),
        blank=True,
        related_name="campaign_teams",
        help_text=_("Phone tasks for players without a VIP manager go round-robin to these people."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns_owned",
    )
    status = models.CharField(_("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("launched by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["status", "launched_at", "launched_by"])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [
            ("launch_campaign", _("Can launch campaigns")),
            ("view_campaign_results", _("Can see campaign results")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(due_date__gte=models.F("start_date")),
                name="campaign_due_after_start",
                violation_error_message=_("The due date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=models.Q(holdout_percent__lte=90),
                name="campaign_holdout_at_most_90",
                violation_error_message=_("The holdout can be at most 90 %."),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def source(self) -> str:
        """The source of its tasks and messages (unique per player)."""
        return f"campaign:{self.pk}"

    @property
    def is_automatic(self) -> bool:
        return self.channel != CampaignChannel.PHONE_TASK

    def clean(self):
        from ..segments import segment_validate
        from ..templating import template_validate

        errors = {}
        for field in ("template", "subject"):
            try:
                template_validate(getattr(self, field))
            except ValidationError as exc:
                errors[field] = exc.messages
        if self.channel == CampaignChannel.PHONE_TASK:
            # a call's script comes from the script library, not from free text here
            if not self.call_script_id:
                errors["call_script"] = [_("Choose the call script from the script library.")]
            else:  # a greeting call's script speaks of an occasion a campaign has not got
                from players.templating import SCRIPT_USE, USE_VARIABLES

                try:
                    template_validate(self.call_script.text(), extra_variables=USE_VARIABLES[SCRIPT_USE])
                except ValidationError as exc:
                    errors["call_script"] = exc.messages
            if self.template.strip() and "template" not in errors:
                errors["template"] = [
                    _("A phone campaign's script comes from the script library: leave the message empty.")
                ]
        elif not self.template.strip() and "template" not in errors:
            errors["template"] = [_("A message needs a text.")]
        elif self.channel == Channel.WECHAT and "template" not in errors:
            errors["template"] = wecom_text_errors(self.template)
            if not errors["template"]:
                del errors["template"]
        try:
            segment_validate(self.segment)
        except ValidationError as exc:
            errors["segment"] = exc.messages
        if self.channel == CampaignChannel.EMAIL and not self.subject:
            errors["subject"] = [_("An email needs a subject.")]
        if (
            self.festival
            and self.start_date
            and self.start_date not in festival_dates(self.festival, self.start_date, self.start_date)
        ):
            errors["start_date"] = [festival_start_error(self.festival, self.start_date)]
        if errors:
            raise ValidationError(errors)


def festival_start_error(festival: str, start: date) -> str:
    following = festival_next(festival, start)
    params = {"festival": festival_choice_label(festival), "start": start.isoformat()}
    if following is None:
        return _("%(festival)s does not fall on %(start)s.") % params
    return _("%(festival)s does not fall on %(start)s: its next day is %(next)s.") % {
        **params,
        "next": following.isoformat(),
    }


REACHED_OUTCOMES = (ContactOutcome.REACHED, ContactOutcome.REFUSED, ContactOutcome.PROMISED_RETURN)


class CampaignTarget(models.Model):
    """One player chosen by a launched campaign, in the treated group or the holdout.

    Results are counted from these rows: contact (from the task outcome or the message
    sent), return (first login seen within 14 days of the reference time: contact, or
    launch for those not contacted and for the holdout) and payments from the ledger
    within 30 days of the reference time.
    """

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="targets",
        db_index=False,  # the unique (campaign, player) index starts with it
        db_constraint=False,  # see player
    )
    # No database foreign keys: a launch inserts 100,000s of targets at once, and the
    # checks would share-lock the referenced row once per inserted row at commit
    # (seconds per 100,000). Django cascades deletes.
    player = models.ForeignKey(
        "players.Player",
        verbose_name=_("player"),
        on_delete=models.CASCADE,
        related_name="campaign_targets",
        db_constraint=False,
    )
    is_holdout = models.BooleanField(_("holdout"), default=False)
    reference_at = models.DateTimeField(_("measured from"))
    contacted_at = models.DateTimeField(_("contacted at"), null=True, blank=True)
    reached_at = models.DateTimeField(_("reached at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=ContactOutcome.choices, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "player"],
                name="campaign_target_once",
                violation_error_message=_("This player is already a target of this campaign."),
            )
        ]

    def __str__(self):
        return f"{self.campaign_id}:{self.player_id}"


class WorklistTask(OutreachTask):
    """The manager's worklist in the admin: my open tasks due today or overdue."""

    class Meta:
        proxy = True
        verbose_name = _("my worklist")
        verbose_name_plural = _("my worklist")
