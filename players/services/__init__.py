"""Writes to players and their ledger. Every entry point (admin, API, imports,
commands, tasks) calls these; nothing else writes these tables."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.money import CENT, to_base

from ..models import ContactLog, PayerStatus, Payment, PaymentKind, Player
from ..validators import validate_game_time
from .birthdays import birthday_key_apply
from .churn import payer_status_refresh
from .prepared import prepared_fetchone

MAX_AMOUNT = Decimal("1000000")

# Fields the game owns: the API and imports may set them. Staff-owned fields
# (manager, tags, notes, contact preferences) are not in this list.
GAME_FIELDS = ("nickname", "server", "registered_at", "channel", "level", "last_login_at", "phone", "birthday")


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    status: str  # "created", "duplicate" or "conflict"
    fingerprint: str = ""  # of the content received (for a conflict, `payment` holds the stored one)

    @property
    def created(self) -> bool:
        return self.status == "created"


def payment_fingerprint(
    *, account_id, kind, amount, currency, occurred_at, server="", order_id="", product="", refund_of=""
) -> str:
    """A digest of what an event says, so that a retry can be told from a conflict."""
    content = {
        "account_id": str(account_id),
        "kind": kind,
        "amount": str(Decimal(amount).quantize(CENT)),
        "currency": currency.upper(),
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "server": server or "",
        "order_id": order_id or "",
        "product": product or "",
        "refund_of": refund_of or "",
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def payment_validate(*, kind: str, amount: Decimal, currency: str, occurred_at: datetime) -> Decimal:
    """Check an event's values; return the amount in base currency. Errors name the field."""
    errors = {}
    if kind not in PaymentKind.values:
        errors["type"] = [_("Must be 'purchase' or 'refund'.")]
    if not isinstance(amount, Decimal) or not amount.is_finite():
        errors["amount"] = [_("Must be a decimal number.")]
    elif amount <= 0:
        errors["amount"] = [_("Must be greater than 0.")]
    elif amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        errors["amount"] = [_("At most 2 decimal places.")]
    elif amount > MAX_AMOUNT:
        errors["amount"] = [_("At most 1,000,000.")]
    try:
        if occurred_at is None:
            raise ValidationError(_("Must be a date and time with a UTC offset."))
        validate_game_time(occurred_at)
    except ValidationError as exc:
        errors["occurred_at"] = exc.messages
    amount_base = None
    try:
        if "amount" not in errors:
            amount_base = to_base(amount, currency)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return amount_base


@transaction.atomic
def payment_record(
    *,
    account_id: str,
    event_id: str,
    kind: str,
    amount: Decimal,
    currency: str,
    occurred_at: datetime,
    source: str,
    source_ref: str = "",
    server: str = "",
    order_id: str = "",
    product: str = "",
    refund_of: str = "",
    actor=None,
    evaluate_tier: bool = True,
) -> PaymentResult:
    """Append one purchase or refund to the ledger and move the player's totals.

    Exactly-once: the unique (source, source_ref, event_id) constraint decides, so
    concurrent copies of one event move spend once. The same id with the same
    content is a "duplicate", with other content a "conflict"; neither changes
    anything. A refund may not exceed what the player has spent (net); that is
    rejected on `amount` rather than letting spend go negative.
    """
    amount_base = payment_validate(kind=kind, amount=amount, currency=currency, occurred_at=occurred_at)
    currency = currency.upper()
    fingerprint = payment_fingerprint(
        account_id=account_id,
        kind=kind,
        amount=amount,
        currency=currency,
        occurred_at=occurred_at,
        server=server,
        order_id=order_id,
        product=product,
        refund_of=refund_of,
    )
    if kind == PaymentKind.PURCHASE and connection.vendor == "postgresql":
        # Fast path: the insert decides (ON CONFLICT), the totals move in one UPDATE.
        result = _purchase_record_postgres(
            account_id=account_id.strip(),
            event_id=event_id,
            amount=amount,
            currency=currency,
            amount_base=amount_base,
            occurred_at=occurred_at,
            source=source,
            source_ref=source_ref,
            server=server,
            order_id=order_id,
            product=product,
            refund_of=refund_of,
            fingerprint=fingerprint,
            actor=actor,
            evaluate_tier=evaluate_tier,
        )
        if result is not None:
            return result
    existing = Payment.objects.filter(source=source, source_ref=source_ref, event_id=event_id).first()
    if existing:
        return _payment_repeat(existing, fingerprint)

    player = player_get_or_create(account_id=account_id, server=server)
    if kind == PaymentKind.REFUND:
        player = Player.objects.select_for_update().get(pk=player.pk)
        # A copy that held the lock before us has been stored by now: it is this
        # event's duplicate (or conflict), not a second refund against lowered spend.
        existing = Payment.objects.filter(source=source, source_ref=source_ref, event_id=event_id).first()
        if existing:
            return _payment_repeat(existing, fingerprint)
        _refund_check(player=player, amount_base=amount_base, refund_of=refund_of, source=source, source_ref=source_ref)

    payment = Payment(
        player=player,
        source=source,
        source_ref=source_ref,
        event_id=event_id,
        kind=kind,
        amount=amount,
        currency=currency,
        amount_base=amount_base,
        server=server,
        occurred_at=occurred_at,
        order_id=order_id,
        product=product,
        refund_of=refund_of,
        fingerprint=fingerprint,
        recorded_by=actor,
    )
    try:
        with transaction.atomic():
            payment.save(force_insert=True)
    except IntegrityError:
        # A concurrent copy won the race; the constraint, not a check, decided.
        existing = Payment.objects.get(source=source, source_ref=source_ref, event_id=event_id)
        return _payment_repeat(existing, fingerprint)

    _player_totals_apply(player=player, payment=payment)
    if evaluate_tier:
        from vip.models import TierChangeReason
        from vip.services import tier_evaluate

        player.refresh_from_db()
        reason = TierChangeReason.PAYMENT if kind == PaymentKind.PURCHASE else TierChangeReason.REFUND
        tier_evaluate(player=player, reason=reason, actor=actor)
    payer_status_refresh(player_ids=[player.pk], trigger=kind if kind == PaymentKind.REFUND else "payment")
    return PaymentResult(payment=payment, status="created", fingerprint=fingerprint)


