"""The benchmark dataset: 1,000,000 players and 5,000,000 payments on PostgreSQL.

    python -m bench.dataset            # build crm_bench_template unless it is already complete
    python -m bench.dataset --force    # rebuild it
    python -m bench.dataset --players 1000 --payments 5000 --name crm_bench_small

How: a new database `<name>_build` is migrated with the project's own migrations
(so it has the full schema, tiers and roles), the secondary indexes and foreign
keys of the big tables are dropped, the rows are streamed with psycopg 3
`cursor.copy` (four COPY streams at once: players, payments, tier changes,
manager assignments), then indexes and constraints are rebuilt, the tables
vacuumed and analysed, and the database renamed to `<name>` and marked as a
template. A half-built dataset is therefore never visible under the real name.

The data are deterministic for a seed and consistent with the services' rules:
player totals equal the ledger (`manage.py rebuild_player_totals` corrects
nothing), tiers follow lifetime spend with one TierChange per crossing, payer
status is non_payer without net spend, and the players from V3 up are owned by
20 VIP managers (one ManagerAssignment each). Benchmarks never touch the
template: they copy it with `bench.common.bench_database(name)`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from array import array
from bisect import bisect_right
from contextlib import ExitStack
from datetime import date
from functools import lru_cache
from pathlib import Path

from bench.common import TEMPLATE_DB, database_url, psql_connect

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PLAYERS = 1_000_000
DEFAULT_PAYMENTS = 5_000_000
DATASET_VERSION = 2  # 2: birthday keys (birthday_md) filled, as the app keeps them
MANAGERS = 20
LOCK_KEY = 461_002_001  # pg_advisory_lock key: one builder at a time

SERVERS = ["s1", "s1", "s1", "s2", "s2", "s2", "s3", "s3", "s4"]  # s4 is the newest, smallest
CHANNELS = ["app_store", "huawei", "xiaomi", "oppo", "vivo", "taptap", "bilibili", "official"]
PRODUCTS = [  # (price in cents, name)
    (600, "60 钻石"),
    (3000, "300 钻石"),
    (6800, "月卡"),
    (12800, "1280 钻石"),
    (19800, "成长基金"),
    (32800, "3280 钻石"),
    (64800, "6480 钻石"),
]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志强海波宇浩然子轩梓涵一诺欣怡俊杰思雨雨桐晨阳嘉怡天佑"
)
NICK_WORDS = list("龙凤虎狼剑影风云月星辰雪霜夜梦天魂神魔战狂少爷小萌萌酱喵猫兔糖果甜心墨染清欢浅笑")
NICK_SUFFIX = ["", "", "", "丶", "の", "酱", "大人", "灬", "丨", "Ω", "666", "88"]
PINYIN = [
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "gao",
    "lin",
    "luo",
    "long",
    "feng",
    "xiao",
    "tian",
    "yun",
    "xue",
]
MOBILE_PREFIXES = [
    *[
        "130",
        "131",
        "132",
        "133",
        "134",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "153",
        "155",
        "156",
        "157",
        "158",
        "159",
    ],
    *[
        "166",
        "170",
        "173",
        "175",
        "176",
        "177",
        "178",
        "180",
        "181",
        "182",
        "183",
        "184",
        "185",
        "186",
        "187",
        "188",
        "189",
        "191",
        "198",
        "199",
    ],
]
DAY = 86400


# --- public entry points --------------------------------------------------------------


def ensure_template(
    name: str = TEMPLATE_DB,
    *,
    players: int = DEFAULT_PLAYERS,
    payments: int = DEFAULT_PAYMENTS,
    force: bool = False,
    seed: int = 2026,
    log=print,
) -> bool:
    """Build database `name` unless it already holds the expected dataset.
    Returns True when it was (re)built."""
    with psql_connect() as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            if not force and template_ready(name, players=players, payments=payments):
                log(f"{name}: complete ({players:,} players, {payments:,} payments); nothing to do.")
                return False
            build_template(admin, name, players=players, payments=payments, seed=seed, log=log)
            return True
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def template_ready(name: str, *, players: int, payments: int) -> bool:
    """The database exists, its build finished, and its row counts are the expected ones."""
    import psycopg

    with psql_connect() as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
    try:
        with psql_connect(name) as conn:
            meta = conn.execute("SELECT value FROM bench_meta WHERE key = 'dataset'").fetchone()
            if not meta:
                return False
            counted = conn.execute(
                "SELECT (SELECT count(*) FROM players_player), (SELECT count(*) FROM players_payment)"
            ).fetchone()
    except psycopg.Error:
        return False
    return json.loads(meta[0]).get("version") == DATASET_VERSION and counted == (players, payments)


def build_template(admin, name: str, *, players: int, payments: int, seed: int, log=print) -> None:
    started = time.perf_counter()
    building = f"{name}_build"
    _drop_database(admin, building)
    admin.execute(f'CREATE DATABASE "{building}"')
    log(f"{building}: migrating ...")
    migrate(building)
    log(f"{building}: generating {players:,} players and {payments:,} payments with COPY ...")
    stats = generate(building, players=players, payments=payments, seed=seed, log=log)
    stats["seconds"] = round(time.perf_counter() - started, 1)
    with psql_connect(building) as conn:
        conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute(
            "INSERT INTO bench_meta VALUES ('dataset', %s)",
            [json.dumps({"version": DATASET_VERSION, "seed": seed, **stats})],
        )
    _drop_database(admin, name)
    admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    admin.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE true')
    log(f"{name}: built in {stats['seconds']:.0f} s: {json.dumps(stats)}")


def migrate(dbname: str) -> None:
    """Run the project's migrations against `dbname` (in a subprocess: this process
    may already have Django set up on another database)."""
    env = {**os.environ, "DATABASE_URL": database_url(dbname), "DJANGO_SETTINGS_MODULE": "bench.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=BASE_DIR, env=env, check=True
    )


def _drop_database(admin, name: str) -> None:
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        admin.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# --- generation -----------------------------------------------------------------------


class CopyStream:
    """COPY ... FROM STDIN in text format into one table, on its own connection,
    buffered. Columns are the model's concrete fields; those the generator does not
    produce get the field's default (so a field added later still loads)."""

    def __init__(self, stack: ExitStack, dbname: str, model, generated: list[str]):
        from django.db import connection as dj_connection

        self.conn = stack.enter_context(psql_connect(dbname, autocommit=False))
        self.conn.execute("SET synchronous_commit = off")
        fields = {f.column: f for f in model._meta.concrete_fields}
        missing = [c for c in generated if c not in fields]
        if missing:
            raise RuntimeError(f"{model._meta.db_table} has no columns {missing}")
        extra = [c for c in fields if c not in generated]
        self.suffix = "".join("\t" + _copy_text(_default_for(fields[c], dj_connection)) for c in extra)
        columns = ", ".join(f'"{c}"' for c in generated + extra)
        self.copy = stack.enter_context(
            self.conn.cursor().copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN')
        )
        self.lines: list[str] = []
        self.rows = 0

    def row(self, *values: str) -> None:
        self.lines.append("\t".join(values) + self.suffix + "\n")
        if len(self.lines) >= 20000:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.copy.write("".join(self.lines))
            self.rows += len(self.lines)
            self.lines = []


