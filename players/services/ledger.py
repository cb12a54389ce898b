"""The payment ledger: the one writer of the Payment table.

- `payments_record_batch` records a list of events, set-based: each event is judged
  on its own (bad ones are reported by index, good ones stored); exactly-once by the
  unique (source, source_ref, event_id) constraint; unknown accounts are created.
  Purchases go in together; refunds, which are checked against what the player has
  spent (the ledger's sum) and against the purchase they name, go one by one in their
  order after the batch's purchases. The insert marks the players "to project", and
  once the batch commits their totals, tier and payer status follow
  (`projection.projection_follow`: a Celery worker with a broker, this process
  without). The API's batches, imports and the demo call it.
- `payment_record` is a batch of one (the API's single event, staff, tests): the same
  path, with the error raised instead of reported, and its player projected in the
  same transaction (`projection.players_project_ledger`), so that its state is current
  when it returns.
- The insert is `ledger_engine().append` (`ledger_engines`: one interface, a portable
  and a PostgreSQL statement).
- `players_totals_rebuild` (the `rebuild_player_totals` command) recomputes every
  player's totals from the ledger and projects those it corrected.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _json_string  # what json.dumps uses for a str

from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.money import CENT

from ..models import PayerStatus, Payment, PaymentKind, Player
from .events import event_id_echo, payment_event_clean
from .ledger_engines import PLAYER_STATE_FIELDS, ledger_engine, ledger_totals
from .minors import minor_payments_flag
from .privacy import erased_account_key, erased_players_find
from .projection import REBUILD, players_project, players_project_ledger, projection_follow
from .servers import servers_current

log = logging.getLogger(__name__)

MAX_BATCH = 1000


@dataclass(frozen=True)
class PaymentResult:
    status: str  # "created", "duplicate" or "conflict"
    fingerprint: str = ""  # of the content received (for a conflict, `payment` holds the stored one)
    # Builds `payment` when it is first asked for: the API's single event answers with the
    # status alone, and a Payment instance (Model.__init__ over its keyword arguments) cost
    # ~5 % of its Python.
    payment_build: Callable[[], Payment] = field(default=lambda: None, repr=False, compare=False)

    @functools.cached_property
    def payment(self) -> Payment:
        """The event as stored (created), or as the exactly-once check read it (duplicate,
        conflict: its id, player and stored fingerprint; its other fields load if asked for)."""
        return self.payment_build()

    @property
    def created(self) -> bool:
        return self.status == "created"


@dataclass
class PaymentBatchResult:
    created: int = 0
    duplicates: int = 0
    conflicts: int = 0
    # {"index", "event_id", "error": "invalid" | "conflict", "fields"?}
    errors: list[dict] = field(default_factory=list)
    # (index, event_id, stored fingerprint, received fingerprint) for each conflict
    conflict_digests: list[tuple[int, str, str, str]] = field(default_factory=list)
    # players whose ledger moved (marked "to project", or projected with a single event)
    player_ids: set[int] = field(default_factory=set)
    # index -> (status, payment id, player id) for each event stored or found stored
    outcomes: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    # index -> the error of an event refused after cleaning (a refund's checks)
    refused: dict[int, ValidationError] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "errors": sorted(self.errors, key=lambda e: e["index"]),
        }

    def add(self, other: PaymentBatchResult) -> None:
        self.created += other.created
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.errors += other.errors
        self.conflict_digests += other.conflict_digests
        self.player_ids |= other.player_ids
        self.outcomes.update(other.outcomes)
        self.refused.update(other.refused)


def payment_fingerprint(
    *, account_id, kind, amount, currency, occurred_at, server="", order_id="", product="", refund_of=""
) -> str:
    """A digest of what an event says, so that a retry can be told from a conflict: the
    SHA-256 of `json.dumps(content, sort_keys=True)` (the stored fingerprints' form),
    written out key by key with the same string encoder, at half the cost for a batch of
    a thousand (players/tests/test_services_ledger.py holds it to json.dumps)."""
    return hashlib.sha256(
        (
            '{"account_id": ' + _json_string(str(account_id))
            + ', "amount": ' + _json_string(str(Decimal(amount).quantize(CENT)))
            + ', "currency": ' + _json_string(currency.upper())
            + ', "kind": ' + _json_string(str(kind))
            + ', "occurred_at": ' + _json_string(occurred_at.astimezone(UTC).isoformat())
            + ', "order_id": ' + _json_string(order_id or "")
            + ', "product": ' + _json_string(product or "")
            + ', "refund_of": ' + _json_string(refund_of or "")
            + ', "server": ' + _json_string(server or "")
            + "}"
        ).encode()
    ).hexdigest()  # fmt: skip


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
) -> PaymentResult:
    """Append one purchase or refund to the ledger: a batch of one.

    The same id with the same content is a "duplicate", with other content a
    "conflict"; neither changes anything. A refund may not exceed what the player has
    spent (net); that is rejected on `amount` rather than letting spend go negative.
    The player's totals, tier and payer status are current when it returns.
    """
    # The one check of an event's values (events.payment_event_clean), as for a batch or an import.
    event, errors = payment_event_clean(
        {
            "event_id": event_id,
            "account_id": account_id,
            "server": server,
            "type": kind,
            "amount": amount,
            "currency": currency,
            "occurred_at": occurred_at,
            "order_id": order_id,
            "product": product,
            "refund_of": refund_of,
        }
    )
    if errors:
        raise ValidationError(errors)
    return payment_record_clean(event, source=source, source_ref=source_ref, actor=actor)


def payment_record_clean(event: dict, *, source: str, source_ref: str = "", actor=None) -> PaymentResult:
    """`payment_record` for an event `payment_event_clean` has just returned (the API's
    single event, which cleans the body itself to answer its errors per field): the same
    path, without cleaning it twice."""
    result = _payments_record(valid=[(0, event)], source=source, source_ref=source_ref, actor=actor, project_now=True)
    if 0 in result.refused:
        raise result.refused[0]
    status, payment_id, player_id = result.outcomes[0]
    if status != "created":
        # The stored event as the exactly-once check read it (no second read): its other
        # fields load if they are asked for.
        fingerprint = event["fingerprint"] if status == "duplicate" else result.conflict_digests[0][2]

        def stored() -> Payment:
            return Payment.from_db(
                Payment.objects.db, ["id", "player_id", "fingerprint"], [payment_id, player_id, fingerprint]
            )

        return PaymentResult(status=status, fingerprint=event["fingerprint"], payment_build=stored)

    def created() -> Payment:
        payment = Payment(
            id=payment_id,
            player_id=player_id,
            source=source,
            source_ref=source_ref,
            recorded_by=actor,
            **{name: value for name, value in event.items() if name != "account_id"},
        )
        payment._state.adding, payment._state.db = False, Payment.objects.db
        return payment

    return PaymentResult(status="created", fingerprint=event["fingerprint"], payment_build=created)


def payments_record_batch(
    *, events: list, source: str, source_ref: str = "", actor=None, retries: int = 2
) -> PaymentBatchResult:
    """Record a list of payment events (dicts as the API takes them: `type` or `kind`,
    amounts and times as strings or typed values). Their players' derived state follows
    once the batch commits (`projection_follow`)."""
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
    if valid:
        result.add(
            _payments_record(
                valid=valid,
                source=source,
                source_ref=source_ref,
                actor=actor,
                project_now=False,
                retries=retries,
            )
        )
        projection_follow(result.player_ids)
    return result


def _payments_record(*, valid, source, source_ref, actor, project_now: bool, retries: int = 2) -> PaymentBatchResult:
    for attempt in range(retries + 1):
        try:
            return _payments_store(
                valid=valid, source=source, source_ref=source_ref, actor=actor, project_now=project_now
            )
        except OperationalError as exc:  # a deadlock with a concurrent batch: nothing was kept, try again
            if attempt == retries or "deadlock" not in str(exc).lower():
                raise
            log.warning("payment batch deadlocked, retrying (%s)", attempt + 1)
    raise AssertionError("unreachable")


@transaction.atomic
def _payments_store(*, valid, source, source_ref, actor, project_now: bool) -> PaymentBatchResult:
    """Insert the events; `project_now` projects their players in this transaction (a
    single event), else the insert marks them "to project" (a batch)."""
    now = timezone.now()
    mark = not project_now
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

    actor_id = actor.pk if actor is not None else None
    engine = ledger_engine()
    if purchases:
        events = [event for _i, event in purchases]
        appended = engine.append(
            events=events, source=source, source_ref=source_ref, actor_id=actor_id, now=now, mark=mark, lock=project_now
        )
        inserted = appended.inserted
        # Not inserted: stored before (a repeat), or its account has no player yet.
        pending = [(i, e) for i, e in purchases if e["event_id"] not in inserted] + repeats
        stored = _stored(source, source_ref, {e["event_id"] for _i, e in pending}) if pending else {}
        unknown = [e for _i, e in purchases if e["event_id"] not in inserted and e["event_id"] not in stored]
        if unknown:
            players_ensure(accounts={e["account_id"]: e["server"] for e in unknown}, actor=actor, now=now)
            _erased_accounts_follow(unknown)
            more = engine.append(
                events=unknown,
                source=source,
                source_ref=source_ref,
                actor_id=actor_id,
                now=now,
                mark=mark,
                lock=project_now,
            )
            inserted = {**inserted, **more.inserted}
            appended.players += more.players
            late = [e["event_id"] for e in unknown if e["event_id"] not in more.inserted]
            if late:  # stored by a concurrent copy meanwhile
                stored.update(_stored(source, source_ref, set(late)))
        for index, event in purchases:
            if event["event_id"] in inserted:
                result.outcomes[index] = ("created", *inserted[event["event_id"]])
        repeated = {index for index, _e in repeats}
        for index, event in pending:
            if event["event_id"] not in inserted or index in repeated:
                _classify(result, index, event, stored.get(event["event_id"]))
        result.created += len(inserted)
        if appended.players and inserted:
            # NPPA caps: a minor's purchase over their age's caps is flagged (no query without minors).
            minor_payments_flag(players=appended.players, inserted=inserted, events=events, now=now)
        result.player_ids |= {p.pk for p in appended.players}

    for index, event in refunds:
        try:
            with transaction.atomic():
                _refund_store(
                    result, index, event, source=source, source_ref=source_ref, actor=actor, now=now, mark=mark
                )
        except ValidationError as exc:
            result.refused[index] = exc
            result.errors.append(
                {"index": index, "event_id": event["event_id"], "error": "invalid", "fields": exc.message_dict}
            )
    if project_now and result.player_ids:
        # locked: by the append (purchases) or by the refund's check (_refund_store)
        players_project_ledger(
            player_ids=result.player_ids, ledger_ids=result.player_ids, actor=actor, now=now, locked=True
        )
    return result


def _stored(source: str, source_ref: str, event_ids: set[str]) -> dict[str, tuple[str, int, int]]:
    """{event_id: (fingerprint, payment id, player id)} of these events as stored."""
    return {
        event_id: (fingerprint, pk, player_id)
        for event_id, fingerprint, pk, player_id in Payment.objects.filter(
            source=source, source_ref=source_ref, event_id__in=event_ids
        ).values_list("event_id", "fingerprint", "pk", "player_id")
    }


def _refund_store(result, index, event, *, source, source_ref, actor, now, mark: bool) -> None:
    """One refund, checked against what the player has spent (the ledger's sum) while
    the player's row is locked: a copy that held the lock before us has been stored by
    then, and is this event's duplicate (or conflict), not a second refund against
    lowered spend. In a batch (`mark`) the player's mark is taken first, the lock order
    of the event path (players.services.projection)."""
    player_id = _player_id(event["account_id"])
    if player_id is None and _erased_accounts_follow([event]):
        player_id = _player_id(event["account_id"])
    engine = ledger_engine()
    if player_id is not None:
        if mark:
            engine.projection_mark(player_ids=[player_id], now=now, ledger=True)
        list(Player.objects.select_for_update(no_key=True).filter(pk=player_id).values_list("pk"))
    stored = _stored(source, source_ref, {event["event_id"]})
    if stored:
        _classify(result, index, event, stored[event["event_id"]])
        return
    spend = Decimal("0.00")
    if player_id is not None:
        spend = Payment.objects.filter(player_id=player_id).aggregate(**ledger_totals())["ledger_spend"]
    _refund_check(
        player_id=player_id,
        spend=spend,
        amount_base=event["amount_base"],
        refund_of=event["refund_of"],
        source=source,
        source_ref=source_ref,
    )
    appended = engine.append(
        events=[event], source=source, source_ref=source_ref, actor_id=actor.pk if actor else None, now=now, mark=False
    )
    result.outcomes[index] = ("created", *appended.inserted[event["event_id"]])
    result.created += 1
    result.player_ids.add(player_id)


def _player_id(account_id: str) -> int | None:
    return Player.objects.filter(account_id=account_id).values_list("pk", flat=True).first()


def _classify(result: PaymentBatchResult, index: int, event: dict, stored: tuple | None) -> None:
    fingerprint = stored[0] if stored else ""
    if stored:
        result.outcomes[index] = (
            "duplicate" if fingerprint == event["fingerprint"] else "conflict",
            stored[1],
            stored[2],
        )
    if fingerprint == event["fingerprint"]:
        result.duplicates += 1
        return
    result.conflicts += 1
    result.errors.append({"index": index, "event_id": event["event_id"], "error": "conflict"})
    result.conflict_digests.append((index, event["event_id"], fingerprint, event["fingerprint"]))


def _refund_check(
    *, player_id: int | None, spend: Decimal, amount_base: Decimal, refund_of: str, source: str, source_ref: str
) -> None:
    if refund_of:
        original = Payment.objects.filter(
            player_id=player_id, source=source, source_ref=source_ref, event_id=refund_of, kind=PaymentKind.PURCHASE
        ).first()
        if original is None:
            raise ValidationError({"refund_of": [_("No purchase with this event id for this player.")]})
        refunded = Payment.objects.filter(
            player_id=player_id, source=source, source_ref=source_ref, refund_of=refund_of, kind=PaymentKind.REFUND
        ).aggregate(total=Coalesce(Sum("amount_base"), Value(Decimal(0))))["total"]
        if refunded + amount_base > original.amount_base:
            raise ValidationError(
                {
                    "amount": [
                        _("Refunds would exceed the refunded purchase (%(amount)s).") % {"amount": original.amount_base}
                    ]
                }
            )
    if amount_base > spend:
        raise ValidationError(
            {
                "amount": [
                    _("A refund of %(refund)s exceeds the player's total spend of %(spend)s.")
                    % {"refund": amount_base, "spend": spend}
                ]
            }
        )


def _erased_accounts_follow(events: list[dict]) -> bool:
    """Events for accounts erased on request are recorded on the erased row: their
    account id becomes the row's digest (players.services.privacy). True if any did."""
    erased = erased_players_find({e["account_id"] for e in events})
    for event in events:
        if event["account_id"] in erased:
            event["account_id"] = erased_account_key(event["account_id"])
    return bool(erased)


def players_ensure(*, accounts: dict[str, str], actor=None, now: datetime | None = None) -> dict[str, int]:
    """{account_id: server} -> {account_id: player id}, creating unknown players in
    bulk (the game is the source of truth), each with its creation in the history."""
    now = now or timezone.now()
    found = dict(Player.objects.filter(account_id__in=list(accounts)).values_list("account_id", "id"))
    missing = sorted(set(accounts) - set(found))
    if missing:  # an account erased on request is found by its digest, never created again
        erased = erased_players_find(missing)
        found.update(erased)
        missing = [a for a in missing if a not in erased]
    if missing:
        merged = servers_current(accounts[a] for a in missing)  # an id merged away (合服) names its new server
        Player.objects.bulk_create(
            [Player(account_id=a, server=merged.get(accounts[a], accounts[a])) for a in missing],
            ignore_conflicts=True,
            batch_size=1000,
        )
        new_players = list(Player.objects.filter(account_id__in=missing))
        Player.history.bulk_history_create(new_players, default_user=actor, default_date=now)
        found.update((p.account_id, p.pk) for p in new_players)
    return found


def players_totals_rebuild(*, player_ids=None) -> list[int]:
    """Recompute every derived money field from the ledger, then the tier and payer
    status of the players it corrected (`players_project`). Returns their ids."""
    players = Player.objects.all()
    if player_ids is not None:
        players = players.filter(pk__in=player_ids)
    ledger = (
        players.annotate(**ledger_totals("payments__"))
        .values_list(
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
        )  # fmt: skip
        .order_by("pk")
    )
    corrected = []
    for pk, spend, count, first, last, status, l_spend, l_count, l_first, l_last in ledger.iterator(chunk_size=5000):
        status_wrong = (status == PayerStatus.NON_PAYER) != (l_spend <= 0)
        if (spend, count, first, last) != (l_spend, l_count, l_first, l_last) or status_wrong:
            Player.objects.filter(pk=pk).update(
                total_spend=l_spend, purchase_count=l_count, first_paid_at=l_first, last_paid_at=l_last
            )
            corrected.append(pk)
    for start in range(0, len(corrected), 1000):
        with transaction.atomic():
            chunk = Player.objects.filter(pk__in=corrected[start : start + 1000]).only(*PLAYER_STATE_FIELDS)
            players_project(players=list(chunk), reason=REBUILD, trigger="refresh")
    return corrected
