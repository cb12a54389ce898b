"""Segments: a saved filter over players, stored on a campaign as JSON.

Each criterion is ONE entry in SEGMENT_CRITERIA: its key in the JSON, its label, the
form field that edits it, and how it narrows the players queryset. A new criterion
(say, from a new player field) is one more line there; the campaign form, validation,
the preview count and the launch pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.names import staff_name
from players.models import NOT_ERASED, ContactChannel, PayerStatus, Player, Tag

try:  # the churn area adds risk bands; the criterion appears once it is there
    from players.models.payer_status import RISK_BANDS, RiskBand
except ImportError:  # pragma: no cover - before the churn area landed
    RISK_BANDS, RiskBand = None, None


def _words(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    return [str(v).strip() for v in value or [] if str(v).strip()]


def _days_ago(days: int, now: datetime) -> datetime:
    return now - timedelta(days=int(days))


def _money(value) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(_("Not a number: %(value)s"), params={"value": value})


def _tags(qs: QuerySet, ids, now) -> QuerySet:
    through = Player.tags.through
    return qs.filter(Exists(through.objects.filter(player_id=OuterRef("pk"), tag_id__in=[int(i) for i in ids])))


def _managers(qs: QuerySet, ids, now) -> QuerySet:
    ids = [str(i) for i in ids]
    q = Q(manager_id__in=[int(i) for i in ids if i != "none"])
    if "none" in ids:
        q |= Q(manager__isnull=True)
    return qs.filter(q)


def _risk_bands(qs: QuerySet, bands, now) -> QuerySet:
    q = Q()
    for band in bands:
        low, high = RISK_BANDS[band]
        q |= Q(churn__risk_score__gte=low, churn__risk_score__lte=high)
    return qs.filter(q)


def _tier_choices():
    from vip.models import Tier

    return [(t.level, t.name) for t in Tier.objects.order_by("level")]


def _manager_choices():
    users = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return [("none", _("(no manager)"))] + [(str(u.pk), staff_name(u)) for u in users]


def _tag_choices():
    return [(str(t.pk), t.name) for t in Tag.objects.order_by("name")]


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    field: Callable[[], forms.Field]
    apply: Callable[[QuerySet, object, datetime], QuerySet]
    clean: Callable[[object], object] = lambda v: v


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ValidationError(_("Not a whole number: %(value)s"), params={"value": v})


def _str_list(v):
    return _words(v)


def _choice_list(choices):
    def clean(v):
        values = _words(v)
        bad = [x for x in values if x not in choices]
        if bad:
            raise ValidationError(_("Unknown choice(s): %(bad)s"), params={"bad": ", ".join(bad)})
        return values

    return clean


# fmt: off
SEGMENT_CRITERIA: list[Criterion] = [
    Criterion("tier_min", _("VIP tier from"), lambda: forms.TypedChoiceField(choices=[("", "—")] + _tier_choices(), coerce=int, empty_value=None, required=False), lambda qs, v, now: qs.filter(tier__level__gte=v), _int),
    Criterion("tier_max", _("VIP tier up to"), lambda: forms.TypedChoiceField(choices=[("", "—")] + _tier_choices(), coerce=int, empty_value=None, required=False), lambda qs, v, now: qs.filter(tier__level__lte=v), _int),
    Criterion("payer_status", _("payer status"), lambda: forms.MultipleChoiceField(choices=PayerStatus.choices, required=False, widget=forms.CheckboxSelectMultiple), lambda qs, v, now: qs.filter(payer_status__in=v), _choice_list(PayerStatus.values)),
    Criterion("spend_min", _("total spend at least"), lambda: forms.DecimalField(required=False, min_value=0), lambda qs, v, now: qs.filter(total_spend__gte=_money(v)), lambda v: str(_money(v))),
    Criterion("spend_max", _("total spend at most"), lambda: forms.DecimalField(required=False, min_value=0), lambda qs, v, now: qs.filter(total_spend__lte=_money(v)), lambda v: str(_money(v))),
    Criterion("no_login_days", _("no login for at least (days)"), lambda: forms.IntegerField(required=False, min_value=0), lambda qs, v, now: qs.filter(Q(last_login_at__lt=_days_ago(v, now)) | Q(last_login_at__isnull=True)), _int),
    Criterion("login_within_days", _("logged in within (days)"), lambda: forms.IntegerField(required=False, min_value=0), lambda qs, v, now: qs.filter(last_login_at__gte=_days_ago(v, now)), _int),
    Criterion("no_payment_days", _("no payment for at least (days)"), lambda: forms.IntegerField(required=False, min_value=0), lambda qs, v, now: qs.filter(Q(last_paid_at__lt=_days_ago(v, now)) | Q(last_paid_at__isnull=True)), _int),
    Criterion("paid_within_days", _("paid within (days)"), lambda: forms.IntegerField(required=False, min_value=0), lambda qs, v, now: qs.filter(last_paid_at__gte=_days_ago(v, now)), _int),
    Criterion("servers", _("servers (comma-separated)"), lambda: forms.CharField(required=False), lambda qs, v, now: qs.filter(server__in=v), _str_list),
    Criterion("channels", _("acquisition channels (comma-separated)"), lambda: forms.CharField(required=False), lambda qs, v, now: qs.filter(channel__in=v), _str_list),
    Criterion("tags", _("any of the tags"), lambda: forms.MultipleChoiceField(choices=_tag_choices(), required=False), _tags, lambda v: [str(_int(i)) for i in _words(v)]),
    Criterion("managers", _("VIP managers"), lambda: forms.MultipleChoiceField(choices=_manager_choices(), required=False), _managers, lambda v: [i if i == "none" else str(_int(i)) for i in _words(v)]),
    Criterion("preferred_channel", _("preferred contact channel"), lambda: forms.MultipleChoiceField(choices=ContactChannel.choices, required=False), lambda qs, v, now: qs.filter(preferred_channel__in=v), _choice_list(ContactChannel.values)),
]
if RISK_BANDS is not None:
    SEGMENT_CRITERIA.append(Criterion("risk_bands", _("churn risk band"), lambda: forms.MultipleChoiceField(choices=RiskBand.choices, required=False, widget=forms.CheckboxSelectMultiple), _risk_bands, _choice_list(list(RISK_BANDS))))
# fmt: on

CRITERIA = {criterion.key: criterion for criterion in SEGMENT_CRITERIA}


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == ()


def segment_clean(segment: dict) -> dict:
    """The segment with empty values dropped and each value normalised; raises
    ValidationError naming unknown criteria or bad values."""
    if not isinstance(segment, dict):
        raise ValidationError(_("A segment is a set of named criteria."))
    errors, cleaned = [], {}
    for key, value in segment.items():
        criterion = CRITERIA.get(key)
        if criterion is None:
            errors.append(ValidationError(_("Unknown criterion: %(key)s"), params={"key": key}))
            continue
        if _empty(value):
            continue
        try:
            cleaned[key] = criterion.clean(value)
        except ValidationError as exc:
            errors.append(ValidationError(f"{criterion.label}: {' '.join(exc.messages)}"))
    if errors:
        raise ValidationError(errors)
    return cleaned


def segment_validate(segment: dict) -> None:
    segment_clean(segment)


def segment_players(segment: dict, *, now: datetime | None = None) -> QuerySet:
    """The players a segment selects (an empty segment selects everyone still reachable:
    a player erased on request is never targeted)."""
    now = now or timezone.now()
    qs = Player.objects.filter(NOT_ERASED)
    for key, value in segment_clean(segment).items():
        if not _empty(value):
            qs = CRITERIA[key].apply(qs, value, now)
    return qs


def segment_describe(segment: dict) -> list[tuple[str, str]]:
    """(label, value) pairs for showing a segment to people."""
    out = []
    for key, value in segment_clean(segment).items():
        # A choice is shown as its label (V3, 有流失风险, a manager's name), never its stored code or key.
        labels = {str(code): str(label) for code, label in getattr(CRITERIA[key].field(), "choices", ())}
        values = value if isinstance(value, list) else [value]
        out.append((str(CRITERIA[key].label), ", ".join(labels.get(str(v), str(v)) for v in values)))
    return out
