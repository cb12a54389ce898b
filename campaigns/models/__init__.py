"""Outreach work for VIP managers (tasks) and automatic messages to players."""

from contextlib import suppress
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from crm.channels import Channel, message_channel_choices
from crm.formatting import money, when
from crm.privacy import label_text
from players.churn_reasons import reason_label
from players.models import ContactOutcome, ErasedPlayerRefusedMixin

from ..sms_codes import code_meaning, provider_label


class TaskKind(models.TextChoices):
    WIN_BACK = "win_back", _("Win-back")
    VIP_CARE = "vip_care", _("VIP care")
    GREETING = "greeting", _("Greeting")
    FOLLOW_UP = "follow_up", _("Follow-up")
    OTHER = "other", _("Other")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


def winback_why_text(params: dict) -> str:
    """Why a win-back task was made, in the active language, from its title parameters:
    {"status": "churned"} or {"status": "at_risk", "reasons": [churn reason codes]}."""
    if params.get("status") == "churned":
        return str(_("churned"))
    labels = []
    for code in params.get("reasons") or []:
        try:
            labels.append(str(reason_label(code)))
        except ValueError:  # a reason since retired: its code is not shown
            continue
    return pgettext("list separator", ", ").join(labels) if labels else str(_("at risk"))


def top_spender_title_text(name: str, params: dict) -> str:
    """A top spender's (or key customer's) return-visit title in the active language, with the
    gift proposed."""
    values = {
        "player": name,
        "rank": params.get("rank", ""),
        "server": params.get("server") or _("all servers"),
        "start": params.get("start", ""),
        "end": params.get("end", ""),
        "spend": money(params.get("spend") or 0),
    }
    title = str(KEY_CUSTOMER_TITLE if params.get("key") else TaskTitle.TOP_SPENDER.label) % values
    gift = Decimal(params.get("gift") or 0)
    if gift > 0:
        return title + str(_("; propose a gift worth %(value)s")) % {"value": money(gift)}
    if params.get("no_gift") == "small":
        return title
    return title + str(_("; no gift: the tier's gift budget is used up"))


# A key customer's return visit (TaskTitle.TOP_SPENDER with "key" in its parameters).
KEY_CUSTOMER_TITLE = _("Return visit: %(player)s, key customer, spent %(spend)s in %(start)s – %(end)s")


class TaskTitle(models.TextChoices):
    """Titles the CRM writes itself: stored as the code with `OutreachTask.title_params`,
    read in the reader's language (`OutreachTask.title_text`)."""

    GREETING_CALL = "greeting_call", _("%(occasion)s on %(date)s: call %(player)s")
    WIN_BACK = "win_back", _("Win back %(player)s (%(why)s)")
    TOP_SPENDER = (
        "top_spender",
        _("Return visit: %(player)s, No. %(rank)s on %(server)s for %(start)s – %(end)s, spent %(spend)s"),
    )


class OutreachTask(ErasedPlayerRefusedMixin, models.Model):
    """A piece of work for a VIP manager: call this player about this, by this date."""

    # Campaign launches insert 100,000s of tasks at once: a database foreign key checks
    # (and share-locks) the referenced row of every inserted row at commit, seconds per
    # 100,000. So these foreign keys have no database constraint; Django still cascades
    # deletes and nulls, and nothing deletes players, users or campaigns by raw SQL.
    player = models.ForeignKey(
        "players.Player",
        verbose_name=_("player"),
        on_delete=models.CASCADE,
        related_name="tasks",
        db_constraint=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_index=False,  # the worklist index starts with it
        db_constraint=False,  # see player
    )
    kind = models.CharField(_("kind"), max_length=16, choices=TaskKind.choices, default=TaskKind.OTHER)
    title = models.CharField(_("title"), max_length=200)
    script = models.TextField(_("call script"), blank=True)
    due_date = models.DateField(_("due"), db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(_("outcome"), max_length=20, choices=ContactOutcome.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    # What created it, e.g. "campaign:3", "greeting:7", "churn"; unique with the player
    # where the creator must not create the same task twice.
    source = models.CharField(_("source"), max_length=64, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
        db_constraint=False,  # see player
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,  # see player
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # A title the CRM wrote (a greeting call, a win-back): a `TaskTitle` code and its parameters, read
    # in the reader's language by `title_text`; `title` keeps it in the job's language
    # (search). Empty for titles people or campaigns name.
    title_code = models.CharField(
        _("title code"), max_length=32, choices=TaskTitle.choices, blank=True, default="", db_default=""
    )
    title_params = models.JSONField(_("title parameters"), default=dict, db_default={}, blank=True)
    # Why the CRM cancelled it (a `MessageReason` code: no consent, a minor),
    # read in the reader's language by `note_text` before the staff's note.
    status_reason = models.CharField(_("reason"), max_length=32, blank=True, default="", db_default="")

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("outreach task")
        verbose_name_plural = _("outreach tasks")
        permissions = [("record_outcome", _("Can record outcomes of tasks on their players"))]
        indexes = [models.Index(fields=["assignee", "status", "due_date"], name="task_worklist")]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "source"],
                condition=~models.Q(source=""),
                name="task_once_per_player_and_source",
                violation_error_message=_("This player already has a task from this source."),
            )
        ]

    def __str__(self):
        return label_text(self, self.title_text)

    @property
    def title_text(self) -> str:
        """The title in the active language (reads the player for a CRM-written title)."""
        if self.title_code not in TaskTitle.values:
            return self.title
        params = self.title_params or {}
        player = self.player
        name = player.nickname or player.account_id
        if self.title_code == TaskTitle.WIN_BACK:
            return str(TaskTitle.WIN_BACK.label) % {"player": name, "why": winback_why_text(params)}
        if self.title_code == TaskTitle.TOP_SPENDER:
            return top_spender_title_text(name, params)
        return str(TaskTitle.GREETING_CALL.label) % {
            "occasion": occasion_text(
                params.get("occasion", ""), params.get("festival", ""), params.get("custom_name", "")
            ),
            "date": params.get("date", ""),
            "player": name,
        }

    @property
    def note_text(self) -> str:
        """Why the CRM cancelled it (in the active language), then the staff's note."""
        reason = message_reason_text(self.status_reason) if self.status_reason else ""
        return "\n".join(text for text in (reason, self.note) if text)


