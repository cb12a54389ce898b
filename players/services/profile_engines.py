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
- `servers_rekey`: a server merge's re-key of the accounts (its history rows first). The
  portable engine, and PostgreSQL when the accounts moved are few, UPDATE the rows: each
  moved row is written again with a new entry in every one of the table's ~19 indexes
  (no HOT update: `server` and `updated_at` are indexed), ~140-540 us a row on the shared
  2-core machine, so 1M accounts took 140-540 s. When they are at least `REWRITE_SHARE` of
  the table, PostgreSQL rewrites the table instead, in one pass under an ACCESS EXCLUSIVE
  lock held until the merge commits: `ALTER TABLE ... ALTER COLUMN server TYPE <its own
  type> USING (CASE ...)` writes a new copy of every row with the new server and builds
  every index once, sorted, from it (a copy-and-swap done by PostgreSQL itself: the
  foreign keys of the ~20 tables pointing at players stay, nothing is left behind as dead
  rows); then ANALYZE, as the column's statistics went with its old copy. Its cost follows
  the table's size, not the accounts moved, hence the share. While it runs, every read and
  write of a player waits (a 合服 is a maintenance window); the lock is not queued for more
  than `CRM_SERVER_MERGE_LOCK_WAIT` seconds behind a long reader (the merge is refused and nothing changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import OperationalError, connection, transaction
from django.utils.translation import gettext as _

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
# The table is rewritten when a merge moves at least this share of its accounts: below it,
# updating the moved rows costs less than rewriting every row (bench/bench_servers.py: the
# UPDATE's floor ~140-540 us per moved row, the rewrite ~50 us per row of the table).
REWRITE_SHARE = 0.2
REWRITE_SORT_MEMORY = "512MB"  # for the rewrite's index builds only, then back to the server's setting


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

    def servers_rekey_rewrites(self, accounts: int) -> bool:
        """Whether moving `accounts` accounts rewrites the whole table (under a lock that
        holds off every reader until the merge commits) rather than updating them."""
        return False

    def servers_rekey(
        self, *, old_servers: Sequence[str], new_server: str, now, accounts: int, history: Callable[[], None]
    ) -> int:
        """Move every account of `old_servers` to `new_server` (and `updated_at` to `now`)
        after `history()` wrote their history rows; returns how many moved. `accounts` is
        how many the caller counted (it chooses the statement on PostgreSQL). Call it
        inside `transaction.atomic()`."""
        history()
        return Player.objects.filter(server__in=old_servers).update(server=new_server, updated_at=now)


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

    def servers_rekey_rewrites(self, accounts: int) -> bool:
        if accounts <= 0:
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(Player._meta.db_table)}")
            return accounts >= REWRITE_SHARE * cursor.fetchone()[0]

    def servers_rekey(
        self, *, old_servers: Sequence[str], new_server: str, now, accounts: int, history: Callable[[], None]
    ) -> int:
        from psycopg import sql

        if not self.servers_rekey_rewrites(accounts):
            return super().servers_rekey(
                old_servers=old_servers, new_server=new_server, now=now, accounts=accounts, history=history
            )
        table = connection.ops.quote_name(Player._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            lock_timeout = cursor.fetchone()[0]
            wait_ms = max(1, int(float(getattr(settings, "CRM_SERVER_MERGE_LOCK_WAIT", 10)) * 1000))
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
            try:
                with transaction.atomic():  # a savepoint: a refused lock leaves the merge's transaction usable
                    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            except OperationalError as exc:
                raise ValidationError(
                    {
                        NON_FIELD_ERRORS: [
                            _(
                                "Other work is reading or writing the accounts right now (an export, a report): "
                                "nothing was merged. Try again in a minute."
                            )
                        ]
                    }
                ) from exc
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
            history()
            olds = list(old_servers)
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE server = ANY(%s)", [olds])
            moved = cursor.fetchone()[0]
            # DDL takes no parameters: the values are quoted by psycopg as literals.
            raw = connection.connection
            olds_sql = ", ".join(sql.Literal(old).as_string(raw) for old in olds)
            moves = f"server IN ({olds_sql})"
            server_type = Player._meta.get_field("server").db_type(connection)
            updated_type = Player._meta.get_field("updated_at").db_type(connection)
            # A table with deferred foreign-key checks pending in this transaction cannot be
            # rewritten: they are checked now (what COMMIT would do), then deferred again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Each index is built by a sort: in memory rather than on disk, and by up to two
            # parallel workers (each needs 32 MB of it): 1M accounts, 41-45 s instead of 54-60 s.
            cursor.execute("SHOW maintenance_work_mem")
            work_mem = cursor.fetchone()[0]
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{REWRITE_SORT_MEMORY}'")
            cursor.execute(
                f"ALTER TABLE {table} "
                f"ALTER COLUMN server TYPE {server_type} "
                f"USING (CASE WHEN {moves} THEN {sql.Literal(new_server).as_string(raw)} ELSE server END), "
                f"ALTER COLUMN updated_at TYPE {updated_type} "
                f"USING (CASE WHEN {moves} THEN {sql.Literal(now).as_string(raw)} ELSE updated_at END)"
            )
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [work_mem])
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(f"ANALYZE {table} (server, updated_at)")  # their statistics went with the old copy
        return moved


_PORTABLE = ProfileEngine()
_ENGINES = {"postgresql": PostgresProfileEngine()}


def profile_engine() -> ProfileEngine:
    """The engine for the default database: the one place the profile area chooses."""
    return _ENGINES.get(connection.vendor, _PORTABLE)
