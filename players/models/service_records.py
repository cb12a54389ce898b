"""Service records: support cases (工单) with their SLA and timeline, and player feedback.

The contact log (回访) lives in the package `__init__` (ContactLog); this module adds
what grows out of contacts: cases that must be settled in time, and the feedback the
product team reads.

The SLA clock of a case
-----------------------
When a case is opened it takes its allowance in hours from the most specific
`SlaPolicy` (category and severity, then category, then severity, then the
`CRM_CASE_SLA_HOURS` setting, 72 by default) and
``sla_due_at = opened_at + allowance``.

While the case is *waiting on the player* the clock is paused: `sla_paused_at` holds
when the pause began and the escalation scan ignores the case. When the case leaves
that state (the player answered, or staff resolve it) the length of the pause is added
to `sla_paused_seconds` and pushed onto `sla_due_at`. So at any moment, outside a
pause, ``sla_due_at = opened_at + allowance + every pause so far``; inside one, the
time left is frozen at ``sla_due_at - sla_paused_at``.

A resolution stops the clock: `sla_met` records whether it came before `sla_due_at`.
Reopening starts a fresh allowance from the moment of reopening and clears the
escalation, so a reopened case can escalate (once) again.

Round the clock or working hours
--------------------------------
A policy's `clock` says how its hours are counted: on the wall clock, or on working
time (`crm.workdays`: working hours of working days, China's statutory holidays and
make-up working days, the company's days off). The case keeps the clock it was opened
with (`sla_clock`); every due time of the case is counted on it, and a pause's
remaining time is carried over on it: leaving a pause, ``due = now + (working) time
that was left when the pause began``. On the wall clock that is the rule above.

First response
--------------
Beside the resolution target, a policy sets the hours to the first answer the player
hears (`first_response_hours`): staff reply to the player, ask the player something
(waiting on the player) or resolve the case. `first_response_due_at` is counted from
the opening on the case's clock, `first_responded_at` and `first_response_met` record
the answer.

The escalation ladder
---------------------
A case sits with its manager (the owner) until its due time; then it escalates to the
supervisors (`escalated_at`, e-mail to `players.receive_escalations`), who have the
policy's `head_after_hours` more (on the case's clock, paused like the due time)
before it escalates to the head of service (`head_escalation_at`, e-mail to
`players.receive_head_escalations`). `escalation_level` says where it is.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.privacy import label_text
from crm.workdays import Clock

from .privacy import ErasedPlayerRefusedMixin
from .profile import ContactChannel, Player

DEFAULT_SLA_HOURS = 72
DEFAULT_FIRST_RESPONSE_HOURS = 8
DEFAULT_HEAD_AFTER_HOURS = 24


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
    MESSAGE_NOT_SENT = "message_not_sent", _("Message not sent")
    OTHER = "other", _("Other")


class ContactLog(ErasedPlayerRefusedMixin, models.Model):
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


class CaseCategory(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    PAYMENT = "payment", _("Payment problem")
    ACCOUNT = "account", _("Account or security")
    BUG = "bug", _("Bug")
    SUGGESTION = "suggestion", _("Suggestion")
    QUESTION = "question", _("Question")
    MINOR_REFUND = "minor_refund", _("Minor refund")


# The steps a case of a category must have ticked before it can be resolved (a minor's
# refund: the guardian's verification, as the game's refund policy and 未成年人网络保护条例 ask).
CASE_CHECKLISTS: dict[str, list[tuple[str, object]]] = {
    CaseCategory.MINOR_REFUND: [
        ("guardian_identity", _("Guardian's identity verified (ID document)")),
        ("guardianship", _("Proof of guardianship received (household register or birth certificate)")),
        ("minor_identity", _("The minor's identity and age verified against the account's real-name record")),
        ("payments", _("The payments in question confirmed with the guardian")),
        ("no_consent", _("Guardian's written statement that they did not consent to the spending")),
        ("refund_route", _("Refund route confirmed (back to the original payment method)")),
    ],
}


class CaseSeverity(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting on player")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Statuses in which the SLA clock runs.
CLOCK_RUNNING = (CaseStatus.NEW, CaseStatus.IN_PROGRESS)
OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING)

# The workflow: from a status, the statuses a case may move to. Moving from resolved
# or closed back to in progress is a reopening.
CASE_TRANSITIONS = {
    CaseStatus.NEW: (CaseStatus.IN_PROGRESS, CaseStatus.WAITING, CaseStatus.RESOLVED),
    CaseStatus.IN_PROGRESS: (CaseStatus.WAITING, CaseStatus.RESOLVED),
    CaseStatus.WAITING: (CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED),
    CaseStatus.RESOLVED: (CaseStatus.CLOSED, CaseStatus.IN_PROGRESS),
    CaseStatus.CLOSED: (CaseStatus.IN_PROGRESS,),
}


class EscalationLevel(models.IntegerChoices):
    MANAGER = 0, _("with the manager")
    SUPERVISOR = 1, _("escalated to the supervisors")
    HEAD = 2, _("escalated to the head of service")


class SlaPolicy(models.Model):
    """How many hours a case may stay unresolved, per category and/or severity, on which
    clock, the hours to the first answer, and the escalation ladder's step to the head.

    An empty category or severity matches any. The most specific row wins; without
    a matching row: round the clock, `CRM_CASE_SLA_HOURS` (72) to resolve,
    `CRM_CASE_FIRST_RESPONSE_HOURS` (8) to the first answer, the head told 24 hours
    after the supervisors."""

    category = models.CharField(_("category"), max_length=16, choices=CaseCategory.choices, blank=True)
    severity = models.CharField(_("severity"), max_length=16, choices=CaseSeverity.choices, blank=True)
    clock = models.CharField(
        _("clock"),
        max_length=16,
        choices=Clock.CHOICES,
        default=Clock.ROUND_THE_CLOCK,
        help_text=_("Working hours: the hours count only in working hours of working days (holidays skipped)."),
    )
    first_response_hours = models.PositiveIntegerField(
        _("hours to the first answer"), validators=[MinValueValidator(1), MaxValueValidator(24 * 30)], default=8
    )
    hours = models.PositiveIntegerField(
        _("hours to resolve"), validators=[MinValueValidator(1), MaxValueValidator(24 * 90)]
    )
    head_after_hours = models.PositiveIntegerField(
        _("hours before the head is told"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(24 * 90)],
        help_text=_(
            "After the due time the supervisors are told; this many hours later, the head of service. Empty: never."
        ),
    )

    class Meta:
        ordering = ["category", "severity"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "severity"],
                name="slapolicy_one_per_category_severity",
                violation_error_message=_("There is already a policy for this category and severity."),
            ),
            models.CheckConstraint(
                condition=models.Q(hours__gte=1),
                name="slapolicy_hours_positive",
                violation_error_message=_("At least one hour."),
            ),
        ]

    def __str__(self):
        category = self.get_category_display() if self.category else _("any category")
        severity = self.get_severity_display() if self.severity else _("any severity")
        return f"{category} / {severity}: {self.hours} h ({self.get_clock_display()})"


class Case(ErasedPlayerRefusedMixin, models.Model):
    """A complaint or support request (工单) that must be settled within its SLA."""

    player = models.ForeignKey(Player, verbose_name=_("player"), on_delete=models.PROTECT, related_name="cases")
    category = models.CharField(_("category"), max_length=16, choices=CaseCategory.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=CaseSeverity.choices, default=CaseSeverity.NORMAL)
    channel = models.CharField(
        _("channel"), max_length=16, choices=ContactChannel.choices, default=ContactChannel.PHONE
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW)

    opened_at = models.DateTimeField(_("opened at"), db_index=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The SLA clock (see the module docstring).
    sla_hours = models.PositiveIntegerField(_("SLA (hours)"))
    sla_due_at = models.DateTimeField(pgettext_lazy("case deadline", "due"))
    sla_paused_at = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("time paused (seconds)"), default=0)
    sla_met = models.BooleanField(_("resolved in time"), null=True, blank=True)
    sla_clock = models.CharField(_("clock"), max_length=16, choices=Clock.CHOICES, default=Clock.ROUND_THE_CLOCK)
    first_response_hours = models.PositiveIntegerField(_("hours to the first answer"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("first answer due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first answered at"), null=True, blank=True)
    first_response_met = models.BooleanField(_("first answer in time"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalation_count = models.PositiveSmallIntegerField(_("escalations"), default=0)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation"), choices=EscalationLevel.choices, default=EscalationLevel.MANAGER
    )
    head_after_hours = models.PositiveIntegerField(_("hours before the head is told"), null=True, blank=True)
    head_escalation_at = models.DateTimeField(_("head of service told at"), null=True, blank=True)

    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    compensation_item = models.CharField(
        _("compensation"), max_length=200, blank=True, help_text=_("What was given, e.g. 300 diamonds.")
    )
    compensation_value = models.DecimalField(
        _("compensation value"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction (1-5)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    satisfaction_note = models.CharField(_("satisfaction note"), max_length=500, blank=True)
    # Steps of the category's checklist (CASE_CHECKLISTS) ticked: {step: {"by": name, "at": ISO time}}.
    checklist = models.JSONField(_("checklist"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [
            ("view_team_report", _("Can see the whole team's daily work report")),
            ("receive_escalations", _("Receives e-mail about overdue cases")),
            ("receive_head_escalations", _("Receives e-mail when overdue cases reach the head of service")),
        ]
        indexes = [
            # The escalation scan: open, running clock, past due, not yet escalated.
            models.Index(
                fields=["sla_due_at"],
                name="case_escalation_scan",
                condition=models.Q(status__in=["new", "in_progress"], escalated_at__isnull=True),
            ),
            # The ladder's second step: escalated to the supervisors, the head not yet told.
            models.Index(
                fields=["head_escalation_at"],
                name="case_head_escalation_scan",
                condition=models.Q(status__in=["new", "in_progress"], escalation_level=1),
            ),
            models.Index(fields=["owner", "status", "sla_due_at"], name="case_owner_worklist"),
            models.Index(fields=["player", "-opened_at"], name="case_player_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True) | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="case_satisfaction_1_to_5",
                violation_error_message=_("Satisfaction is a score from 1 to 5."),
            ),
            models.CheckConstraint(
                condition=models.Q(compensation_value__isnull=True) | models.Q(compensation_value__gte=0),
                name="case_compensation_not_negative",
                violation_error_message=_("Compensation cannot be negative."),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {label_text(self, self.subject)}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def allowed_transitions(self) -> tuple[str, ...]:
        return CASE_TRANSITIONS[CaseStatus(self.status)]

    def time_left(self, now):
        """What remains of the allowance (negative when overdue); frozen while paused."""
        if self.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            return None
        reference = self.sla_paused_at or now
        return self.sla_due_at - reference

    def is_overdue(self, now) -> bool:
        return self.status in CLOCK_RUNNING and self.sla_due_at < now


class CaseEventType(models.TextChoices):
    OPENED = "opened", _("Opened")
    STATUS = "status", _("Status changed")
    REOPENED = "reopened", _("Reopened")
    ASSIGNED = "assigned", _("Owner changed")
    EDITED = "edited", _("Edited")
    ESCALATED = "escalated", _("Escalated")
    NOTIFIED = "notified", _("Supervisors notified")
    COMPENSATED = "compensated", _("Compensation given")
    SATISFACTION = "satisfaction", _("Satisfaction recorded")
    NOTE = "note", _("Note")
    REPLIED = "replied", _("Replied to the player")
    PROPOSED = "proposed", _("Compensation proposed")
    APPROVED = "approved", _("Compensation approved")
    REFUSED = "refused", _("Compensation refused")
    CHECKLIST = "checklist", _("Checklist")


class CaseEvent(models.Model):
    """The timeline of a case: one row per change, with its parameters and who did it."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("type"), max_length=16, choices=CaseEventType.choices)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("when"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [models.Index(fields=["case", "at"], name="caseevent_case_time")]

    def __str__(self):
        return f"{self.case_id} {self.type}"


