"""Campaign benchmark (issue 6): launch over ~200,000 players ≤ 30 s; results ≤ 5 s.
Issue 23: caps and priority hold over a 200,000-player launch (within 20 % of 3.7 s).

    python -m bench.run bench_campaigns

Works on a private copy of the generated dataset (crm_bench_template), dropped after.
A segment of the 1,000,000 players selecting about 200,000 is launched as a phone
campaign (targets + holdout + one task per treated player, set-based), then as an
in-game mail campaign (every message rendered from a template with variables and
bulk-inserted); a fifth of the tasks get an outcome and the results (refresh from
messages and logins, then counts and ledger revenue against the holdout) are timed.

Then (issue 23) a second in-game campaign of higher priority is launched over the same
segment, on a channel whose cap (one marketing message a day) leaves room for one of the
two: delivery's cap decision is timed (the set-based pass over every due message, and
one delivery run of `DELIVER_RUN` messages through `messages_deliver_due`), and the
outcome is checked over every player: none over the cap, every player in both
campaigns kept the higher priority's message, every other one postponed naming it.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from bench.common import report

TARGET_PLAYERS = 200_000
DELIVER_RUN = 2_000  # messages in one timed delivery run (production's runs take 1,000)
LAUNCH_LIMIT_S = 3.7 * 1.2  # issue 23: within 20 % of the 3.7 s the launch took before
DB_NAME = "crm_bench_i6_campaigns"


def _copy_database():
    try:  # the foundation's helper (copies the template, migrates, drops afterwards)
        from bench.common import bench_database

        return bench_database(DB_NAME)
    except ImportError:  # pragma: no cover - before the foundation's helper landed
        return _fallback_copy()


def _fallback_copy():
    import os
    from contextlib import contextmanager

    from bench.common import TEMPLATE_DB, psql_connect

    @contextmanager
    def copy():
        with psql_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{TEMPLATE_DB}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
        os.environ.setdefault("SECRET_KEY", "bench-only")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        try:
            yield DB_NAME
        finally:
            from django.db import connections

            connections.close_all()
            with psql_connect() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    return copy()


def _segment_near(target: int) -> tuple[dict, int]:
    """A real segment (criteria a supervisor would pick) selecting close to `target` players."""
    from campaigns.segments import segment_players

    candidates = [{"tier_min": 4, "tier_max": 5}, {"tier_min": 5}, {"servers": ["s1"]}, {"payer_status": ["active"]}]
    for days in (7, 14, 30):
        candidates.append({"no_login_days": days})
    best = min(((c, segment_players(c).count()) for c in candidates), key=lambda cn: abs(cn[1] - target))
    return best


def main() -> None:
    with _copy_database():
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.utils import timezone

        from campaigns.models import Campaign, CampaignTarget, OutreachTask
        from campaigns.services.campaigns import campaign_launch, campaign_results, campaign_save
        from players.models import CallScript
        from players.services.scripts import script_save

        User = get_user_model()
        boss, _ = User.objects.get_or_create(username="bench_supervisor", defaults={"is_staff": True})
        team = list(User.objects.filter(is_staff=True).order_by("pk")[:5])
        segment, size = _segment_near(TARGET_PLAYERS)
        today = timezone.localdate()

        phone = campaign_save(
            campaign=Campaign(
                name="Bench win-back calls",
                segment=segment,
                channel="phone_task",
                call_script=script_save(  # the call's script from the library (话术库)
                    script=CallScript(
                        name="Bench win-back call",
                        category="win_back",
                        step_purpose="{nickname}您好，我是您的专属客服{manager}，您已经{days_since_login}天没上线了",
                    )
                ),
                start_date=today,
                due_date=today + timedelta(days=7),
            ),
            actor=boss,
            team=team,
        )
        start = time.perf_counter()
        launched = campaign_launch(campaign=phone, actor=boss)
        launch_s = time.perf_counter() - start
        start = time.perf_counter()
        again = campaign_launch(campaign=phone, actor=boss)
        relaunch_s = time.perf_counter() - start

        mail = campaign_save(
            campaign=Campaign(
                name="Bench in-game mail",
                segment=segment,
                channel="in_game",
                template="{nickname}，{tier}专属回归礼包已发放！您已{days_since_login}天未登录，累计充值{total_spend}元。",
                start_date=today,
                due_date=today + timedelta(days=7),
            ),
            actor=boss,
        )
        start = time.perf_counter()
        mailed = campaign_launch(campaign=mail, actor=boss)
        mail_s = time.perf_counter() - start
        caps_rows = _caps_and_priority(low=mail, segment=segment, boss=boss, mail_s=mail_s)

        # Measure as if launched 20 days ago, so that the dataset's recent logins and
        # payments fall into the windows; a fifth of the treated players were called the
        # day after (set-based, as if by the worklist).
        launched_at = timezone.now() - timedelta(days=20)
        called = launched_at + timedelta(days=1)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Campaign._meta.db_table} SET launched_at = %s WHERE id = %s", [launched_at, phone.pk]
            )
            cursor.execute(
                f"UPDATE {CampaignTarget._meta.db_table} SET reference_at = %s WHERE campaign_id = %s",
                [launched_at, phone.pk],
            )
            cursor.execute(
                f"UPDATE {CampaignTarget._meta.db_table} SET contacted_at = %s, reached_at = %s, "
                "reference_at = %s, outcome = 'reached' WHERE campaign_id = %s AND NOT is_holdout AND player_id %% 5 = 0",
                [called, called, called, phone.pk],
            )
            cursor.execute(
                f"UPDATE {OutreachTask._meta.db_table} SET status = 'done', outcome = 'reached', completed_at = %s "
                "WHERE campaign_id = %s AND player_id %% 5 = 0",
                [called, phone.pk],
            )
            cursor.execute("ANALYZE")
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            results = campaign_results(campaign=phone)
            timings.append(time.perf_counter() - start)
        results_s = min(timings)
        cold_s = timings[0]

        report(
            f"campaigns: segment {segment} → {size:,} players "
            f"({launched['holdout']:,} held out), {date.today():%Y-%m-%d}",
            [
                ("launch phone campaign (targets + tasks)", f"{launch_s:.1f} s", "≤ 30 s"),
                ("  tasks created", f"{launched['created']:,}", f"= {size - launched['holdout']:,}"),
                ("launch again (creates nothing)", f"{relaunch_s:.1f} s, {again['created']} new", "0 new"),
                ("launch in-game mail campaign (rendered)", f"{mail_s:.1f} s", "≤ 30 s"),
                ("  messages created", f"{mailed['created']:,}", f"= {size - mailed['holdout']:,}"),
                ("campaign results (refresh + counts + revenue)", f"{results_s:.2f} s", "≤ 5 s"),
                ("  first (cold) results run", f"{cold_s:.2f} s", "≤ 5 s"),
                (
                    "  treated / holdout returned",
                    f"{results.treated.returned:,} / {results.holdout.returned:,}",
                    "-",
                ),
                *caps_rows,
                (
                    "  treated / holdout paid (revenue)",
                    f"{results.treated.paid:,} ({results.treated.revenue:,}) / "
                    f"{results.holdout.paid:,} ({results.holdout.revenue:,})",
                    "-",
                ),
            ],
        )


def _caps_and_priority(*, low, segment, boss, mail_s) -> list[tuple[str, str, str]]:
    """Issue 23: a higher-priority in-game campaign over the same segment as `low` (the
    in-game mail just launched), one in-game marketing message a day allowed: launch it,
    decide the caps set-based, deliver one run, and check the rule held for every player."""
    import os

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone, translation

    from campaigns.models import Campaign, Message, MessageStatus
    from campaigns.services import messaging
    from campaigns.services.campaigns import campaign_launch, campaign_save

    settings.CRM_MESSAGE_CAPS = {"in_game": ("day", 1)}
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")  # whatever the hour the bench runs at
    Campaign.objects.filter(pk=low.pk).update(priority=20)
    low.refresh_from_db()
    today = timezone.localdate()
    high = campaign_save(
        campaign=Campaign(
            name="春节大促 (bench)",
            segment=segment,
            channel="in_game",
            template="{nickname}，春节快乐！{tier}专属红包已发放。",
            start_date=today,
            due_date=today + timedelta(days=7),
            priority=80,
        ),
        actor=boss,
    )
    start = time.perf_counter()
    launched = campaign_launch(campaign=high, actor=boss)
    high_s = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    now = timezone.now()
    table = Message._meta.db_table
    due = Message.objects.filter(status__in=messaging.DUE_STATUSES, scheduled_for__lte=now).count()
    rows: list[tuple[str, str, str]] = [
        (
            f"launch higher-priority in-game campaign ({os.environ.get('BENCH_DB_SUFFIX', '') or 'this tree'})",
            f"{high_s:.1f} s",
            f"≤ {LAUNCH_LIMIT_S:.2f} s (3.7 s + 20 %)",
        ),
        ("  the in-game mail's launch again, for comparison", f"{mail_s:.1f} s", f"≤ {LAUNCH_LIMIT_S:.2f} s"),
        ("  messages created", f"{launched['created']:,}", "-"),
        ("  messages due, both campaigns", f"{due:,}", "-"),
    ]
    hold = getattr(messaging, "messages_cap_hold", None)
    if hold is not None:
        start = time.perf_counter()
        held = hold(now=now)
        hold_s = time.perf_counter() - start
        rows.append(("cap decision over every due message (set-based)", f"{hold_s:.1f} s, {len(held):,} held", "-"))
    start = time.perf_counter()
    counts = messaging.messages_deliver_due(now=now, limit=DELIVER_RUN)
    run_s = time.perf_counter() - start
    handled = sum(counts.values())
    rows.append(
        (
            f"one delivery run of {DELIVER_RUN:,} due messages",
            f"{run_s:.1f} s ({run_s / max(handled, 1) * 1000:.2f} ms each; "
            f"{counts['sent']:,} sent, {counts['postponed']:,} postponed)",
            "-",
        )
    )
    if hold is None:
        rows.append(
            (
                "  every due message at that pace (one at a time)",
                f"{run_s / max(handled, 1) * due / 60:.0f} min",
                "-",
            )
        )

    # The checks, over every player of the two campaigns.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COUNT(*) FROM (
                  SELECT player_id FROM {table}
                  WHERE channel = 'in_game' AND is_marketing AND (
                    status IN ('sent', 'sending') OR (status IN ('queued', 'postponed') AND scheduled_for <= %s))
                  GROUP BY player_id HAVING COUNT(*) > 1) over_cap""",
            [now],
        )
        over_cap = cursor.fetchone()[0]
        cursor.execute(
            f"""SELECT COUNT(*),
                  COUNT(*) FILTER (WHERE h.status IN ('queued', 'sent') AND l.status = 'postponed'),
                  COUNT(*) FILTER (WHERE h.status = 'sent'),
                  COUNT(*) FILTER (WHERE l.status = 'sent'),
                  COUNT(*) FILTER (WHERE l.status = 'postponed' AND l.status_reason LIKE 'cap_priority%%'
                                   AND l.status_params ->> 'campaign' = %s AND l.scheduled_for > %s)
                FROM {table} h JOIN {table} l ON l.player_id = h.player_id AND l.campaign_id = %s
                WHERE h.campaign_id = %s AND h.status <> 'cancelled' AND l.status <> 'cancelled'""",
            [high.name, now, low.pk, high.pk],
        )
        both, high_kept, high_sent, low_sent, low_says_why = cursor.fetchone()
    sample = Message.objects.filter(campaign=low, status=MessageStatus.POSTPONED).order_by("pk").first()
    texts = []
    for language in ("en", "zh-hans"):
        with translation.override(language):
            texts.append(sample.status_reason_text if sample else "-")
    rows += [
        ("players over the cap (sent or still due > 1)", f"{over_cap:,}", "0"),
        ("players in both campaigns (neither cancelled)", f"{both:,}", "-"),
        ("  the higher priority's kept, the other postponed", f"{high_kept:,}", f"= {both:,}"),
        ("  the other names the winner (cap_priority)", f"{low_says_why:,}", f"= {both:,}"),
        ("  sent in the run: higher / lower priority", f"{high_sent:,} / {low_sent:,}", "- / 0"),
        ("  the reason shown (en)", texts[0][:110], "-"),
        ("  the reason shown (zh-hans)", texts[1][:110], "-"),
    ]
    failed = []
    if over_cap:
        failed.append(f"{over_cap} players over the cap")
    if hold is not None and (high_kept != both or low_says_why != both):
        failed.append(f"priority not held: {both - high_kept} kept the wrong one, {both - low_says_why} without why")
    if low_sent:
        failed.append(f"{low_sent} lower-priority messages sent to players in both")
    for problem in failed:
        print(f"CHECK FAILED: {problem}", flush=True)
    return rows
