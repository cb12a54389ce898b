"""Benchmark: the daily greetings job over the 1,000,000-player dataset (PostgreSQL).

    python -m bench.run bench_greetings

The day is Mid-Autumn 2027 (2027-09-15, in the future so that the messages are
queued for 10:00 and not delivered inside the measurement). Rules:

* "Birthday mail": every player with a birthday that day, in-game mail at 10:00;
* "VIP birthday call": V5 and up, a call task for the manager the day before, and a
  gift (item) within a monthly budget per tier;
* "Mid-Autumn VIP": the festival for V6 and up, in-game mail and a gift code.

The days before are run first (not timed), as in production, where yesterday's job
already greeted yesterday's birthdays; then the day itself is timed, then a second
run of the same day (idempotency: greets nobody) is timed.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from bench.common import bench_database, report, timed

DAY = date(2027, 9, 15)
# the greetings issue (24): the job for a day stays within the 9.6 s measured before it
TARGET_SECONDS = 9.6


def _setup_rules():
    from campaigns.models import GiftBudget, GreetingRule
    from players.models import CallScript
    from players.services.scripts import script_save
    from vip.models import Tier

    tiers = {t.name: t for t in Tier.objects.all()}
    for tier in Tier.objects.filter(level__gte=5):
        GiftBudget.objects.update_or_create(tier=tier, defaults={"monthly_amount": Decimal("1000000")})
    rules = [
        GreetingRule(
            name="Birthday mail",
            occasion="birthday",
            message_channel="in_game",
            template="{nickname}，生日快乐！",
        ),
        GreetingRule(
            name="VIP birthday call",
            occasion="birthday",
            tier_min=tiers["V5"],
            task_lead_days=1,
            call_script=script_save(  # the call's script from the library (话术库)
                script=CallScript(
                    name="Bench birthday call",
                    category="greeting_call",
                    step_purpose="祝{nickname}生日快乐，送上{gift}",
                )
            ),
            gift_kind="item",
            gift_item="生日礼包",
            gift_value=Decimal("30"),
        ),
        GreetingRule(
            name="Mid-Autumn VIP",
            occasion="festival",
            festival="mid_autumn",
            tier_min=tiers["V6"],
            message_channel="in_game",
            template="{nickname}，{occasion}快乐！礼包码：{gift}",
            gift_kind="code",
            gift_item="MOON",
            gift_value=Decimal("10"),
        ),
    ]
    for rule in rules:
        rule.full_clean()
        rule.save()


def main() -> None:
    with bench_database("crm_bench_i7_greetings"):
        from django.db import connection

        from campaigns.models import Greeting, Message, OutreachTask
        from campaigns.services.greetings import greetings_run
        from players.models import Player

        _setup_rules()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE players_player")
        players = Player.objects.count()
        # Yesterday's and earlier runs (catch-up window), as production would have done.
        start = time.perf_counter()
        greetings_run(on=DAY - timedelta(days=1))
        warm = time.perf_counter() - start
        before = Greeting.objects.count()

        with timed() as day:
            result = greetings_run(on=DAY)
        with timed() as again:
            rerun = greetings_run(on=DAY)

        by_rule = {line.rule: line.greeted for line in result.lines}
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN SELECT id FROM players_player WHERE birthday_is_lunar = false AND birthday_md IN (915)"
            )
            plan = " ".join(row[0] for row in cursor.fetchall())
        report(
            f"Greetings job on {DAY} over {players:,} players (PostgreSQL)",
            [
                ("job for the day (s)", f"{day['seconds']:.2f}", f"<= {TARGET_SECONDS} s"),
                ("greeted that day", f"{result.greeted:,}", "~1/365 birthdays + VIP festival"),
                ("  birthday mail", f"{by_rule.get('Birthday mail', 0):,}", "-"),
                ("  VIP birthday call (+gift)", f"{by_rule.get('VIP birthday call', 0):,}", "-"),
                ("  Mid-Autumn VIP (+gift code)", f"{by_rule.get('Mid-Autumn VIP', 0):,}", "-"),
                ("same day again (s)", f"{again['seconds']:.2f}", "greets nobody"),
                ("greeted by the second run", f"{rerun.greeted}", "0"),
                ("previous days' runs, untimed (s)", f"{warm:.2f}", f"{before:,} greetings"),
                ("tasks / messages in total", f"{OutreachTask.objects.count():,} / {Message.objects.count():,}", "-"),
                ("birthday lookup uses index", "yes" if "player_birthday_md" in plan else "NO", "yes"),
            ],
        )


if __name__ == "__main__":
    main()
