"""WeCom (企业微信): the staff's WeCom accounts, the company's customer tags, the players'
external contacts (who serves each), the sync's cursors, and the group-message tasks
(企业群发) created for the members to confirm.

Written only by `campaigns.services.wecom` (the sync, the channel's tasks and their
read-back) and the admin through it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WecomMember(models.Model):
    """A staff member's WeCom account: the userid their customers are served by (the staff
    profile's WeCom part)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="wecom"
    )
    userid = models.CharField(
        _("WeCom userid"), max_length=64, unique=True, help_text=_("The member's account in WeCom (成员 UserID).")
    )
    # The last error WeCom gave for this member (e.g. an unknown userid), shown in the admin.
    last_error = models.CharField(_("last sync error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("WeCom member")
        verbose_name_plural = _("WeCom members")

    def __str__(self):
        from crm.names import staff_name

        name = staff_name(self.user)
        return f"{name} ({self.userid})" if name and name != self.userid else self.userid


class WecomTag(models.Model):
    """One of the company's customer tags (企业客户标签), as WeCom lists it."""

    tag_id = models.CharField(_("tag id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    group_name = models.CharField(_("tag group"), max_length=100, blank=True)
    deleted = models.BooleanField(_("deleted in WeCom"), default=False)

    class Meta:
        ordering = ["group_name", "name"]
        verbose_name = _("WeCom customer tag")
        verbose_name_plural = _("WeCom customer tags")

    def __str__(self):
        return f"{self.group_name} / {self.name}" if self.group_name else self.name


class WecomContact(models.Model):
    """A customer in WeCom (external contact), the player it is, and the member who serves
    them: the player's manager when they have the customer, else the first member who
    added them. A contact no member has any more keeps its link with no member."""

    external_userid = models.CharField(_("external userid"), max_length=64, unique=True)
    player = models.OneToOneField(
        "players.Player",
        verbose_name=_("player"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wecom",
    )
    member = models.ForeignKey(
        WecomMember,
        verbose_name=_("serving member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    name = models.CharField(_("WeChat name"), max_length=100, blank=True)  # personal data: masked on show
    remark = models.CharField(_("member's remark"), max_length=100, blank=True)
    tags = models.ManyToManyField(WecomTag, verbose_name=_("tags"), blank=True, related_name="contacts")
    added_at = models.DateTimeField(_("added in WeCom"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"))

    class Meta:
        verbose_name = _("WeCom contact")
        verbose_name_plural = _("WeCom contacts")
        indexes = [models.Index(fields=["member", "synced_at"], name="wecom_contact_member_synced")]

    def __str__(self):
        return self.external_userid


class WecomSyncCursor(models.Model):
    """Where the sync of one member's customers stands: the cursor of the next page, when
    the pass began (contacts not seen since then are no longer this member's), when one
    last finished."""

    member = models.OneToOneField(WecomMember, on_delete=models.CASCADE, related_name="sync_cursor")
    cursor = models.CharField(max_length=200, blank=True)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("WeCom sync cursor")
        verbose_name_plural = _("WeCom sync cursors")

    def __str__(self):
        return f"{self.member_id}: {self.cursor or '-'}"


class WecomTaskStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for the member to send")
    DONE = "done", _("Results read")
    EXPIRED = "expired", _("Not sent in time")


class WecomTask(models.Model):
    """One group-message task (企业群发, `add_msg_template`) for one member to confirm, with
    the customers' results as last read back."""

    msgid = models.CharField(_("WeCom message id"), max_length=64, unique=True)
    member = models.ForeignKey(WecomMember, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tasks")
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wecom_tasks",
    )
    source = models.CharField(_("source"), max_length=64, blank=True)  # the first message's, e.g. greeting:7
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"))
    customers = models.PositiveIntegerField(_("customers"))
    refused = models.PositiveIntegerField(_("refused by WeCom"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    not_friend = models.PositiveIntegerField(_("not a contact any more"), default=0)
    over_limit = models.PositiveIntegerField(_("over the customer's limit"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=WecomTaskStatus.choices, default=WecomTaskStatus.WAITING
    )
    read_at = models.DateTimeField(_("results read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("WeCom group message task")
        verbose_name_plural = _("WeCom group message tasks")
        indexes = [models.Index(fields=["status", "created_at"], name="wecom_task_status")]

    def __str__(self):
        return self.msgid

    @property
    def waiting(self) -> int:
        return max(self.customers - self.refused - self.sent - self.not_friend - self.over_limit, 0)