ANY_TIER = _("any tier")


class CompensationApprovalRule(models.Model):
    """Above which value a compensation needs a supervisor's approval, per VIP tier (no
    tier: players without a tier's own rule). Without any rule nothing needs approval.
    Read by `players.services.cases.compensation_needs_approval`."""

    tier = models.OneToOneField(
        "vip.Tier",
        verbose_name=_("VIP tier"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: every player whose tier has no rule of its own."),
    )
    above = models.DecimalField(
        _("approval needed above"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_("A compensation worth more than this waits for a supervisor's approval."),
    )

    class Meta:
        verbose_name = _("compensation approval rule")
        verbose_name_plural = _("compensation approval rules")
        constraints = [
            models.UniqueConstraint(
                fields=["tier"],
                name="compensationrule_one_per_tier",
                nulls_distinct=False,
                violation_error_message=_("There is already a rule for this tier."),
            ),
        ]

    def __str__(self):
        tier = self.tier or ANY_TIER
        return f"{tier}: > {self.above}"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved and given")
    REFUSED = "refused", _("Refused")
    GIVEN = "given", _("Given (no approval needed)")


class CompensationProposal(models.Model):
    """What staff propose to give a player for a case (what, how much, why). Above the
    tier's approval threshold it waits for a supervisor; approved, it is given through
    `case_compensate` (the gift budget applies then). Written by
    `players.services.cases` (compensation_propose / _approve / _refuse)."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="proposals")
    item = models.CharField(_("compensation"), max_length=200, help_text=_("What was given, e.g. 300 diamonds."))
    value = models.DecimalField(
        _("compensation value"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    reason = models.TextField(_("why"))
    status = models.CharField(
        _("status"), max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING, db_index=True
    )
    threshold = models.DecimalField(_("approval needed above"), max_digits=12, decimal_places=2, null=True, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        verbose_name = _("compensation proposal")
        verbose_name_plural = _("compensation approvals")
        permissions = [("approve_compensation", _("Can approve or refuse compensation proposals"))]
        indexes = [models.Index(fields=["status", "proposed_at"], name="proposal_queue")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__isnull=True) | models.Q(value__gte=0),
                name="proposal_value_not_negative",
                violation_error_message=_("Compensation cannot be negative."),
            ),
        ]

    def __str__(self):
        return f"#{self.case_id} {label_text(self, self.item)}"


class ContactLogChange(models.Model):
    """The history of a contact's edits: who changed which fields, when, from what to what
    (`changes` is {field: [old, new]}). Written by players.services.service_records."""

    contact = models.ForeignKey(
        "players.ContactLog", verbose_name=_("contact"), on_delete=models.CASCADE, related_name="changes"
    )
    changes = models.JSONField(_("changes"), default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("when"))

    class Meta:
        ordering = ["changed_at", "id"]
        verbose_name = _("contact change")
        verbose_name_plural = _("contact changes")
        indexes = [models.Index(fields=["contact", "changed_at"], name="contactchange_contact_time")]

    def __str__(self):
        return f"{self.contact_id} {self.changed_at:%Y-%m-%d %H:%M}"


class FeedbackKind(models.TextChoices):
    BUG = "bug", _("Bug report")
    SUGGESTION = "suggestion", _("Suggestion")
    COMPLAINT = "complaint", _("Complaint")
    PRAISE = "praise", _("Praise")
    OTHER = "other", _("Other")


class FeedbackStatus(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Fixed or done")
    DECLINED = "declined", _("Declined")
    MERGED = "merged", _("Merged into another")


class FeedbackTopic(models.Model):
    """One problem or idea, however many players reported it.

    Reports land on the topic whose `fingerprint` matches their normalised text
    (`players.services.feedback.feedback_fingerprint`); staff merge topics that mean the
    same thing, and later reports with a merged topic's fingerprint follow `merged_into`.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=FeedbackKind.choices)
    title = models.CharField(_("title"), max_length=200)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.NEW)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("same as"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_topics",
    )
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    first_reported_at = models.DateTimeField(_("first reported"), null=True, blank=True)
    last_reported_at = models.DateTimeField(_("last reported"), null=True, blank=True)
    product_note = models.TextField(_("product team's note"), blank=True)

    class Meta:
        ordering = ["-report_count", "-last_reported_at"]
        verbose_name = _("feedback topic")
        verbose_name_plural = _("feedback topics")
        permissions = [
            ("merge_feedbacktopic", _("Can merge feedback topics")),
            ("export_feedback", _("Can export feedback")),
        ]
        indexes = [models.Index(fields=["status", "-report_count"], name="feedbacktopic_board")]

    def __str__(self):
        return label_text(self, self.title)


class FeedbackReport(models.Model):
    """One player's feedback or bug report, as they put it."""

    topic = models.ForeignKey(FeedbackTopic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="reports")
    player = models.ForeignKey(
        Player, verbose_name=_("player"), on_delete=models.CASCADE, related_name="feedback_reports"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=FeedbackKind.choices)
    channel = models.CharField(
        _("channel"), max_length=16, choices=ContactChannel.choices, default=ContactChannel.IN_GAME
    )
    text = models.TextField(_("text"))
    fingerprint = models.CharField(_("fingerprint"), max_length=64, db_index=True)
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="feedback_reports",
    )
    reported_at = models.DateTimeField(_("reported at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-reported_at"]
        verbose_name = _("feedback report")
        verbose_name_plural = _("feedback reports")
        indexes = [models.Index(fields=["topic", "-reported_at"], name="feedbackreport_topic_recent")]

    def __str__(self):
        return f"{self.player_id}: {label_text(self, self.text)[:40]}"