def _default_for(field, connection):
    if field.has_default():
        value = field.get_default()
    elif field.null:
        return None
    elif field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
        value = ""
    elif field.get_internal_type() == "BooleanField":
        value = False
    elif "Integer" in field.get_internal_type() or field.get_internal_type() == "DecimalField":
        value = 0
    else:
        raise RuntimeError(f"bench.dataset: no value for NOT NULL field {field.model.__name__}.{field.name}")
    return field.get_db_prep_save(value, connection)


def _copy_text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@lru_cache(maxsize=50_000)
def _birthday_key(born: date, is_lunar: bool) -> int:
    """The greetings' indexed birthday key, as the app stores it (players.services.birthdays)."""
    from crm.calendar import birthday_key

    return birthday_key(born, is_lunar)


def _ts(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(seconds))


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _purchase_count(rng: random.Random) -> int:
    """As crm.demo: most players none or few purchases, a long tail of whales."""
    roll = rng.random()
    if roll < 0.45:
        return 0
    if roll < 0.80:
        return rng.randint(1, 3)
    if roll < 0.95:
        return rng.randint(4, 15)
    if roll < 0.99:
        return rng.randint(16, 60)
    return rng.randint(60, 200)


def _plan(players: int, payments: int, rng: random.Random) -> tuple[array, bytearray]:
    """Purchases per player and who refunds once, adjusted so the ledger has exactly
    `payments` rows."""
    counts = array("i", (_purchase_count(rng) for _ in range(players)))
    refunds = bytearray(1 if c and rng.random() < 0.02 else 0 for c in counts)
    diff = payments - sum(counts) - sum(refunds)
    payers = [i for i, c in enumerate(counts) if c]
    if not payers:
        payers = [0]
    while diff > 0:
        i = payers[rng.randrange(len(payers))]
        counts[i] += 1
        diff -= 1
    guard = 0
    while diff < 0 and guard < 100 * len(payers) + abs(diff) * 10:
        guard += 1
        i = payers[rng.randrange(len(payers))]
        if counts[i] > 1:
            counts[i] -= 1
            diff += 1
        elif refunds[i]:
            refunds[i] = 0
            diff += 1
    if diff:
        raise ValueError(f"cannot fit {payments} payments on {players} players")
    return counts, refunds


