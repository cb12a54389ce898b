"""The VIP person behind several game accounts, and merges of two people with undo.

A person is their main account (`Player.person_account` is empty); the accounts linked
to it point at it. What belongs to the person (manager, contact preferences, consents,
contacts, cases, gifts, tasks) lives on the main account; the ledger (payments, logins),
tier history and payer status stay per account. Written only by
`players.services.persons`."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .profile import Player


class PersonMergeKind(models.TextChoices):
    MERGE = "merge", _("Merged by staff")
    LINK = "link", _("Account linked")
    UNLINK = "unlink", _("Account unlinked")


class PersonMerge(models.Model):
    """One merge of two people (or one account linked to a person): which person won,
    whose profile values were kept, and every row that moved, so that `person_merge_undo`
    puts both back as they were. `moves` is {table label: [row ids]}; `before` the two
    people's profile values and the accounts' person and manager before the merge."""

    kind = models.CharField(_("kind"), max_length=8, choices=PersonMergeKind.choices, default=PersonMergeKind.MERGE)
    winner = models.ForeignKey(
        Player, verbose_name=_("person kept"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    loser = models.ForeignKey(Player, verbose_name=_("person merged in"), on_delete=models.PROTECT, related_name="+")
    kept_from_loser = models.JSONField(_("values taken from the person merged in"), default=list, blank=True)
    before = models.JSONField(_("before the merge"), default=dict, editable=False)
    moves = models.JSONField(_("rows moved"), default=dict, editable=False)
    rows_moved = models.PositiveIntegerField(_("rows moved"), default=0)
    note = models.CharField(_("note"), max_length=500, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"))
    request_id = models.CharField(_("request id"), max_length=128, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        verbose_name = _("merge of people")
        verbose_name_plural = _("merges of people")
        ordering = ["-merged_at", "-id"]
        permissions = [("merge_people", _("Can merge two people and undo a merge"))]
        indexes = [models.Index(fields=["winner", "-merged_at"], name="person_merge_winner")]

    def __str__(self):
        return _("Merge of people #%(id)s") % {"id": self.pk}


class PersonLinkRequest(models.Model):
    """A game server's link or unlink request, once per API client and request id: a retry
    with the same request id and body is answered as the first was; with another body it
    is a conflict. `fingerprint` is the digest of what was asked; `result` the answer."""

    client = models.ForeignKey(
        "crm.ApiClient", verbose_name=_("API client"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    request_id = models.CharField(_("request id"), max_length=128)
    fingerprint = models.CharField(_("request digest"), max_length=64)
    merge = models.ForeignKey(
        PersonMerge,
        verbose_name=_("merge of people"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    result = models.JSONField(_("answer"), default=dict)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("account link request")
        verbose_name_plural = _("account link requests")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "request_id"],
                name="person_link_request_once",
                violation_error_message=_("This request id was already used by this API client."),
            )
        ]

    def __str__(self):
        return self.request_id
