"""Duplicate candidates: two accounts that may be one person (the same phone, QQ, WeChat,
e-mail, or real name and birthday). Found set-based by `players.services.duplicates`,
reviewed by staff (not the same person); never a personal value stored here, only which
rules matched."""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .profile import Player


@dataclass(frozen=True)
class DuplicateRule:
    """One reason two accounts may be one person: equal values of `fields` (all non-empty).
    `flag` is the candidate's column; `weight` its share of the score (capped at 100)."""

    code: str
    fields: tuple[str, ...]
    weight: int
    label: Promise

    @property
    def flag(self) -> str:
        return f"by_{self.code}"


# The registry: a new reason is an entry, its column (migration), its Chinese label and a test.
DUPLICATE_RULES = (
    DuplicateRule("phone", ("phone",), 60, _("same phone")),
    DuplicateRule("wechat", ("wechat",), 60, _("same WeChat")),
    DuplicateRule("qq", ("qq",), 50, _("same QQ")),
    DuplicateRule("email", ("email",), 50, _("same e-mail")),
    DuplicateRule("name_birthday", ("real_name", "birthday"), 40, _("same real name and birthday")),
)


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("to review")
    DISMISSED = "dismissed", _("not the same person")


class DuplicateCandidate(models.Model):
    """A pair of accounts (the lower id first) that may be one person, with the score and
    the rules that matched. Rewritten by each run of the finder; a dismissal stays while
    the pair is still found."""

    player_a = models.ForeignKey(
        Player, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    player_b = models.ForeignKey(Player, verbose_name=_("other account"), on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    by_phone = models.BooleanField(_("same phone"), default=False)
    by_wechat = models.BooleanField(_("same WeChat"), default=False)
    by_qq = models.BooleanField(_("same QQ"), default=False)
    by_email = models.BooleanField(_("same e-mail"), default=False)
    by_name_birthday = models.BooleanField(_("same real name and birthday"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    found_at = models.DateTimeField(_("found"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-score", "player_a", "player_b"]
        permissions = [("review_duplicates", _("Can mark possible duplicates as not the same person"))]
        indexes = [models.Index(fields=["-score", "player_a", "player_b"], name="duplicate_score")]
        constraints = [
            models.UniqueConstraint(
                fields=["player_a", "player_b"],
                name="duplicate_pair_once",
                violation_error_message=_("This pair is already a candidate."),
            ),
            models.CheckConstraint(
                condition=models.Q(player_a__lt=models.F("player_b")),
                name="duplicate_pair_ordered",
                violation_error_message=_("The first account has the lower id."),
            ),
        ]

    def __str__(self):
        return _("Possible duplicate (score %(score)d)") % {"score": self.score}

    @property
    def rules(self) -> list[DuplicateRule]:
        return [rule for rule in DUPLICATE_RULES if getattr(self, rule.flag)]