def _nickname(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(NICK_SUFFIX)
    if roll < 0.75:
        return rng.choice(NICK_WORDS) + rng.choice(NICK_WORDS) + rng.choice(NICK_WORDS) + rng.choice(NICK_SUFFIX)
    return rng.choice(PINYIN) + rng.choice(PINYIN) + str(rng.randrange(1000))


def generate(dbname: str, *, players: int, payments: int, seed: int = 2026, log=print) -> dict:
    """Fill the migrated, empty database `dbname`. Returns row counts and timings."""
    _django_setup_for_meta()
    from players.models import Payment, Player
    from vip.models import ManagerAssignment, TierChange

    rng = random.Random(seed)
    now = int(time.time())
    timings = {}
    with psql_connect(dbname, autocommit=False) as conn:
        tiers = conn.execute("SELECT id, level, min_spend FROM vip_tier ORDER BY level").fetchall()
        manager_ids, supervisor_id = _staff_create(conn, now)
        conn.commit()
    tier_ids = [t[0] for t in tiers]
    tier_levels = [t[1] for t in tiers]
    thresholds = [int(t[2] * 100) for t in tiers]
    tables = [Player, Payment, TierChange, ManagerAssignment]

    t0 = time.perf_counter()
    counts, refunds = _plan(players, payments, rng)
    dropped = _secondary_drop(dbname, [m._meta.db_table for m in tables])
    timings["plan_and_drop_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    payment_id = tier_change_id = assignment_id = 0
    with ExitStack() as stack:
        p_out = CopyStream(
            stack,
            dbname,
            Player,
            [
                "id",
                "account_id",
                "server",
                "nickname",
                "channel",
                "level",
                "registered_at",
                "last_login_at",
                "real_name",
                "phone",
                "qq",
                "wechat",
                "email",
                "birthday",
                "birthday_is_lunar",
                "birthday_md",
                "manager_id",
                "total_spend",
                "purchase_count",
                "first_paid_at",
                "last_paid_at",
                "payer_status",
                "tier_id",
                "tier_since",
                "created_at",
                "updated_at",
            ],
        )
        pay_out = CopyStream(
            stack,
            dbname,
            Payment,
            [
                "id",
                "player_id",
                "source",
                "source_ref",
                "event_id",
                "kind",
                "amount",
                "currency",
                "amount_base",
                "server",
                "occurred_at",
                "received_at",
                "order_id",
                "product",
                "refund_of",
                "fingerprint",
            ],
        )
        tc_out = CopyStream(
            stack, dbname, TierChange, ["id", "player_id", "from_tier_id", "to_tier_id", "reason", "note", "changed_at"]
        )
        ma_out = CopyStream(
            stack, dbname, ManagerAssignment, ["id", "player_id", "to_manager_id", "note", "assigned_at"]
        )
        n_products = len(PRODUCTS)
        for index in range(players):
            pid = index + 1
            server = SERVERS[int(rng.random() * len(SERVERS))]
            registered = now - rng.randint(20 * DAY, 900 * DAY)
            window_start = max(registered, now - 400 * DAY)
            count = counts[index]
            total = 0
            first_paid = last_paid = None
            tier = -1  # index into tiers
            tier_since = None
            if count:
                span = now - window_start
                moments = sorted(window_start + rng.random() * span for _ in range(count))
                if rng.random() < 0.3:  # a payer who went quiet
                    gap = rng.randint(20 * DAY, 90 * DAY)
                    moments = [max(window_start, m - gap) for m in moments]
                whale = count > 40
                low = 3 if whale else 0
                event_id = ""
                price = 0
                for n, at in enumerate(moments):
                    price, product = PRODUCTS[low + int(rng.random() * (n_products - low))]
                    payment_id += 1
                    event_id = f"bench-{pid}-{n}"
                    amount = _cents(price)
                    pay_out.row(
                        str(payment_id),
                        str(pid),
                        "demo",
                        "",
                        event_id,
                        "purchase",
                        amount,
                        "CNY",
                        amount,
                        server,
                        _ts(at),
                        _ts(at + 1 + int(rng.random() * 30)),
                        f"GP{payment_id:012d}",
                        product,
                        "",
                        f"{payment_id:064x}",
                    )
                    total += price
                    reached = bisect_right(thresholds, total) - 1
                    if reached > tier:
                        tier_change_id += 1
                        tc_out.row(
                            str(tier_change_id),
                            str(pid),
                            str(tier_ids[tier]) if tier >= 0 else r"\N",
                            str(tier_ids[reached]),
                            "payment",
                            "",
                            _ts(at),
                        )
                        tier, tier_since = reached, at
                first_paid, last_paid = moments[0], moments[-1]
                if refunds[index]:
                    payment_id += 1
                    at = moments[-1] + rng.randint(3600, 48 * 3600)
                    at = min(at, now)
                    amount = _cents(price)
                    pay_out.row(
                        str(payment_id),
                        str(pid),
                        "demo",
                        "",
                        f"bench-{pid}-r",
                        "refund",
                        amount,
                        "CNY",
                        amount,
                        server,
                        _ts(at),
                        _ts(at + 1 + int(rng.random() * 30)),
                        f"GP{payment_id:012d}",
                        product,
                        event_id,
                        f"{payment_id:064x}",
                    )
                    total -= price
                    reached = bisect_right(thresholds, total) - 1
                    if reached != tier:
                        tier_change_id += 1
                        tc_out.row(
                            str(tier_change_id),
                            str(pid),
                            str(tier_ids[tier]) if tier >= 0 else r"\N",
                            str(tier_ids[reached]) if reached >= 0 else r"\N",
                            "refund",
                            "",
                            _ts(at),
                        )
                        tier, tier_since = reached, (at if reached >= 0 else None)
            manager = r"\N"
            if tier >= 0 and tier_levels[tier] >= 3:
                manager = str(manager_ids[int(rng.random() * len(manager_ids))])
                assignment_id += 1
                ma_out.row(str(assignment_id), str(pid), manager, "bench", _ts(min(now, tier_since + DAY)))
            last_login = now - int(rng.expovariate(1 / (12 * DAY)))
            if last_paid is not None:
                last_login = max(last_login, int(last_paid) + rng.randint(60, 3 * 3600))
            last_login = min(max(last_login, registered + 600), now)
            roll = rng.random()
            birthday = birthday_md = r"\N"
            lunar = "f"
            if roll < 0.7:
                year = time.gmtime(now).tm_year - rng.randint(16, 50)
                born = date(year, rng.randint(1, 12), rng.randint(1, 28))
                birthday = born.isoformat()
                lunar = "t" if rng.random() < 0.25 else "f"
                birthday_md = str(_birthday_key(born, lunar == "t"))
            p_out.row(
                str(pid),
                str(1_000_000_000 + pid),
                server,
                _nickname(rng),
                CHANNELS[int(rng.random() * len(CHANNELS))],
                str(rng.randint(1, 120)),
                _ts(registered),
                _ts(last_login),
                rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
                if rng.random() < 0.5
                else "",
                f"+86{MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]}{rng.randrange(10**8):08d}"
                if rng.random() < 0.8
                else "",
                str(rng.randint(10000, 3999999999)) if rng.random() < 0.4 else "",
                f"wx_{rng.choice(PINYIN)}{rng.randrange(100000)}" if rng.random() < 0.3 else "",
                f"{rng.randint(10000, 3999999999)}@qq.com" if rng.random() < 0.1 else "",
                birthday,
                lunar,
                birthday_md,
                manager,
                _cents(total),
                str(count),
                _ts(first_paid) if first_paid is not None else r"\N",
                _ts(last_paid) if last_paid is not None else r"\N",
                "active" if total > 0 else "non_payer",
                str(tier_ids[tier]) if tier >= 0 else r"\N",
                _ts(tier_since) if tier >= 0 else r"\N",
                _ts(registered),
                _ts(last_login),
            )
            if pid % 100_000 == 0:
                log(f"  {pid:,} players, {payment_id:,} payments ({time.perf_counter() - t0:.0f} s)")
        streams = [p_out, pay_out, tc_out, ma_out]
        for stream in streams:
            stream.flush()
    # Leaving the ExitStack ended every COPY and committed each stream's connection.
    timings["copy_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    with psql_connect(dbname) as conn:
        for model in tables:
            table = model._meta.db_table
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
    _secondary_restore(dbname, dropped)
    timings["indexes_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    with psql_connect(dbname) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)
    return {
        "players": p_out.rows,
        "payments": pay_out.rows,
        "tier_changes": tc_out.rows,
        "assignments": ma_out.rows,
        "managers": len(manager_ids),
        "supervisor_id": supervisor_id,
        **timings,
    }


def _staff_create(conn, now: int) -> tuple[list[int], int]:
    """20 VIP managers and a supervisor (no usable password: benchmarks force_login)."""
    groups = dict(conn.execute("SELECT name, id FROM auth_group").fetchall())
    ids = []
    rng = random.Random(7)
    for n in range(MANAGERS + 1):
        is_manager = n < MANAGERS
        username = f"bench_manager_{n + 1:02d}" if is_manager else "bench_supervisor"
        (user_id,) = conn.execute(
            """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                      is_staff, is_active, date_joined)
               VALUES ('!', false, %s, %s, %s, '', true, true, to_timestamp(%s)) RETURNING id""",
            [username, rng.choice(GIVEN) + rng.choice(GIVEN), rng.choice(SURNAMES), now - 400 * DAY],
        ).fetchone()
        group = groups["VIP manager" if is_manager else "Supervisor"]
        conn.execute("INSERT INTO auth_user_groups (user_id, group_id) VALUES (%s, %s)", [user_id, group])
        ids.append(user_id)
    return ids[:MANAGERS], ids[MANAGERS]


def _secondary_drop(dbname: str, tables: list[str]) -> list[tuple[str, str]]:
    """Drop foreign keys, unique constraints and plain indexes of `tables` (not the
    primary keys, not check constraints). Returns the statements that restore them."""
    restore = []
    with psql_connect(dbname) as conn:
        constraints = conn.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
               FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')""",
            [tables],
        ).fetchall()
        indexes = conn.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
               AND i.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))""",
            [tables],
        ).fetchall()
        for table, name, definition, kind in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append((kind, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        for name, definition in indexes:
            conn.execute(f"DROP INDEX {name}")
            restore.append(("i", definition))
    # Unique constraints and indexes first, foreign keys last (they validate by scanning).
    order = {"u": 0, "i": 1, "f": 2}
    return sorted(restore, key=lambda item: order[item[0]])


def _secondary_restore(dbname: str, restore: list[tuple[str, str]]) -> None:
    with psql_connect(dbname) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _kind, statement in restore:
            conn.execute(statement)


def _django_setup_for_meta() -> None:
    """The generator reads the models' fields (not the database) from Django."""
    from django.conf import settings

    if not settings.configured:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=TEMPLATE_DB)
    parser.add_argument("--players", type=int, default=DEFAULT_PLAYERS)
    parser.add_argument("--payments", type=int, default=DEFAULT_PAYMENTS)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true", help="rebuild even if the dataset is complete")
    args = parser.parse_args(argv)
    ensure_template(args.name, players=args.players, payments=args.payments, force=args.force, seed=args.seed, log=_log)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


if __name__ == "__main__":
    main()
