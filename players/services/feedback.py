"""Writes for player feedback and bug reports, grouped into topics for the product team.

Grouping: a report's text is normalised (Unicode NFKC, lower case, digits folded to
"#", punctuation, symbols and spaces dropped, first 120 characters kept) and hashed with
its kind; reports with the same fingerprint land on the same topic. What the fingerprint
cannot see ("登录闪退" and "一登录就闪退") staff join with `feedback_topics_merge`
("same as"); later reports whose fingerprint belongs to a merged topic follow it."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Min, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Case,
    ContactChannel,
    FeedbackKind,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    Player,
)

NORMALISED_LENGTH = 120
_DIGITS = re.compile(r"\d+")


def feedback_normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _DIGITS.sub("#", text)
    kept = [ch for ch in text if ch == "#" or unicodedata.category(ch)[0] not in ("P", "S", "Z", "C")]
    return "".join(kept)[:NORMALISED_LENGTH]


def feedback_fingerprint(*, kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}:{feedback_normalise(text)}".encode()).hexdigest()


def _root(topic: FeedbackTopic) -> FeedbackTopic:
    seen = set()
    while topic.merged_into_id and topic.pk not in seen:
        seen.add(topic.pk)
        topic = FeedbackTopic.objects.get(pk=topic.merged_into_id)
    return topic


def _topic_for(*, kind: str, text: str, fingerprint: str, at: datetime) -> FeedbackTopic:
    topic = FeedbackTopic.objects.filter(fingerprint=fingerprint).first()
    if topic is None:
        try:
            with transaction.atomic():
                topic = FeedbackTopic.objects.create(
                    kind=kind, title=" ".join(text.split())[:200], fingerprint=fingerprint, first_reported_at=at
                )
        except IntegrityError:  # a concurrent first report created it
            topic = FeedbackTopic.objects.get(fingerprint=fingerprint)
    return _root(topic)


@transaction.atomic
def feedback_record(
    *,
    player: Player,
    text: str,
    kind: str = FeedbackKind.BUG,
    channel: str = ContactChannel.IN_GAME,
    actor=None,
    reported_at: datetime | None = None,
    case: Case | None = None,
    same_as: FeedbackTopic | None = None,
) -> FeedbackReport:
    """Record one player's report and count it on its topic (or on `same_as`)."""
    text = (text or "").strip()
    reported_at = reported_at or timezone.now()
    if not feedback_normalise(text):
        raise ValidationError({"text": [_("Say what the player reported.")]})
    fingerprint = feedback_fingerprint(kind=kind, text=text)
    report = FeedbackReport(
        player=player,
        kind=kind,
        channel=channel,
        text=text,
        fingerprint=fingerprint,
        case=case,
        reported_at=reported_at,
        recorded_by=actor,
    )
    report.full_clean(exclude=["topic"])
    topic = _root(same_as) if same_as else _topic_for(kind=kind, text=text, fingerprint=fingerprint, at=reported_at)
    report.topic = topic
    report.save()
    FeedbackTopic.objects.filter(pk=topic.pk).update(
        report_count=F("report_count") + 1,
        first_reported_at=Least(Coalesce(F("first_reported_at"), Value(reported_at)), Value(reported_at)),
        last_reported_at=Greatest(Coalesce(F("last_reported_at"), Value(reported_at)), Value(reported_at)),
    )
    return report


def _topic_counts_refresh(topic: FeedbackTopic) -> None:
    figures = topic.reports.aggregate(count=Count("pk"), first=Min("reported_at"), last=Max("reported_at"))
    FeedbackTopic.objects.filter(pk=topic.pk).update(
        report_count=figures["count"], first_reported_at=figures["first"], last_reported_at=figures["last"]
    )


@transaction.atomic
def feedback_topics_merge(*, target: FeedbackTopic, topics, actor=None) -> int:
    """'Same as': move the reports of `topics` onto `target`; the merged topics point
    to it so that later reports with their fingerprint land there too. Returns the
    number of topics merged."""
    target = _root(target)
    merged = 0
    for topic in FeedbackTopic.objects.select_for_update().filter(pk__in=[t.pk for t in topics]).exclude(pk=target.pk):
        if _root(topic).pk == target.pk and topic.merged_into_id:
            continue  # already merged into the target
        FeedbackReport.objects.filter(topic=topic).update(topic=target)
        FeedbackTopic.objects.filter(merged_into=topic).update(merged_into=target)
        FeedbackTopic.objects.filter(pk=topic.pk).update(
            merged_into=target,
            status=FeedbackStatus.MERGED,
            report_count=0,
            product_note=(topic.product_note + "\n" if topic.product_note else "")
            + _("Merged into #%(id)s by %(user)s.") % {"id": target.pk, "user": actor or "-"},
        )
        merged += 1
    target.refresh_from_db()
    _topic_counts_refresh(target)
    return merged


@transaction.atomic
def feedback_topic_set_status(*, topic: FeedbackTopic, status: str, actor=None, note: str = "") -> FeedbackTopic:
    if status == FeedbackStatus.MERGED:
        raise ValidationError({"status": [_("Use 'same as' to merge topics.")]})
    topic = FeedbackTopic.objects.select_for_update().get(pk=topic.pk)
    topic.status = status
    if note:
        topic.product_note = f"{topic.product_note}\n{note}" if topic.product_note else note
    topic.full_clean()
    topic.save(update_fields=["status", "product_note"])
    return topic


FEEDBACK_TOPIC_EDITABLE_FIELDS = ("title", "kind", "status", "product_note")


@transaction.atomic
def feedback_topic_update(*, topic: FeedbackTopic, data: dict, actor=None) -> FeedbackTopic:
    """Staff edit of a topic on the product team's page (title, kind, status, note). A topic
    becomes "merged" only through feedback_topics_merge, which moves its reports."""
    unknown = set(data) - set(FEEDBACK_TOPIC_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set here.")] for name in sorted(unknown)})
    topic = FeedbackTopic.objects.select_for_update().get(pk=topic.pk)
    if data.get("status", topic.status) == FeedbackStatus.MERGED and topic.status != FeedbackStatus.MERGED:
        raise ValidationError({"status": [_("Use 'same as' to merge topics.")]})
    for name, value in data.items():
        setattr(topic, name, value)
    if data:
        topic.full_clean()
        topic.save(update_fields=list(data))
    return topic
