"""Satisfaction surveys (用户满意度调查): after a case is resolved and after a return
visit, the player is asked "how satisfied are you, 1 to 5, and why" through their
channel: a signed link to a small mobile page, or in the game (the game client submits
the answer through the API). One reminder at most; answered once.

A case's answer lands on the case (`Case.satisfaction`, through
`case_record_satisfaction`), where the daily report and every figure already count it.
Written by `players.services.surveys`."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.formatting import when
from crm.privacy import label_text

from .profile import ContactChannel
from .service_records import CaseCategory

RETURN_VISIT = "return_visit"
# What a survey is about: the case's category, or a return visit.
SURVEY_CATEGORIES = [*CaseCategory.choices, (RETURN_VISIT, _("Return visit"))]


class SurveyKind(models.TextChoices):
    CASE = "case", _("After a resolved case")
    RETURN_VISIT = "return_visit", _("After a return visit")


class SurveyStatus(models.TextChoices):
    SENT = "sent", _("Waiting for the answer")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")


class SurveyExpiry(models.TextChoices):
    """Why a survey expired: stored as the code with `SatisfactionSurvey.expired_at`, read in
    the reader's language and local time (`SatisfactionSurvey.expiry_text`)."""

    NO_ANSWER = "no_answer", _("Not answered within %(days)s days of sending: its link expired on %(at)s.")
    ERASED = "erased", _("The player's personal data was erased on request on %(at)s: no answer is taken.")


class SurveyVia(models.TextChoices):
    LINK = "link", _("Link")
    IN_GAME = "in_game", _("In the game")


class SatisfactionSurvey(models.Model):
    player = models.ForeignKey(
        "players.Player", verbose_name=_("player"), on_delete=models.CASCADE, related_name="surveys"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SurveyKind.choices)
    case = models.OneToOneField(
        "players.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.CASCADE, related_name="survey"
    )
    contact = models.OneToOneField(
        "players.ContactLog",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="survey",
    )
    # Who is judged: the case's owner or the contact's staff, and what about (the case's
    # category, or "return visit"), kept as sent for the results per manager and category.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    category = models.CharField(_("category"), max_length=16, choices=SURVEY_CATEGORIES, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    status = models.CharField(_("status"), max_length=16, choices=SurveyStatus.choices, default=SurveyStatus.SENT)
    sent_at = models.DateTimeField(_("sent at"), db_index=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True, db_index=True)
    answered_via = models.CharField(_("answered via"), max_length=16, choices=SurveyVia.choices, blank=True)
    score = models.PositiveSmallIntegerField(
        _("score (1-5)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    # Why and when it expired (its link's end, or the erasure): `expiry_text` says it.
    expiry_reason = models.CharField(
        _("why it expired"), max_length=16, choices=SurveyExpiry.choices, blank=True, default="", db_default=""
    )
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        indexes = [
            models.Index(
                fields=["sent_at"], name="survey_reminder_scan", condition=models.Q(status="sent", reminded_at=None)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="survey_score_1_to_5",
                violation_error_message=_("Satisfaction is a score from 1 to 5."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} {label_text(self, self.reason)}".strip()

    @property
    def expiry_text(self) -> str:
        """Why and when it expired, in the active language and local time ("" unless expired)."""
        if self.status != SurveyStatus.EXPIRED or self.expiry_reason not in SurveyExpiry.values:
            return ""
        days = (self.expired_at - self.sent_at).days if self.expired_at and self.sent_at else "-"
        return str(SurveyExpiry(self.expiry_reason).label) % {"days": days, "at": when(self.expired_at)}