# The one channel enumeration (crm.channels): a message goes through one of its
# message channels (MESSAGE_CHANNELS).
MessageChannel = Channel


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    POSTPONED = "postponed", _("Postponed")
    # Handed to a provider that sends in batches; its answer not yet recorded.
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class MessageReason(models.TextChoices):
    """Why a message is cancelled, postponed or failed: stored as the code (with
    `Message.status_params`), read in the reader's language (`Message.status_reason_text`)."""

    OPTED_OUT = "opted_out", _("The player opted out of marketing messages.")  # before the consent ledger
    MINOR = "minor", _("The player is a minor (by their date of birth): no marketing.")
    NO_CONSENT = "no_consent", _("The player has not consented to this channel for this purpose.")
    CONSENT_REFUSED = "consent_refused", _("The player refused this channel for this purpose.")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("The player withdrew their consent to this channel for this purpose.")
    WEEKLY_CAP = "weekly_cap", _("Weekly limit of %(cap)s messages reached.")
    QUIET_HOURS = "quiet_hours", _("Quiet hours.")
    GREETING_SKIPPED = "greeting_skipped", _("Greeting skipped by staff.")
    ERASED = "erased", _("Personal data erased on request (PIPL Art. 47).")
    CANCELLED_BY = "cancelled_by", _("Cancelled by %(user)s.")
    CHANNEL_NOT_CONFIGURED = (
        "channel_not_configured",
        _(
            "No delivery backend is configured for the channel %(channel)s: the message was not sent. "
            "Configure it (CRM_MESSAGE_BACKENDS), then retry the message."
        ),
    )
    CHANNEL_CAP = (
        "channel_cap",
        _("%(channel)s limit reached: at most %(cap)s marketing messages a %(period)s, in the player's calendar."),
    )
    CAP_PRIORITY = (
        "cap_priority",
        _(
            "The last %(channel)s message allowed this %(period)s went to the higher-priority campaign "
            "“%(campaign)s”; this one waits for the next %(period)s."
        ),
    )
    NO_SEND_DAY = "no_send_day", _("No marketing messages go out on %(day)s (a no-sending day).")
    NO_PHONE = "no_phone", _("The player has no mobile number.")
    NO_EMAIL = "no_email", _("The player has no email address.")
    DELIVERY_ERROR = (
        "delivery_error",
        _(
            "The delivery backend of the channel %(channel)s failed unexpectedly; "
            "a supervisor sees its own words on the message."
        ),
    )
    SMS_DAYTIME = (
        "sms_daytime",
        _("Promotional SMS go out only from %(start)s to %(end)s in the player's time zone."),
    )
    PROVIDER_RETRY = "provider_retry", _("%(provider)s did not send it: %(what)s (%(code)s). It will be tried again.")
    PROVIDER_REFUSED = "provider_refused", _("%(provider)s refused it: %(what)s (%(code)s). Not sent.")
    PROVIDER_UNCERTAIN = (
        "provider_uncertain",
        _(
            "%(provider)s did not answer, and may have the message. It is not sent again automatically "
            "(the provider would send it twice); its delivery receipt will settle it. "
            "Retry it by hand only if the player did not get it."
        ),
    )
    PROVIDER_UNDELIVERED = (
        "provider_undelivered",
        _("%(provider)s reports it was not delivered to the phone: %(what)s (%(code)s)."),
    )
    WECOM_NOT_LINKED = (
        "wecom_not_linked",
        _("The player is not a WeCom customer of any team member (no external contact linked)."),
    )
    WECOM_WAITING = (
        "wecom_waiting",
        _("In a WeCom group message task for %(member)s: it goes when they confirm it in WeCom."),
    )
    WECOM_NOT_CUSTOMER = (
        "wecom_not_customer",
        _("WeCom did not take it: the player is not %(member)s's customer in WeCom."),
    )
    WECOM_NOT_FRIEND = "wecom_not_friend", _("Not sent: the player is no longer %(member)s's contact in WeCom.")
    WECOM_OVER_LIMIT = (
        "wecom_over_limit",
        _("Not sent: the player already received as many group messages as WeCom allows this period."),
    )
    WECOM_EXPIRED = "wecom_expired", _("Not sent: %(member)s did not send the WeCom group message in time.")
    WECOM_UNCERTAIN = (
        "wecom_uncertain",
        _(
            "WeCom did not answer: the group message task may exist in WeCom. It is not made again "
            "automatically; look in WeCom's group messages (群发助手) before retrying it by hand."
        ),
    )


