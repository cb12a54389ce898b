"""The player profile's statements, per database engine, behind one interface.

`profile_engine()` is the one place of the profile area that chooses:
`PostgresProfileEngine` on PostgreSQL, `ProfileEngine` (portable, the ORM) elsewhere.
Both implement the same rules, and `players/tests/test_services_profile_engines.py` runs
both over the same cases (on PostgreSQL it compares the two):

- `player_card`: what the API's player endpoints show of one player. On PostgreSQL one
  prepared statement of the connection (the hot read path: no ORM query compilation,
  and PostgreSQL parses and plans it once per connection instead of at every lookup,
  which was half of the server's CPU per lookup: 0.31-0.36 ms -> 0.12-0.17 ms).
- `lunar_keys_write`: the greeting key of players with a lunar birthday. The key depends
  only on the date of birth, so each distinct date (a few tens of thousands at most) is
  converted once; on PostgreSQL one UPDATE joins them in, elsewhere chunked bulk updates.
- `table_write_lock`: a set-based writer that judges from what is already written (a
  server merge: "was this server merged already?") holds off every other writer of its
  table until it commits. PostgreSQL locks the table (readers go on); SQLite has one
  writer at a time anyway, and a second transaction that read before the first wrote
  cannot commit a write after it.
- `temp_table_analyze`: after filling a temporary table that the next statements join
  (the duplicate finder's pairs), PostgreSQL is told its size (autovacuum never analyses
  a temporary table, and its plans would assume a few hundred rows); SQLite plans without.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection

from ..models import Player
from .prepared import prepared_fetchone

# What the API's player endpoints read of a player (players.api.serializers).
PLAYER_CARD_FIELDS = (
    "id",
    "account_id",
    "nickname",
    "server",
    "tier",
    "tier_since",
    "total_spend",
    "last_paid_at",
    "last_login_at",
    "payer_status",
    "tier__name",
    "tier__level",
)
CHUNK = 5000


class ProfileEngine:
    """Portable: the ORM."""

    def player_card(self, account_id: str):
        """The player with `account_id` as the API shows it (the card's fields), or None."""
        return Player.objects.select_related("tier").only(*PLAYER_CARD_FIELDS).filter(account_id=account_id).first()

    def lunar_keys_write(self, lunar_players, key_of: Callable) -> int:
        """Write `key_of(birthday)` as the key of these players (a queryset of lunar
        birthdays) where it differs; returns how many changed."""
        changed, batch = 0, []
        for pk, birthday, current in lunar_players.values_list("pk", "birthday", "birthday_md").iterator(
            chunk_size=CHUNK
        ):
            key = key_of(birthday)
            if key != current:
                batch.append(Player(pk=pk, birthday_md=key))
            if len(batch) >= 500:
                Player.objects.bulk_update(batch, ["birthday_md"])
                changed += len(batch)
                batch = []
        if batch:
            Player.objects.bulk_update(batch, ["birthday_md"])
            changed += len(batch)
        return changed

    def table_write_lock(self, model) -> None:
        """Until this transaction ends, no other transaction writes `model`'s table (nor
        takes this lock); reads go on. Call it inside `transaction.atomic()`."""

    def temp_table_analyze(self, cursor, table: str) -> None:
        """Tell the planner the size of the temporary `table` just filled."""


class _PlayerCard:
    __slots__ = (
        "account_id",
        "nickname",
        "server",
        "tier_since",
        "total_spend",
        "last_paid_at",
        "last_login_at",
        "payer_status",
        "tier",
    )


class _TierName:
    __slots__ = ("name", "level")


_PLAYER_CARD_SQL = (
    "SELECT p.account_id, p.nickname, p.server, p.tier_since, p.total_spend, p.last_paid_at, p.last_login_at,"
    f" p.payer_status, t.name, t.level FROM {Player._meta.db_table} p"
    f" LEFT JOIN {Player._meta.get_field('tier').related_model._meta.db_table} t ON t.id = p.tier_id"
    " WHERE p.account_id = %s"
)


class PostgresProfileEngine(ProfileEngine):
    def player_card(self, account_id: str):
        row = prepared_fetchone(_PLAYER_CARD_SQL, [account_id])
        if row is None:
            return None
        card = _PlayerCard()
        (
            card.account_id,
            card.nickname,
            card.server,
            card.tier_since,
            card.total_spend,
            card.last_paid_at,
            card.last_login_at,
            card.payer_status,
            tier_name,
            tier_level,
        ) = row
        card.tier = None
        if tier_name is not None:
            card.tier = _TierName()
            card.tier.name, card.tier.level = tier_name, tier_level
        return card

    def lunar_keys_write(self, lunar_players, key_of: Callable) -> int:
        dates = list(lunar_players.order_by().values_list("birthday", flat=True).distinct())
        if not dates:
            return 0
        keys = [key_of(d) for d in dates]
        scope_sql, scope_params = lunar_players.order_by().values("pk").query.sql_with_params()
        table = connection.ops.quote_name(Player._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS p SET birthday_md = m.key "
                "FROM unnest(%s::date[], %s::int[]) AS m(birthday, key) "
                "WHERE p.birthday = m.birthday AND p.birthday_md IS DISTINCT FROM m.key "
                f"AND p.id IN ({scope_sql})",
                [dates, keys, *scope_params],
            )
            return cursor.rowcount

    def table_write_lock(self, model) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE")

    def temp_table_analyze(self, cursor, table: str) -> None:
        cursor.execute(f"ANALYZE {table}")


_PORTABLE = ProfileEngine()
_ENGINES = {"postgresql": PostgresProfileEngine()}


def profile_engine() -> ProfileEngine:
    """The engine for the default database: the one place the profile area chooses."""
    return _ENGINES.get(connection.vendor, _PORTABLE)
