"""One index on players' account ids, not two.

On PostgreSQL a unique CharField gets its unique index and, beside it, a second index
with the pattern operator class for LIKE 'prefix%'. Nothing searches account ids by
prefix (players.selectors: whole, or the end through player_account_suffix), so the
second index only answered equality, as the unique one does, and cost every players row
written one more index entry: an UPDATE of 1,000 rows on the 1M dataset took its
backend 255 ms of CPU with it against 238 ms without (six alternated pairs). The
projection, the logins and every profile write update that row.
"""

from django.db import migrations

PATTERN_INDEX = "(account_id varchar_pattern_ops)"


def _pattern_indexes(cursor) -> list[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'players_player'"
        " AND indexdef LIKE '%%(account_id varchar_pattern_ops)%%' AND indexdef NOT LIKE '%%UNIQUE%%'"
    )
    return [name for (name,) in cursor.fetchall()]


def drop_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in _pattern_indexes(cursor):
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def restore_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _pattern_indexes(cursor):
            cursor.execute(f"CREATE INDEX players_player_account_id_809f509a_like ON players_player {PATTERN_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("players", "0033_survey_expiry_reason")]

    operations = [migrations.RunPython(drop_pattern_index, restore_pattern_index)]
