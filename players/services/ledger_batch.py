"""Many payment events at once, set-based: the API's batch endpoint and payment
history imports.

The rules are `payment_record`'s, applied to a list: each event is judged on its own
(bad ones are reported by index, good ones stored); exactly-once by the unique
(source, source_ref, event_id) constraint; unknown accounts are created; totals move
with one UPDATE per batch; tiers are re-evaluated once per affected player.

Purchases go in set-based (INSERT ... ON CONFLICT DO NOTHING RETURNING on
PostgreSQL). Refunds, which must be checked against what the player has spent and
against the purchase they name, go one by one through `payment_record`, in their
order, after the batch's purchases.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from ..models import Payment, PaymentKind, Player
from . import payment_fingerprint, payment_record
from .churn import payer_status_refresh
from .events import event_id_echo, payment_event_clean
from .prepared import server_cursor

log = logging.getLogger(__name__)

MAX_BATCH = 1000


@dataclass
class PaymentBatchResult:
    created: int = 0
    duplicates: int = 0
    conflicts: int = 0
    # {"index", "event_id", "error": "invalid" | "conflict", "fields"?}
    errors: list[dict] = field(default_factory=list)
    # (index, event_id, stored fingerprint, received fingerprint) for each conflict
    conflict_digests: list[tuple[int, str, str, str]] = field(default_factory=list)
    # players whose spend moved (for hooks such as payer status)
    player_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "errors": sorted(self.errors, key=lambda e: e["index"]),
        }


def payments_record_batch(
    *, events: list, source: str, source_ref: str = "", actor=None, evaluate_tier: bool = True, retries: int = 2
) -> PaymentBatchResult:
    """Record a list of payment events (dicts as the API takes them: `type` or `kind`,
    amounts and times as strings or typed values)."""
    now = timezone.now()
    result = PaymentBatchResult()
    valid: list[tuple[int, dict]] = []
    for index, raw in enumerate(events):
        clean, errors = payment_event_clean(raw, now=now)
        if errors:
            result.errors.append(
                {
                    "index": index,
                    "event_id": event_id_echo(raw.get("event_id")) if isinstance(raw, dict) else None,
                    "error": "invalid",
                    "fields": errors,
                }
            )
        else:
            valid.append((index, clean))
    if not valid:
        return result
    for attempt in range(retries + 1):
        try:
            stored = _payments_store(
                valid=valid, source=source, source_ref=source_ref, actor=actor, now=now, evaluate_tier=evaluate_tier
            )
            break
        except OperationalError as exc:  # a deadlock with a concurrent batch: nothing was kept, try again
            if attempt == retries or "deadlock" not in str(exc).lower():
                raise
            log.warning("payment batch deadlocked, retrying (%s)", attempt + 1)
    result.created += stored.created
    result.duplicates += stored.duplicates
    result.conflicts += stored.conflicts
    result.errors += stored.errors
    result.conflict_digests += stored.conflict_digests
    result.player_ids |= stored.player_ids
    return result


@transaction.atomic
def _payments_store(*, valid, source, source_ref, actor, now, evaluate_tier) -> PaymentBatchResult:
    result = PaymentBatchResult()
    purchases: list[tuple[int, dict]] = []
    repeats: list[tuple[int, dict]] = []
    refunds: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for index, event in valid:
        event["fingerprint"] = payment_fingerprint(
            account_id=event["account_id"],
            kind=event["kind"],
            amount=event["amount"],
            currency=event["currency"],
            occurred_at=event["occurred_at"],
            server=event["server"],
            order_id=event["order_id"],
            product=event["product"],
            refund_of=event["refund_of"],
        )
        if event["kind"] == PaymentKind.REFUND:
            refunds.append((index, event))
        elif event["event_id"] in seen:
            repeats.append((index, event))  # judged against the first copy once it is stored
        else:
            seen.add(event["event_id"])
            purchases.append((index, event))

    player_ids = (
        players_ensure(accounts={e["account_id"]: e["server"] for _i, e in purchases}, actor=actor, now=now)
        if purchases
        else {}
    )
    rows = [(index, event, player_ids[event["account_id"]]) for index, event in purchases]
    created = _payments_insert(rows=rows, source=source, source_ref=source_ref, actor=actor, now=now)

    # Everything not inserted (and every in-batch repeat) is a duplicate or a conflict.
    pending = [(i, e) for i, e, _p in rows if e["event_id"] not in created] + repeats
    if pending:
        stored = dict(
            Payment.objects.filter(
                source=source, source_ref=source_ref, event_id__in={e["event_id"] for _i, e in pending}
            ).values_list("event_id", "fingerprint")
        )
        for index, event in pending:
            _classify(result, index, event, stored.get(event["event_id"]))

    spent = [(event, player_id) for _i, event, player_id in rows if event["event_id"] in created]
    result.created += len(spent)
    if spent:
        paid = _totals_apply(spent, actor=actor, now=now, evaluate_tier=evaluate_tier)
        result.player_ids |= paid
        payer_status_refresh(player_ids=paid, now=now, trigger="payment")  # churn: set-based, records changes

    for index, event in refunds:
        try:
            outcome = payment_record(
                account_id=event["account_id"],
                event_id=event["event_id"],
                kind=event["kind"],
                amount=event["amount"],
                currency=event["currency"],
                occurred_at=event["occurred_at"],
                source=source,
                source_ref=source_ref,
                server=event["server"],
                order_id=event["order_id"],
                product=event["product"],
                refund_of=event["refund_of"],
                actor=actor,
                evaluate_tier=evaluate_tier,
            )
        except ValidationError as exc:
            result.errors.append(
                {"index": index, "event_id": event["event_id"], "error": "invalid", "fields": exc.message_dict}
            )
            continue
        if outcome.status == "created":
            result.created += 1
            result.player_ids.add(outcome.payment.player_id)
        else:
            _classify(result, index, event, outcome.payment.fingerprint)
    return result


def _classify(result: PaymentBatchResult, index: int, event: dict, stored_fingerprint: str | None) -> None:
    if stored_fingerprint == event["fingerprint"]:
        result.duplicates += 1
        return
    result.conflicts += 1
    result.errors.append({"index": index, "event_id": event["event_id"], "error": "conflict"})
    result.conflict_digests.append((index, event["event_id"], stored_fingerprint or "", event["fingerprint"]))


def players_ensure(*, accounts: dict[str, str], actor=None, now: datetime | None = None) -> dict[str, int]:
    """{account_id: server} -> {account_id: player id}, creating unknown players in
    bulk (the game is the source of truth), each with its creation in the history."""
    now = now or timezone.now()
    found = dict(Player.objects.filter(account_id__in=list(accounts)).values_list("account_id", "id"))
    missing = sorted(set(accounts) - set(found))
    if missing:
        Player.objects.bulk_create(
            [Player(account_id=a, server=accounts[a]) for a in missing], ignore_conflicts=True, batch_size=1000
        )
        new_players = list(Player.objects.filter(account_id__in=missing))
        Player.history.bulk_history_create(new_players, default_user=actor, default_date=now)
        found.update((p.account_id, p.pk) for p in new_players)
    return found


_COLUMNS = [
    ("player_id", "bigint"),
    ("source", "text"),
    ("source_ref", "text"),
    ("event_id", "text"),
    ("kind", "text"),
    ("amount", "numeric"),
    ("currency", "text"),
    ("amount_base", "numeric"),
    ("server", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("order_id", "text"),
    ("product", "text"),
    ("refund_of", "text"),
    ("fingerprint", "text"),
    ("recorded_by_id", "bigint"),
]


def _payments_insert(*, rows, source, source_ref, actor, now) -> set[str]:
    """Insert the purchases that are new; return their event ids."""
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: r[1]["event_id"])  # one lock order for concurrent batches
    actor_id = actor.pk if actor is not None else None
    if connection.vendor == "postgresql":
        columns = [[] for _c in _COLUMNS]
        for _index, e, player_id in rows:
            values = (
                player_id, source, source_ref, e["event_id"], e["kind"], e["amount"], e["currency"],
                e["amount_base"], e["server"], e["occurred_at"], now, e["order_id"], e["product"],
                e["refund_of"], e["fingerprint"], actor_id,
            )  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        names = ", ".join(name for name, _t in _COLUMNS)
        unnest = ", ".join(f"%b::{kind}[]" for _n, kind in _COLUMNS)  # binary: no quoting of 16,000 values
        with server_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Payment._meta.db_table} ({names}) SELECT * FROM unnest({unnest}) "
                "ON CONFLICT (source, source_ref, event_id) DO NOTHING RETURNING event_id",
                columns,
            )
            return {event_id for (event_id,) in cursor.fetchall()}
    # Elsewhere (SQLite) writers are serialised (IMMEDIATE transactions): look, then insert.
    existing = set(
        Payment.objects.filter(
            source=source, source_ref=source_ref, event_id__in=[e["event_id"] for _i, e, _p in rows]
        ).values_list("event_id", flat=True)
    )
    new = [
        Payment(
            player_id=player_id,
            source=source,
            source_ref=source_ref,
            event_id=e["event_id"],
            kind=e["kind"],
            amount=e["amount"],
            currency=e["currency"],
            amount_base=e["amount_base"],
            server=e["server"],
            occurred_at=e["occurred_at"],
            received_at=now,
            order_id=e["order_id"],
            product=e["product"],
            refund_of=e["refund_of"],
            fingerprint=e["fingerprint"],
            recorded_by_id=actor_id,
        )  # fmt: skip
        for _i, e, player_id in rows
        if e["event_id"] not in existing
    ]
    Payment.objects.bulk_create(new, batch_size=500)
    return {p.event_id for p in new}


def _totals_apply(spent: list[tuple[dict, int]], *, actor, now, evaluate_tier: bool) -> set[int]:
    """Move each player's totals by the sum of their new purchases and upgrade their
    tier where the new spend reaches a higher one (as `tier_evaluate` does after a
    payment). On PostgreSQL: one locking SELECT and one UPDATE for the whole batch,
    so each player row is rewritten once. Returns the players' ids."""
    from vip.models import TierChangeReason
    from vip.services import tier_qualified, tiers_ordered

    per_player: dict[int, list] = defaultdict(lambda: [Decimal(0), 0, None, None])
    for event, player_id in spent:
        totals = per_player[player_id]
        at = event["occurred_at"]
        totals[0] += event["amount_base"]
        totals[1] += 1
        totals[2] = at if totals[2] is None or at < totals[2] else totals[2]
        totals[3] = at if totals[3] is None or at > totals[3] else totals[3]
    ids = sorted(per_player)
    fields = ["id", "total_spend", "tier_id", "tier_pinned_until"]
    table = Player._meta.db_table
    if connection.vendor != "postgresql":
        return _totals_apply_orm(per_player, ids, fields, actor=actor, now=now, evaluate_tier=evaluate_tier)

    with server_cursor() as cursor:
        # Lock in id order: concurrent batches never wait on each other in a cycle.
        cursor.execute(
            f"SELECT id, total_spend, tier_id, tier_pinned_until FROM {table} WHERE id = ANY(%b) ORDER BY id FOR UPDATE",
            [ids],
        )
        current = {row[0]: row for row in cursor.fetchall()}
        upgrades: dict[int, object] = {}
        if evaluate_tier:
            tiers = tiers_ordered()
            levels = {t.pk: t.level for t in tiers}
            for pk in ids:
                _pk, spend, tier_id, pinned = current[pk]
                if pinned and pinned > now:
                    continue
                player = Player.from_db(connection.alias, fields, [pk, spend + per_player[pk][0], tier_id, pinned])
                qualified = tier_qualified(player=player, tiers=tiers, now=now)
                if qualified and qualified.level > levels.get(tier_id, 0):
                    upgrades[pk] = qualified
        cursor.execute(
            f"UPDATE {table} AS p SET total_spend = p.total_spend + d.spend,"
            " purchase_count = p.purchase_count + d.n,"
            " first_paid_at = LEAST(COALESCE(p.first_paid_at, d.first), d.first),"
            " last_paid_at = GREATEST(COALESCE(p.last_paid_at, d.last), d.last),"
            " tier_id = COALESCE(d.tier, p.tier_id),"
            " tier_since = CASE WHEN d.tier IS NULL THEN p.tier_since ELSE %s END,"
            " tier_below_since = CASE WHEN d.tier IS NULL THEN p.tier_below_since END"
            " FROM unnest(%b::bigint[], %b::numeric[], %b::int[], %b::timestamptz[], %b::timestamptz[],"
            " %b::bigint[]) AS d(id, spend, n, first, last, tier) WHERE p.id = d.id",
            [
                now,
                ids,
                [per_player[i][0] for i in ids],
                [per_player[i][1] for i in ids],
                [per_player[i][2] for i in ids],
                [per_player[i][3] for i in ids],
                [upgrades[i].pk if i in upgrades else None for i in ids],
            ],
        )
    if upgrades:
        from vip.models import TierChange

        TierChange.objects.bulk_create(
            [
                TierChange(
                    player_id=pk,
                    from_tier_id=current[pk][2],
                    to_tier=tier,
                    reason=TierChangeReason.PAYMENT,
                    actor=actor,
                    changed_at=now,
                )
                for pk, tier in upgrades.items()
            ],
            batch_size=1000,
        )
    return set(ids)


def _totals_apply_orm(per_player, ids, fields, *, actor, now, evaluate_tier) -> set[int]:
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce, Greatest, Least

    from vip.models import TierChangeReason
    from vip.services.bulk import tiers_evaluate_bulk

    for player_id in ids:
        spend, count, first, last = per_player[player_id]
        Player.objects.filter(pk=player_id).update(
            total_spend=F("total_spend") + spend,
            purchase_count=F("purchase_count") + count,
            first_paid_at=Least(Coalesce(F("first_paid_at"), Value(first)), Value(first)),
            last_paid_at=Greatest(Coalesce(F("last_paid_at"), Value(last)), Value(last)),
        )
    if evaluate_tier:
        players = list(Player.objects.filter(pk__in=ids).only(*fields))
        tiers_evaluate_bulk(players=players, reason=TierChangeReason.PAYMENT, actor=actor, now=now)
    return set(ids)