def _payment_repeat(existing: Payment, fingerprint: str) -> PaymentResult:
    return PaymentResult(
        payment=existing,
        status="duplicate" if existing.fingerprint == fingerprint else "conflict",
        fingerprint=fingerprint,
    )


_PAYMENT_COLUMNS = (
    "player_id, source, source_ref, event_id, kind, amount, currency, amount_base, server, occurred_at,"
    " received_at, order_id, product, refund_of, fingerprint, recorded_by_id"
)


def _purchase_record_postgres(*, account_id, event_id, fingerprint, actor, evaluate_tier, **values):
    """One purchase in two statements on PostgreSQL: INSERT ... ON CONFLICT DO NOTHING
    (the unique constraint decides between concurrent copies) and one UPDATE of the
    totals that also returns the tiers. None when the player does not exist yet."""
    from vip.models import Tier, TierChangeReason
    from vip.services import tier_evaluate, tier_qualified

    payment_table, player_table = Payment._meta.db_table, Player._meta.db_table
    now = timezone.now()
    # One round trip: the insert decides, and the totals move only if it inserted.
    at = values["occurred_at"]
    row = prepared_fetchone(
        f"WITH new AS (INSERT INTO {payment_table} ({_PAYMENT_COLUMNS}) "
        "SELECT p.id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s "
        f"FROM {player_table} p WHERE p.account_id = %s "
        "ON CONFLICT (source, source_ref, event_id) DO NOTHING RETURNING id, player_id) "
        f"UPDATE {player_table} AS p SET total_spend = p.total_spend + %s, purchase_count = p.purchase_count + 1,"
        " first_paid_at = LEAST(COALESCE(p.first_paid_at, %s), %s),"
        " last_paid_at = GREATEST(COALESCE(p.last_paid_at, %s), %s)"
        " FROM new WHERE p.id = new.player_id"
        " RETURNING new.id, p.id, p.total_spend, p.tier_id, p.tier_since, p.tier_pinned_until, p.tier_below_since,"
        " (SELECT json_agg(json_build_array(t.id, t.name, t.level, t.min_spend::text, t.window_days,"
        f" t.downgrade_grace_days) ORDER BY t.level) FROM {Tier._meta.db_table} t)",
        [
            values["source"],
            values["source_ref"],
            event_id,
            PaymentKind.PURCHASE,
            values["amount"],
            values["currency"],
            values["amount_base"],
            values["server"],
            values["occurred_at"],
            now,
            values["order_id"],
            values["product"],
            values["refund_of"],
            fingerprint,
            actor.pk if actor is not None else None,
            account_id,
            values["amount_base"],
            at,
            at,
            at,
            at,
        ],
    )
    if row is None:
        existing = Payment.objects.filter(
            source=values["source"], source_ref=values["source_ref"], event_id=event_id
        ).first()
        return _payment_repeat(existing, fingerprint) if existing else None
    payment_id, player_id, total_spend, tier_id, tier_since, pinned_until, below_since, tier_rows = row
    payment = Payment(
        id=payment_id,
        player_id=player_id,
        event_id=event_id,
        kind=PaymentKind.PURCHASE,
        fingerprint=fingerprint,
        received_at=now,
        recorded_by=actor,
        **values,
    )
    payment._state.adding, payment._state.db = False, connection.alias
    if evaluate_tier:
        tiers = _tiers_from_rows(tuple(tuple(row) for row in tier_rows or ()))
        player = Player.from_db(
            connection.alias,
            ["id", "account_id", "total_spend", "tier_id", "tier_since", "tier_pinned_until", "tier_below_since"],
            [player_id, account_id, total_spend, tier_id, tier_since, pinned_until, below_since],
        )
        player.tier = next((t for t in tiers if t.pk == tier_id), None) if tier_id else None
        # Only an upgrade can follow a purchase; look before opening tier_evaluate's savepoint.
        if not (pinned_until and pinned_until > now):
            qualified = tier_qualified(player=player, tiers=tiers, now=now)
            if (qualified.level if qualified else 0) > (player.tier.level if player.tier else 0):
                tier_evaluate(player=player, reason=TierChangeReason.PAYMENT, actor=actor, tiers=tiers)
    payer_status_refresh(player_ids=[player_id], trigger="payment")  # churn: records the status change
    return PaymentResult(payment=payment, status="created", fingerprint=fingerprint)


