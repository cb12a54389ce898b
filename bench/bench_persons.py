"""VIP people (issue 21): tiers per person at 1M players, and a merge with undo.

    BENCH_DB_SUFFIX=_h2 .venv/bin/python -m bench.run bench_persons

On a copy of crm_bench_template:

1. 10,000 people of three accounts each are linked (set-based SQL: the bench's set-up,
   not a door), then projected through the one projection (reason rebuild).
2. Per-person tiers equal a rebuild from the ledger: every linked account's tier is
   compared with the tier the person's net ledger spend reaches, computed in one SQL
   statement written out here (the projection's rule, read independently). Mismatches: 0.
3. The projection's tier step, alternating per account and per person (CRM_VIP_TIER_BASIS)
   over the same batches of 1,000 random players (most alone, as in production): what the
   person lookup costs on the event path. Rolled back.
4. A merge of two whales (their contacts, cases, tasks and gifts moved) and its undo.
"""

from __future__ import annotations

import os
import random
import statistics
import time

from bench.common import bench_database, report

PEOPLE = int(os.environ.get("BENCH_PERSONS_PEOPLE", 10_000))
ROUNDS = int(os.environ.get("BENCH_PERSONS_ROUNDS", 5))
BATCH = 1000


def main() -> None:
    with bench_database("crm_bench_persons"):
        from django.conf import settings
        from django.db import connection, transaction

        from players.models import Player
        from players.services.ledger_engines import PLAYER_STATE_FIELDS
        from players.services.persons import person_merge_undo, persons_merge
        from players.services.projection import REBUILD, players_project
        from vip.services import tiers_evaluate

        rng = random.Random(21)
        ids = list(Player.objects.order_by("pk").values_list("pk", flat=True))
        linked_ids = rng.sample(ids, PEOPLE * 3)
        mains, others = linked_ids[:PEOPLE], linked_ids[PEOPLE:]
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """UPDATE players_player p SET person_account_id = m.main
                   FROM unnest(%s::bigint[], %s::bigint[]) AS m(account, main) WHERE p.id = m.account""",
                [others, mains + mains],
            )
            for at in range(0, len(linked_ids), BATCH):
                chunk = list(Player.objects.filter(pk__in=linked_ids[at : at + BATCH]).only(*PLAYER_STATE_FIELDS))
                players_project(players=chunk, reason=REBUILD, trigger="refresh")
        linked_s = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE players_player")  # as autovacuum would after 30,000 updates

        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH person AS (
                    SELECT p.id, COALESCE(p.person_account_id, p.id) AS person FROM players_player p
                    WHERE p.id = ANY(%s)
                ), spend AS (
                    SELECT person.person, SUM(CASE WHEN pay.kind = 'refund' THEN -pay.amount_base
                                                   ELSE pay.amount_base END) AS net
                    FROM person JOIN players_payment pay ON pay.player_id = person.id GROUP BY person.person
                ), expected AS (
                    SELECT person.id, (SELECT t.id FROM vip_tier t WHERE t.min_spend <= COALESCE(spend.net, 0)
                                       ORDER BY t.level DESC LIMIT 1) AS tier
                    FROM person LEFT JOIN spend ON spend.person = person.person
                )
                SELECT COUNT(*) FILTER (WHERE e.tier IS DISTINCT FROM p.tier_id), COUNT(*)
                FROM expected e JOIN players_player p ON p.id = e.id
                """,
                [linked_ids],
            )
            mismatches, checked = cursor.fetchone()

        class Rollback(Exception):
            pass

        batches = [rng.sample(ids, BATCH) for _ in range(ROUNDS)]

        def timed(basis: str, batch: list[int], step) -> float:
            settings.CRM_VIP_TIER_BASIS = basis
            players = list(Player.objects.filter(pk__in=batch).only(*PLAYER_STATE_FIELDS))
            began = time.perf_counter()
            try:
                with transaction.atomic():
                    step(players)
                    raise Rollback
            except Rollback:
                pass
            return (time.perf_counter() - began) * 1000

        def projection(players):
            players_project(players=players, reason="payment", trigger="payment")

        def tier_step(players):
            tiers_evaluate(players=players, reason="payment")

        # Alternating which runs first (a rolled-back run leaves dead row versions the next one
        # on the same rows steps over), each batch measured both ways.
        figures = {
            ("account", "projection"): [],
            ("person", "projection"): [],
            ("account", "tier"): [],
            ("person", "tier"): [],
        }
        for n, batch in enumerate(batches):
            order = ["account", "person"] if n % 2 == 0 else ["person", "account"]
            for name, step in (("tier", tier_step), ("projection", projection)):
                for basis in order:
                    figures[(basis, name)].append(timed(basis, batch, step))
        settings.CRM_VIP_TIER_BASIS = "person"

        # two whales, the pair a supervisor merges
        whales = list(Player.objects.filter(person_account__isnull=True).order_by("-total_spend")[:2])
        began = time.perf_counter()
        merge = persons_merge(winner=whales[0], loser=whales[1], actor=None)
        merge_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        person_merge_undo(merge=merge, actor=None)
        undo_ms = (time.perf_counter() - began) * 1000

        def ratio(name):
            pairs = zip(figures[("person", name)], figures[("account", name)], strict=True)
            return statistics.median(p / a for p, a in pairs)

        def row(basis, name):
            return " / ".join(f"{v:.0f}" for v in figures[(basis, name)])

        report(
            f"VIP people: {PEOPLE:,} people of 3 accounts among {len(ids):,} players",
            [
                ("link + project the 30,000 accounts, s", f"{linked_s:.1f}", "-"),
                ("linked accounts whose tier ≠ the ledger's", f"{mismatches:,} of {checked:,}", "0"),
                ("tier step, 1,000 players per account, ms", row("account", "tier"), "-"),
                ("tier step, 1,000 players per person, ms", row("person", "tier"), "-"),
                ("  per person / per account (median)", f"{ratio('tier'):.2f}", "-"),
                ("projection, 1,000 players per account, ms", row("account", "projection"), "-"),
                ("projection, 1,000 players per person, ms", row("person", "projection"), "-"),
                ("  per person / per account (median)", f"{ratio('projection'):.2f}", "≈ 1"),
                ("merge two whales, ms", f"{merge_ms:.0f} ({merge.rows_moved} rows moved)", "-"),
                ("undo it, ms", f"{undo_ms:.0f}", "-"),
            ],
        )