CAP_PERIOD_LABELS = {
    "day": pgettext_lazy("cap period", "day"),
    "week": pgettext_lazy("cap period", "week"),
    "month": pgettext_lazy("cap period", "month"),
}


def _reason_params_text(params: dict) -> dict:
    """Reason parameters in words: a channel's and a cap period's names; a provider's name
    and what its code means (the provider's own words when the code is not in the registry
    `campaigns.sms_codes`)."""
    if "channel" in params and params["channel"] in Channel.values:
        params = {**params, "channel": Channel(params["channel"]).label}
    if "period" in params and params["period"] in CAP_PERIOD_LABELS:
        params = {**params, "period": CAP_PERIOD_LABELS[params["period"]]}
    if "day" in params:
        with suppress(TypeError, ValueError):
            params = {**params, "day": date_format(date.fromisoformat(params["day"]), "DATE_FORMAT")}
    if "at" in params:  # an instant, stored in UTC: read in local time
        moment = parse_datetime(params["at"]) if isinstance(params["at"], str) else None
        params = {**params, "at": when(moment) if moment else "-"}
    if "provider" not in params:
        return params
    provider, code = params.get("provider", ""), params.get("code", "")
    what = code_meaning(provider, code) or params.get("detail") or _("no explanation given")
    return {**params, "provider": provider_label(provider), "what": what, "code": code or "-"}


# A failed attempt's reason carries its number and time ("attempt", "at"), said after it.
ATTEMPT_TEXT = _("Attempt %(attempt)s: %(at)s.")


def message_reason_text(codes: str, params: dict | None = None) -> str:
    """`Message.status_reason` (space-separated `MessageReason` codes) in words, in the
    active language, times in local time; text that is not a code (older rows) reads as it is."""
    params = _reason_params_text(params or {})
    texts = []
    for code in (codes or "").split():
        if code not in MessageReason.values:
            return codes
        label = str(MessageReason(code).label)
        try:
            texts.append(label % params if "%(" in label else label)
        except (KeyError, TypeError, ValueError):
            texts.append(label)
    if texts and "attempt" in params and "at" in params:
        texts.append(str(ATTEMPT_TEXT) % params)
    return " ".join(texts)