@functools.lru_cache(maxsize=16)
def _tiers_from_rows(rows: tuple) -> list:
    """Tier objects from the rows the purchase statement returns, made once per
    distinct configuration in this process (the statement reads the tiers afresh every
    time, so an edit counts at once; only the objects are reused, never changed)."""
    from vip.models import Tier

    return [
        Tier.from_db(
            connection.alias,
            ["id", "name", "level", "min_spend", "window_days", "downgrade_grace_days"],
            [pk, name, level, Decimal(spend), window, grace],
        )
        for pk, name, level, spend, window, grace in rows
    ]


def _refund_check(*, player: Player, amount_base: Decimal, refund_of: str, source: str, source_ref: str) -> None:
    if refund_of:
        original = Payment.objects.filter(
            player=player, source=source, source_ref=source_ref, event_id=refund_of, kind=PaymentKind.PURCHASE
        ).first()
        if original is None:
            raise ValidationError({"refund_of": [_("No purchase with this event id for this player.")]})
        refunded = Payment.objects.filter(
            player=player, source=source, source_ref=source_ref, refund_of=refund_of, kind=PaymentKind.REFUND
        ).aggregate(total=Coalesce(Sum("amount_base"), Value(Decimal(0))))["total"]
        if refunded + amount_base > original.amount_base:
            raise ValidationError(
                {
                    "amount": [
                        _("Refunds would exceed the refunded purchase (%(amount)s).") % {"amount": original.amount_base}
                    ]
                }
            )
    if amount_base > player.total_spend:
        raise ValidationError(
            {
                "amount": [
                    _("A refund of %(refund)s exceeds the player's total spend of %(spend)s.")
                    % {"refund": amount_base, "spend": player.total_spend}
                ]
            }
        )


def _player_totals_apply(*, player: Player, payment: Payment) -> None:
    """Move the derived money fields with F() expressions: no lost update under concurrency."""
    at = payment.occurred_at
    if payment.kind == PaymentKind.PURCHASE:
        Player.objects.filter(pk=player.pk).update(
            total_spend=F("total_spend") + payment.amount_base,
            purchase_count=F("purchase_count") + 1,
            first_paid_at=Least(Coalesce(F("first_paid_at"), Value(at)), Value(at)),
            last_paid_at=Greatest(Coalesce(F("last_paid_at"), Value(at)), Value(at)),
        )
    else:
        Player.objects.filter(pk=player.pk).update(total_spend=F("total_spend") - payment.amount_base)
    # payer_status moves in players.services.churn (payer_status_refresh), which records the transition.


