"""A player's rights over their personal data (PIPL): a copy on request (Art. 45) and
erasure on request (Art. 47). Every request is kept here with who asked, why, who
confirmed and how it was delivered; written only by `players.services.privacy`."""

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .profile import Player

# --- after an erasure: nothing new about the player (Art. 47) ---------------------------
# The one rule: a player erased on request gets no new contact, case, task, message, gift
# or consent grant, whatever the door. Rows that are written one at a time check it in
# their model's `clean()` (`ErasedPlayerRefusedMixin`: every writer's `full_clean()` and
# every admin form run it); set-based writers and the targeting select with `NOT_ERASED`.
NOT_ERASED = models.Q(erased_at__isnull=True)


# Why what was open for the player (a task, a message, a follow-up, a survey) was closed
# by the erasure, in the reader's language.
ERASED_CLOSE_REASON = _("Personal data erased on request (PIPL Art. 47).")


def player_is_erased(player) -> bool:
    return player is not None and player.erased_at is not None


def player_erased_error() -> ValidationError:
    """The refusal, in the reader's language: an error of the whole form (every form shows
    it, whichever fields it has), coded "erased"."""
    return ValidationError({NON_FIELD_ERRORS: [ValidationError(player_erased_text(), code="erased")]})


def player_erased_text() -> str:
    """What an erasure means for the work on the player, in the reader's language: the
    refusal's words, and the notice the player page shows where its add links were."""
    return gettext(
        "This player's personal data was erased on request (PIPL Art. 47): "
        "nothing new is recorded for them, and they are no longer contacted."
    )


def player_not_erased(player) -> None:
    """Raise the refusal when `player` was erased on request."""
    if player_is_erased(player):
        raise player_erased_error()


def players_erased_locked(player_ids) -> bool:
    """Whether any of these players is erased on request, read from the database, not from
    the rows a request loaded earlier. Inside a transaction (every writer's) the player rows
    are locked (FOR NO KEY UPDATE, in id order) until it ends: an erasure (which locks its
    player FOR UPDATE) either committed before and is seen here, or waits for this writer to
    commit and then erases what it wrote. Writers of one player serialise on the row; the
    other player's rows are not touched (no key lock: foreign keys to the player still insert)."""
    ids = sorted({pk for pk in player_ids if pk is not None})
    if not ids:
        return False
    rows = Player.objects.filter(pk__in=ids).order_by("pk")
    if transaction.get_connection(rows.db).in_atomic_block:
        rows = rows.select_for_update(no_key=True)
    return any(erased_at is not None for erased_at in rows.values_list("erased_at", flat=True))


class ErasedPlayerRefusedMixin:
    """A model of rows about a player (`player` foreign key): a new row for a player
    erased on request is refused by `full_clean()` (an edit of an older row is not). The
    check reads the player row under a lock (`players_erased_locked`), so an erasure
    committing while the row is being written cannot let it in."""

    def clean(self):
        super().clean()
        if self._state.adding and self.player_id is not None and players_erased_locked([self.player_id]):
            raise player_erased_error()


class DataRequestKind(models.TextChoices):
    COPY = "copy", _("Copy of the player's data (PIPL Art. 45)")
    ERASURE = "erasure", _("Erasure of the player's personal data (PIPL Art. 47)")


class DataRequestStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a supervisor's confirmation")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")


class DeliveryMethod(models.TextChoices):
    HANDED_OVER = "handed_over", _("Downloaded and handed to the player in person")
    EMAIL = "email", _("Downloaded and sent to the player's e-mail")
    SECURE_LINK = "secure_link", _("Downloaded and sent as a protected link or file")
    POST = "post", _("Downloaded and sent by post on a storage medium")


class DataRequest(models.Model):
    """One request by a player about their data: a copy (produced and delivered at once)
    or an erasure (asked by one person, confirmed or rejected by a supervisor, another
    person). Holds no personal value of the player: an erasure scrubs its own reason."""

    kind = models.CharField(_("kind"), max_length=16, choices=DataRequestKind.choices)
    player = models.ForeignKey(Player, verbose_name=_("player"), on_delete=models.PROTECT, related_name="data_requests")
    status = models.CharField(_("status"), max_length=16, choices=DataRequestStatus.choices)
    reason = models.TextField(_("reason"), help_text=_("Why, and how the player asked (e.g. a call on 3 May)."))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed or rejected by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("confirmed or rejected at"), null=True, blank=True)
    decision_note = models.TextField(_("supervisor's note"), blank=True)
    delivered_via = models.CharField(_("delivered"), max_length=16, choices=DeliveryMethod.choices, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    file_sha256 = models.CharField(
        _("file digest (SHA-256)"),
        max_length=64,
        blank=True,
        help_text=_("Identifies the file handed over; the CRM does not keep the file."),
    )
    file_bytes = models.PositiveBigIntegerField(_("file size (bytes)"), null=True, blank=True)
    # {table label: rows}: what the copy held or the erasure touched (counts only).
    row_counts = models.JSONField(_("rows per table"), default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("data request")
        verbose_name_plural = _("data requests")
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("hand_over_player_data", _("Can produce a player's data file on the player's request")),
            ("request_erasure", _("Can ask for a player's personal data to be erased")),
            ("confirm_erasure", _("Can confirm or reject another person's erasure request")),
        ]
        indexes = [models.Index(fields=["player", "-requested_at"], name="datarequest_player_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["player"],
                condition=models.Q(kind="erasure", status="pending"),
                name="datarequest_one_pending_erasure",
                violation_error_message=_("An erasure of this player is already waiting for confirmation."),
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""),
                name="datarequest_reason_given",
                violation_error_message=_("Give the reason for the request."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.player_id}"