class Message(ErasedPlayerRefusedMixin, models.Model):
    """One automatic message to one player, through a channel backend."""

    # No database foreign key, for the same reason as OutreachTask.player; the
    # (player, sent_at) index serves lookups by player.
    player = models.ForeignKey(
        "players.Player",
        verbose_name=_("player"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_constraint=False,
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=16, choices=message_channel_choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    is_marketing = models.BooleanField(_("marketing"), default=True)
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    scheduled_for = models.DateTimeField(_("send at"), db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The provider's own code and words on the last failed attempt, as it gave them, for a
    # supervisor; what a person reads is the reason (`status_reason_text`).
    last_error = models.TextField(
        _("provider's answer"),
        blank=True,
        help_text=_("The provider's own code and words on the last failed attempt, as it gave them."),
    )
    # Why it is cancelled, postponed or failed: `MessageReason` codes (space-separated)
    # and their parameters, shown in the reader's language by `status_reason_text`.
    status_reason = models.CharField(_("reason"), max_length=200, blank=True)
    status_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    # What created it, e.g. "campaign:3" or "greeting:7:2026-11-22"; unique with the player.
    source = models.CharField(_("source"), max_length=64, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_constraint=False,  # see player
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # A provider that sends in batches (SMS): our handle of the batch it went in (made of
    # our message ids, echoed by the provider: Aliyun's OutId, Tencent's SessionContext),
    # the provider's id for it (Aliyun's BizId, Tencent's SerialNo), and when its
    # delivery receipt said it reached the phone.
    provider_batch = models.CharField(_("provider batch"), max_length=40, blank=True, default="", db_default="")
    provider_ref = models.CharField(_("provider's id"), max_length=64, blank=True, default="", db_default="")
    delivered_at = models.DateTimeField(_("delivered to phone"), null=True, blank=True)

    class Meta:
        ordering = ["-scheduled_for"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        permissions = [("retry_message", _("Can retry or cancel automatic messages"))]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="message_due"),
            models.Index(fields=["player", "sent_at"], name="message_player_sent"),
            # Receipts find their message (only messages that went to a provider).
            models.Index(fields=["provider_ref"], name="message_provider_ref", condition=~models.Q(provider_ref="")),
            models.Index(
                fields=["provider_batch"], name="message_provider_batch", condition=~models.Q(provider_batch="")
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "source"],
                condition=~models.Q(source=""),
                name="message_once_per_player_and_source",
                violation_error_message=_("This player already has a message from this source."),
            )
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.player}"

    @property
    def status_reason_text(self) -> str:
        return message_reason_text(self.status_reason, self.status_params)


NO_SEND_ALL_HOLIDAYS = "all"


def no_send_holiday_choices():
    from crm.workdays import StatutoryHoliday

    return [(NO_SEND_ALL_HOLIDAYS, _("Every statutory holiday")), *StatutoryHoliday.choices]


class NoSendDay(models.Model):
    """A day on which no automatic marketing message goes out (a day of national mourning,
    the gaokao, a day the studio chooses), in the player's own calendar; or, every year,
    the break of a statutory holiday (清明节, or every one), as the one calendar service
    (`crm.workdays.statutory_break`) has it, holidays and 调休 included. Service messages
    still go, and greetings unless `greetings_too`. Messages due that day wait for the next
    day that is not one (and not quiet)."""

    date = models.DateField(
        _("date"),
        unique=True,
        null=True,
        blank=True,
        error_messages={"unique": _("This date is already a no-sending day.")},
    )
    holiday = models.CharField(
        _("statutory holiday"),
        max_length=20,
        blank=True,
        choices=no_send_holiday_choices,
        help_text=_(
            "Instead of a date: every year, the whole break of this statutory holiday "
            "(the holidays, the 调休 days off and the weekend between them)."
        ),
    )
    # Greetings (birthdays, festivals) are sent on their day unless the day holds them too:
    # a team stops marketing over 春节 while the festival's own greeting still goes out; a
    # day of mourning holds them too.
    greetings_too = models.BooleanField(
        _("greetings too"),
        default=False,
        help_text=_(
            "Also hold birthday and festival greetings on these days (a day of mourning, say). "
            "Unticked, greetings still go out on their day: a festival's greeting on the festival."
        ),
    )
    note = models.CharField(_("why"), max_length=200, blank=True)

    class Meta:
        ordering = [models.F("date").asc(nulls_first=True), "holiday"]
        verbose_name = _("no-sending day")
        verbose_name_plural = _("no-sending days")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(date__isnull=False) & models.Q(holiday=""))
                | (models.Q(date__isnull=True) & ~models.Q(holiday="")),
                name="no_send_day_date_or_holiday",
                violation_error_message=_("Give either a date or a statutory holiday, not both."),
            ),
            models.UniqueConstraint(
                fields=["holiday"],
                condition=~models.Q(holiday=""),
                name="no_send_day_holiday_once",
                violation_error_message=_("This statutory holiday is already a no-sending day."),
            ),
        ]

    def __str__(self):
        if self.date is None:
            return str(_("%(holiday)s (every year)") % {"holiday": self.get_holiday_display()})
        return self.date.isoformat()

    def clean(self):
        if self.date is None and not self.holiday:
            raise ValidationError({"date": _("Give a date, or choose a statutory holiday.")})
        if self.date is not None and self.holiday:
            raise ValidationError({"holiday": _("Give either a date or a statutory holiday, not both.")})


from .campaign import (  # noqa: E402,F401
    REACHED_OUTCOMES,
    Campaign,
    CampaignChannel,
    CampaignGoal,
    CampaignStatus,
    CampaignTarget,
    WorklistTask,
)
from .greetings import (  # noqa: E402, F401
    MINOR_GREETING_DEFAULT,
    CustomOccasion,
    GiftBudget,
    GiftEntry,
    GiftKind,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    GreetingStatus,
    occasion_text,
)
from .top_spenders import PlayerYearSpend, YearSpendBuild  # noqa: E402, F401
from .wecom import (  # noqa: E402, F401
    WecomContact,
    WecomMember,
    WecomSyncCursor,
    WecomTag,
    WecomTask,
    WecomTaskStatus,
)
