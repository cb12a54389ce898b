"""Reads: querysets for players, scoped and joined for their use.

Visibility, "which players may this user see", is decided here and nowhere else (as
NetBox's `RestrictedQuerySet.restrict(user)`): the admin's scoped mixin, the exports, the
reports, the workplace and the API apply `player_scope_q` / `players_visible_to`."""

from django.db.models import Q

from ..models import Player

VIEW_ALL_PLAYERS = "players.view_all_players"


def sees_all_players(user) -> bool:
    """Supervisors, operations staff and superusers see every player; a VIP manager their book."""
    return bool(user and (user.is_superuser or user.has_perm(VIEW_ALL_PLAYERS)))


def player_scope_q(user, path: str = "") -> Q:
    """Rows a user may see: everything with players.view_all_players, else the rows of
    players they manage. `path` leads from the model to its Player ("" for Player,
    "player" for a contact, a case, a payment...)."""
    if sees_all_players(user):
        return Q()
    prefix = f"{path}__" if path else ""
    return Q(**{f"{prefix}manager": user})


def is_scoped(user) -> bool:
    """Whether `user` sees only some players (a VIP manager) rather than all."""
    return not sees_all_players(user)


def players_visible_to(user):
    """The players `user` may see."""
    return Player.objects.filter(player_scope_q(user))


def player_net_spend_since(*, player, since):
    """Purchases minus refunds in the base currency after `since` (the ledger's rule for
    spend in a period: tier windows, this month's spend on the customer card)."""
    from decimal import Decimal

    return accounts_net_spend_by_account(player_ids=[player.pk], since=since).get(player.pk, Decimal(0))


def accounts_net_spend_by_account(*, player_ids, since) -> dict:
    """The same rule for each of these accounts, in one query: {account: net spend} (an
    account without payments in the period is left out)."""
    from decimal import Decimal

    from django.db.models import Sum, Value
    from django.db.models.functions import Coalesce

    from ..models import Payment, PaymentKind

    rows = (
        Payment.objects.filter(player_id__in=list(player_ids), occurred_at__gt=since)
        .values("player_id")
        .annotate(
            purchases=Coalesce(Sum("amount_base", filter=Q(kind=PaymentKind.PURCHASE)), Value(Decimal(0))),
            refunds=Coalesce(Sum("amount_base", filter=Q(kind=PaymentKind.REFUND)), Value(Decimal(0))),
        )
        .order_by()
    )
    return {row["player_id"]: row["purchases"] - row["refunds"] for row in rows}


# Shortest term matched as the end of an account id ("100123" finds "demo-100123"):
# shorter ones would match a tenth or a hundredth of all players.
ACCOUNT_SUFFIX_MIN_LENGTH = 4


def player_search_q(term: str, *, user) -> Q:
    """What customer service types into the search box: an account id (whole, or without
    its prefix), a phone number (whole, or its last four digits, 尾号), a real name, or
    the start of a nickname. Each branch is served by an index (players/migrations/0012).

    A real name is searched only for a user who may see real names: a masked user must not
    learn who a player is by trying names. The whole phone number and its last four digits
    are searched for everyone: the last four are shown in the masked phone (138****5678),
    and finding a player by the full number is documented (README, roles)."""
    import unicodedata

    import phonenumbers
    from django.conf import settings
    from django.db.models.functions import Reverse, Right
    from django.db.models.lookups import Exact, StartsWith

    from crm.privacy import can_view_personal_data

    term = term.strip()
    q = Q(account_id=term) | Q(nickname__startswith=term)
    if len(term) >= ACCOUNT_SUFFIX_MIN_LENGTH:
        q |= Q(StartsWith(Reverse("account_id"), term[::-1]))
    if can_view_personal_data(user):
        q |= Q(real_name=term)
    typed = unicodedata.normalize("NFKC", term)  # full-width digits from a Chinese IME
    if len(typed) == 4 and typed.isascii() and typed.isdigit():
        q |= Q(Exact(Right("phone", 4), typed))
    digits = "".join(ch for ch in typed if ch.isdigit() or ch == "+")
    if len(digits.lstrip("+")) >= 7:
        try:
            number = phonenumbers.parse(digits, settings.PHONENUMBER_DEFAULT_REGION)
            if phonenumbers.is_possible_number(number):
                q |= Q(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            pass
    return q


DISTINCT_VALUES_CACHE_SECONDS = 300


def player_distinct_values(field: str) -> list[str]:
    """The non-empty values of an indexed text column (server, channel), for filters.

    A recursive query hops through the index from one value to the next (a handful of
    index probes instead of reading a million rows); cached for a few minutes since
    servers and channels change rarely."""
    from django.core.cache import cache
    from django.db import connection

    if field not in ("server", "channel"):
        raise ValueError(field)
    key = f"players:distinct:{field}"
    values = cache.get(key)
    if values is not None:
        return values
    table = connection.ops.quote_name(Player._meta.db_table)
    column = connection.ops.quote_name(Player._meta.get_field(field).column)
    # Standard SQL that PostgreSQL and SQLite both run: each step one probe of the index.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH RECURSIVE hop(v) AS (
                  SELECT (SELECT {column} FROM {table} WHERE {column} > '' ORDER BY {column} LIMIT 1)
                  UNION ALL
                  SELECT (SELECT {column} FROM {table} WHERE {column} > hop.v ORDER BY {column} LIMIT 1)
                  FROM hop WHERE hop.v IS NOT NULL)
                SELECT v FROM hop WHERE v IS NOT NULL"""
        )
        values = [row[0] for row in cursor.fetchall()]
    if values:
        cache.set(key, values, DISTINCT_VALUES_CACHE_SECONDS)
    return values