def player_get_or_create(*, account_id: str, server: str = "") -> Player:
    """The player with this account id, created (game is the source of truth) if unknown."""
    account_id = account_id.strip()
    if not account_id:
        raise ValidationError({"account_id": [_("This field is required.")]})
    player, _created = Player.objects.get_or_create(account_id=account_id, defaults={"server": server})
    return player


@transaction.atomic
def player_upsert(*, account_id: str, data: dict, actor=None) -> tuple[Player, bool]:
    """Create or update the profile the game knows. Only GAME_FIELDS are written;
    staff-owned fields are never touched. Returns (player, created)."""
    unknown = set(data) - set(GAME_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set here.")] for name in sorted(unknown)})
    player = Player.objects.select_for_update().filter(account_id=account_id).first()
    created = player is None
    if created:
        player = Player(account_id=account_id)
    for name, value in data.items():
        setattr(player, name, value)
    # An existing player's other fields are not this request's to judge: a value stored
    # before today's rules (say a login in 9999) must not block every later update.
    unchecked = set() if created else {field.name for field in Player._meta.fields} - set(data)
    if "last_login_at" in data and not created:
        previous = Player.objects.filter(pk=player.pk).values_list("last_login_at", flat=True).first()
        if previous and (value := data["last_login_at"]) and value < previous:
            player.last_login_at = previous  # logins only move forward
            unchecked.add("last_login_at")
    player.full_clean(exclude=["tier", *unchecked], validate_unique=created)
    birthday_key_apply(player)
    player._history_user = actor
    player.save()
    return player, created


@transaction.atomic
def player_update(*, player: Player, data: dict, actor) -> Player:
    """Staff edit of any profile field (admin form, future UI)."""
    for name, value in data.items():
        setattr(player, name, value)
    player.full_clean()
    birthday_key_apply(player)
    player._history_user = actor
    player.save()
    return player


def players_totals_rebuild(*, player_ids=None) -> list[int]:
    """Recompute every derived money field from the ledger. Returns the ids corrected."""
    players = Player.objects.all()
    if player_ids is not None:
        players = players.filter(pk__in=player_ids)
    ledger = players.annotate(
        ledger_spend=Coalesce(
            Sum("payments__amount_base", filter=Q(payments__kind=PaymentKind.PURCHASE)), Value(Decimal(0))
        )
        - Coalesce(Sum("payments__amount_base", filter=Q(payments__kind=PaymentKind.REFUND)), Value(Decimal(0))),
        ledger_count=Count("payments", filter=Q(payments__kind=PaymentKind.PURCHASE)),
        ledger_first=Min("payments__occurred_at", filter=Q(payments__kind=PaymentKind.PURCHASE)),
        ledger_last=Max("payments__occurred_at", filter=Q(payments__kind=PaymentKind.PURCHASE)),
    ).values_list(
        "pk",
        "total_spend",
        "purchase_count",
        "first_paid_at",
        "last_paid_at",
        "payer_status",
        "ledger_spend",
        "ledger_count",
        "ledger_first",
        "ledger_last",
    )
    corrected = []
    for pk, spend, count, first, last, status, l_spend, l_count, l_first, l_last in ledger.iterator(chunk_size=5000):
        l_status = (
            status
            if l_spend > 0 and status != PayerStatus.NON_PAYER
            else (PayerStatus.ACTIVE if l_spend > 0 else PayerStatus.NON_PAYER)
        )
        if (spend, count, first, last, status) != (l_spend, l_count, l_first, l_last, l_status):
            Player.objects.filter(pk=pk).update(
                total_spend=l_spend,
                purchase_count=l_count,
                first_paid_at=l_first,
                last_paid_at=l_last,
                payer_status=l_status,
            )
            corrected.append(pk)
    return corrected


@transaction.atomic
def contact_log_create(
    *,
    player: Player,
    staff,
    channel: str,
    contacted_at: datetime | None = None,
    direction: str = "outbound",
    topic: str = "",
    summary: str = "",
    outcome: str = "",
    duration_minutes: int | None = None,
    next_follow_up=None,
    source: str = "",
) -> ContactLog:
    contact = ContactLog(
        player=player,
        staff=staff,
        channel=channel,
        direction=direction,
        contacted_at=contacted_at or timezone.now(),
        topic=topic,
        summary=summary,
        outcome=outcome,
        duration_minutes=duration_minutes,
        next_follow_up=next_follow_up,
        source=source,
    )
    contact.full_clean()
    contact.save()
    return contact
