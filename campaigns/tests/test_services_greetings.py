import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from campaigns.models import (
    CustomOccasion,
    GiftBudget,
    GiftEntry,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    GreetingStatus,
    Message,
    OutreachTask,
    TaskStatus,
)
from campaigns.services import greetings as greetings_module
from campaigns.services.gifts import gift_budget_remaining
from campaigns.services.greetings import greeting_skip, greetings_run
from crm.calendar import lunar_to_solar

SHANGHAI = ZoneInfo("Asia/Shanghai")
RUN_DAY = date(2026, 11, 22)


def tasks_of(player):
    return list(OutreachTask.objects.filter(player=player))


# --- who is greeted ---------------------------------------------------------------


def test_birthday_rule_creates_call_tasks_the_day_before(make_rule, make_player, manager):
    # given a rule "call the day before", a solar and a lunar birthday tomorrow, and one the day after
    rule = make_rule(occasion="birthday", task_lead_days=1)
    solar = make_player(birthday=date(1990, 11, 23), manager=manager)
    lunar_born = lunar_to_solar(1992, 10, 15)  # lunar 10/15; in 2026 lunar 10/15 is 2026-11-23
    assert lunar_to_solar(2026, 10, 15) == date(2026, 11, 23)
    lunar = make_player(birthday=lunar_born, birthday_is_lunar=True)
    later = make_player(birthday=date(1990, 11, 24))
    no_birthday = make_player()

    # when the job runs on the 22nd
    report = greetings_run(on=RUN_DAY, deliver=False)

    # then both birthdays of the 23rd have a call task due on the 22nd, for the manager
    assert report.greeted == 2
    (task,) = tasks_of(solar)
    assert task.due_date == RUN_DAY and task.assignee == manager and task.kind == "greeting"
    assert task.source == f"greeting:{rule.pk}:20261123"
    assert "2026-11-23" in task.title
    assert len(tasks_of(lunar)) == 1
    assert tasks_of(later) == [] and tasks_of(no_birthday) == []
    greeting = Greeting.objects.get(player=solar)
    assert greeting.occasion_date == date(2026, 11, 23) and greeting.task == task


@pytest.mark.parametrize("sql_texts", [True, False])
def test_a_greeting_call_title_reads_in_the_readers_language(make_rule, make_player, manager, sql_texts):
    # given a birthday call with the default title
    make_rule(occasion="birthday", task_lead_days=1)
    player = make_player(birthday=date(1990, 11, 23), nickname="寿星", manager=manager)

    # when the job runs (in the job's language, English)
    with translation.override("en"):
        greetings_run(on=RUN_DAY, deliver=False, sql_texts=sql_texts)

    # then the default title is stored as its code and parameters, read in each reader's language
    (task,) = tasks_of(player)
    assert task.title_code == "greeting_call"
    assert task.title_params == {"occasion": "birthday", "festival": "", "custom_name": "", "date": "2026-11-23"}
    assert task.title == "Birthday on 2026-11-23: call 寿星"  # the job's language, for search
    with translation.override("zh-hans"):
        assert task.title_text == "2026-11-23 生日：致电 寿星"
    with translation.override("en"):
        assert task.title_text == "Birthday on 2026-11-23: call 寿星"


@pytest.mark.parametrize("sql_texts", [True, False])
def test_a_greeting_calls_script_comes_from_the_library_beside_the_message(make_rule, make_player, manager, sql_texts):
    """Issue 22: a greeting call's script is the library's (steps, {me}, the occasion), the
    rule's text is its message; each call task counts one use of the script."""
    from players.models import CallScript
    from players.services.scripts import script_save

    manager.last_name, manager.first_name = "李", "娜"
    manager.save()
    script = script_save(
        script=CallScript(
            name="生日问候",
            category="greeting_call",
            step_verify="您好！请问是{nickname}吗？",
            step_introduce="我是您的专属客服{me}。",
            step_purpose="{occasion}快到了，祝您生日快乐！",
        )
    )
    make_rule(
        occasion="birthday",
        task_lead_days=1,
        call_script=script,
        message_channel="in_game",
        template="{nickname}生日快乐",
    )
    player = make_player(birthday=date(1990, 11, 23), nickname="寿星", manager=manager)

    with translation.override("zh-hans"):
        greetings_run(on=RUN_DAY, deliver=False, sql_texts=sql_texts)

    (task,) = tasks_of(player)
    assert task.script == "您好！请问是寿星吗？\n我是您的专属客服李娜。\n生日快到了，祝您生日快乐！"
    assert Message.objects.get(player=player).body == "寿星生日快乐"
    script.refresh_from_db()
    assert script.usage_count == 1 and script.last_used_at is not None


def test_a_greeting_rule_refuses_a_call_script_typed_into_its_message(db):
    rule = GreetingRule(name="生日电话", occasion="birthday", task_lead_days=1, template="祝{nickname}生日快乐")
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "script library" in error.value.message_dict["template"][0]


def test_a_rules_own_task_title_is_kept_as_written(make_rule, make_player, manager):
    make_rule(occasion="birthday", task_lead_days=1, task_title="{nickname} 生日回访")
    player = make_player(birthday=date(1990, 11, 23), nickname="寿星", manager=manager)

    greetings_run(on=RUN_DAY, deliver=False)

    (task,) = tasks_of(player)
    assert task.title_code == "" and task.title_params == {}
    with translation.override("zh-hans"):
        assert task.title_text == task.title == "寿星 生日回访"


def test_a_lunar_player_is_not_greeted_on_the_solar_date_of_birth(make_rule, make_player):
    make_rule(occasion="birthday", task_lead_days=0)
    player = make_player(birthday=date(1992, 11, 22), birthday_is_lunar=True)

    greetings_run(on=RUN_DAY, deliver=False)

    assert tasks_of(player) == []


def test_feb_29_birthday_is_greeted_on_feb_28(make_rule, make_player):
    make_rule(occasion="birthday", task_lead_days=0)
    leapling = make_player(birthday=date(2000, 2, 29))

    greetings_run(on=date(2027, 2, 28), deliver=False, catch_up_days=0)

    assert Greeting.objects.get(player=leapling).occasion_date == date(2027, 2, 28)


def test_segment_limits_who_is_greeted(make_rule, make_player, tiers):
    from players.models import Tag

    whale = Tag.objects.create(name="whale")
    rule = make_rule(
        occasion="birthday",
        task_lead_days=0,
        tier_min=tiers["V3"],
        tier_max=tiers["V5"],
        server="s1",
        payer_status="active",
        tags=[whale],
    )
    born = date(1990, 11, 22)
    fits = make_player(birthday=born, tier=tiers["V4"], payer_status="active")
    fits.tags.add(whale)
    low = make_player(birthday=born, tier=tiers["V2"], payer_status="active")
    low.tags.add(whale)
    high = make_player(birthday=born, tier=tiers["V6"], payer_status="active")
    high.tags.add(whale)
    untagged = make_player(birthday=born, tier=tiers["V4"], payer_status="active")
    other_server = make_player(birthday=born, tier=tiers["V4"], payer_status="active", server="s2")
    other_server.tags.add(whale)

    greetings_run(on=RUN_DAY, deliver=False, catch_up_days=0)

    assert set(Greeting.objects.filter(rule=rule).values_list("player_id", flat=True)) == {fits.pk}
    assert not {low.pk, high.pk, untagged.pk} & set(Greeting.objects.values_list("player_id", flat=True))


def test_festival_rule_greets_its_segment_on_the_festival(make_rule, make_player, tiers):
    # given a Mid-Autumn rule for V5 and above (Mid-Autumn 2026 is 2026-09-25)
    make_rule(occasion="festival", festival="mid_autumn", task_lead_days=0, tier_min=tiers["V5"])
    vip = make_player(tier=tiers["V7"])
    small = make_player(tier=tiers["V1"])

    # when the job runs the day before and on the day
    before = greetings_run(on=date(2026, 9, 24), deliver=False)
    on_day = greetings_run(on=date(2026, 9, 25), deliver=False)

    # then only on the day, and only the VIP
    assert before.greeted == 0
    assert on_day.greeted == 1
    assert Greeting.objects.get().player == vip and tasks_of(small) == []


def test_a_1978_lunar_birthday_is_greeted_on_lunar_8_13_not_a_day_late(make_rule, make_player):
    # given a rule greeting on the day, and a player born 1978-09-15 who keeps the lunar
    # birthday: lunar 8/13 (the former calendar source said 8/14, a day late every year)
    make_rule(occasion="birthday", task_lead_days=0)
    player = make_player(birthday=date(1978, 9, 15), birthday_is_lunar=True)

    # when the job runs on lunar 8/12, 8/13 and 8/14 of 2026 (Mid-Autumn, 8/15, is 2026-09-25)
    greeted = [
        greetings_run(on=day, deliver=False, catch_up_days=0).greeted
        for day in (date(2026, 9, 22), date(2026, 9, 23), date(2026, 9, 24))
    ]

    # then once, on lunar 8/13, 2026-09-23
    assert greeted == [0, 1, 0]
    assert Greeting.objects.get(player=player).occasion_date == date(2026, 9, 23)
    player.refresh_from_db()
    assert player.birthday_md == 813


def test_chuxi_is_greeted_on_the_29th_when_the_twelfth_month_has_29_days(make_rule, make_player, manager):
    # given a 除夕 rule (a call and a message on the day) and a lunar birthday on 腊月三十:
    # the twelfth month of lunar 2025 has 29 days, so 除夕 is 腊月廿九, 2026-02-16
    make_rule(
        occasion="festival",
        festival="chuxi",
        task_lead_days=0,
        message_channel="sms",
        template="{nickname}，{occasion}快乐！",
    )
    birthdays = make_rule(occasion="birthday", task_lead_days=0)
    vip = make_player(nickname="守岁", manager=manager)
    born_on_the_30th = make_player(birthday=lunar_to_solar(1990, 12, 30), birthday_is_lunar=True)

    # when the job runs on 腊月廿八, 腊月廿九 and Spring Festival
    greeted = {
        day: greetings_run(on=day, deliver=False, catch_up_days=0).greeted
        for day in (date(2026, 2, 15), date(2026, 2, 16), date(2026, 2, 17))
    }

    # then both are greeted on 2026-02-16 only: 除夕 for everyone, the birthday of the 30th on the 29th
    assert greeted == {date(2026, 2, 15): 0, date(2026, 2, 16): 3, date(2026, 2, 17): 0}
    assert Greeting.objects.get(player=born_on_the_30th, rule=birthdays).occasion_date == date(2026, 2, 16)
    (task,) = tasks_of(vip)
    with translation.override("zh-hans"):
        assert task.title_text == "2026-02-16 除夕：致电 守岁"
    message = Message.objects.get(player=vip)  # a commercial SMS, to a player who never granted SMS
    assert (message.body, message.status_reason) == ("守岁，除夕快乐！ 拒收请回复R", "no_consent")


@pytest.mark.parametrize(("festival", "day"), [("qingming", date(2026, 4, 5)), ("dongzhi", date(2026, 12, 22))])
def test_a_solar_term_rule_greets_on_the_term(make_rule, make_player, festival, day):
    make_rule(occasion="festival", festival=festival, task_lead_days=0)
    make_player()

    assert greetings_run(on=day - timedelta(days=1), deliver=False, catch_up_days=0).greeted == 0
    assert greetings_run(on=day, deliver=False, catch_up_days=0).greeted == 1
    assert Greeting.objects.get().occasion_date == day


def test_registration_anniversary(make_rule, make_player):
    make_rule(occasion="registration", task_lead_days=0)
    # registered 2024-11-22 00:30 Shanghai time (still the 21st in UTC)
    veteran = make_player(registered_at=datetime(2024, 11, 22, 0, 30, tzinfo=SHANGHAI))
    newcomer = make_player(registered_at=datetime(2026, 11, 22, 0, 30, tzinfo=SHANGHAI))

    greetings_run(on=RUN_DAY, deliver=False, catch_up_days=0)

    assert len(tasks_of(veteran)) == 1
    assert tasks_of(newcomer) == []  # registered today: no anniversary yet


def test_custom_lunar_occasion(make_rule, make_player):
    # given the game's anniversary on lunar 10/4 (2026-11-12), greeted every year
    occasion = CustomOccasion.objects.create(name="Game anniversary", is_lunar=True, month=10, day=4)
    make_rule(occasion="custom", custom_occasion=occasion, task_lead_days=0)
    player = make_player()
    assert lunar_to_solar(2026, 10, 4) == date(2026, 11, 12)

    assert greetings_run(on=date(2026, 11, 11), deliver=False, catch_up_days=0).greeted == 0
    assert greetings_run(on=date(2026, 11, 12), deliver=False, catch_up_days=0).greeted == 1
    assert tasks_of(player)[0].due_date == date(2026, 11, 12)


def test_rule_validation_names_the_field(make_rule):
    with pytest.raises(ValidationError) as error:
        make_rule(occasion="festival", task_lead_days=0)
    assert "festival" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        make_rule(occasion="birthday", task_lead_days=None, message_channel="")
    assert "message_channel" in error.value.message_dict


def test_players_created_in_bulk_get_their_birthday_key_before_the_job(make_rule, make_player):
    # given a player inserted without the services (birthday key missing)
    make_rule(occasion="birthday", task_lead_days=0)
    player = make_player(birthday=date(1990, 11, 22))
    assert player.birthday_md is None

    report = greetings_run(on=RUN_DAY, deliver=False)

    assert report.keys_refreshed >= 1
    assert len(tasks_of(player)) == 1


# --- exactly once -------------------------------------------------------------------


def test_running_twice_greets_once(make_rule, make_player):
    make_rule(occasion="birthday", task_lead_days=0)
    players = [make_player(birthday=date(1980 + i, 11, 22)) for i in range(3)]

    first = greetings_run(on=RUN_DAY, deliver=False)
    second = greetings_run(on=RUN_DAY, deliver=False)

    assert (first.greeted, second.greeted) == (3, 0)
    assert OutreachTask.objects.count() == 3
    assert all(len(tasks_of(p)) == 1 for p in players)


def test_a_crash_halfway_then_a_rerun_greets_each_player_once(make_rule, make_player, monkeypatch):
    # given five birthdays today and a job that dies at the end of its second batch
    make_rule(occasion="birthday", task_lead_days=0)
    players = [make_player(birthday=date(1980 + i, 11, 22)) for i in range(5)]
    real_tally = greetings_module._claims_tally
    calls = {"n": 0}

    def dying_tally(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_tally(**kwargs)

    monkeypatch.setattr(greetings_module, "_claims_tally", dying_tally)

    # when it runs in batches of two and crashes in the second batch
    with pytest.raises(RuntimeError):
        greetings_run(on=RUN_DAY, deliver=False, batch_size=2)

    # then the first batch is greeted, the crashed batch left no claim behind
    assert Greeting.objects.count() == 2
    assert OutreachTask.objects.count() == 2

    # when the job runs again
    monkeypatch.setattr(greetings_module, "_claims_tally", real_tally)
    rerun = greetings_run(on=RUN_DAY, deliver=False, batch_size=2)

    # then the other three are greeted, and nobody twice
    assert rerun.greeted == 3
    assert all(len(tasks_of(p)) == 1 for p in players)


def test_catch_up_within_the_window_never_older(make_rule, make_player):
    # given birthdays 5, 3 and 1 days ago and today, and a job that was down all that time
    make_rule(occasion="birthday", task_lead_days=0)
    too_old = make_player(birthday=date(1990, 11, 17))
    edge = make_player(birthday=date(1990, 11, 19))
    yesterday = make_player(birthday=date(1990, 11, 21))
    today = make_player(birthday=date(1990, 11, 22))

    # when it comes back with a three-day window
    report = greetings_run(on=RUN_DAY, deliver=False, catch_up_days=3)

    # then the last three days are caught up, older ones are not
    assert report.greeted == 3
    assert tasks_of(too_old) == []
    for player in (edge, yesterday, today):
        (task,) = tasks_of(player)
        assert task.due_date == RUN_DAY  # late occasions are due now
    # and the next day's run sends none of them again
    assert greetings_run(on=date(2026, 11, 23), deliver=False, catch_up_days=3).greeted == 0


def test_catch_up_window_comes_from_the_settings(make_rule, make_player, settings):
    settings.CRM_GREETINGS_CATCH_UP_DAYS = 1
    make_rule(occasion="birthday", task_lead_days=0)
    two_days = make_player(birthday=date(1990, 11, 20))
    one_day = make_player(birthday=date(1990, 11, 21))

    greetings_run(on=RUN_DAY, deliver=False)

    assert tasks_of(two_days) == [] and len(tasks_of(one_day)) == 1


def test_a_new_rule_does_not_catch_up_before_it_starts(make_rule, make_player):
    make_rule(occasion="birthday", task_lead_days=0, starts_on=RUN_DAY)
    yesterday = make_player(birthday=date(1990, 11, 21))
    today = make_player(birthday=date(1990, 11, 22))

    greetings_run(on=RUN_DAY, deliver=False)

    assert tasks_of(yesterday) == [] and len(tasks_of(today)) == 1


def test_dry_run_counts_and_writes_nothing(make_rule, make_player):
    make_rule(occasion="birthday", task_lead_days=0)
    make_player(birthday=date(1990, 11, 22))
    make_player(birthday=date(1991, 11, 22))

    report = greetings_run(on=RUN_DAY, dry_run=True)

    assert report.greeted == 2
    assert Greeting.objects.count() == 0 and OutreachTask.objects.count() == 0


def test_two_workers_at_once_greet_each_player_once(requires_postgres, transactional_db, make_rule, make_player):
    # given 300 birthdays today
    make_rule(occasion="birthday", task_lead_days=0)
    players = [make_player(birthday=date(1970 + i % 40, 11, 22)) for i in range(300)]
    from players.services.birthdays import birthdays_refresh

    birthdays_refresh()
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(greetings_run(on=RUN_DAY, deliver=False, batch_size=50).greeted)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when three workers (two workers and a duplicated beat) run the same day at once
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every player is greeted exactly once
    assert errors == []
    assert sum(results) == 300
    assert OutreachTask.objects.count() == 300
    assert Greeting.objects.count() == 300
    assert {t.player_id for t in OutreachTask.objects.all()} == {p.pk for p in players}


# --- skipping ---------------------------------------------------------------------


def test_skipping_before_the_job_keeps_it_from_greeting(make_rule, make_player, manager):
    rule = make_rule(occasion="birthday", task_lead_days=0)
    player = make_player(birthday=date(1990, 11, 22))

    greeting_skip(rule=rule, player=player, occasion_date=RUN_DAY, actor=manager, reason="on holiday abroad")
    greetings_run(on=RUN_DAY, deliver=False)

    assert tasks_of(player) == []
    skipped = Greeting.objects.get()
    assert skipped.status == GreetingStatus.SKIPPED and skipped.actor == manager


def test_skipping_after_the_job_cancels_the_open_task(make_rule, make_player, manager):
    rule = make_rule(occasion="birthday", task_lead_days=1)
    player = make_player(birthday=date(1990, 11, 23))
    greetings_run(on=RUN_DAY, deliver=False)

    greeting_skip(rule=rule, player=player, occasion_date=date(2026, 11, 23), actor=manager)

    (task,) = tasks_of(player)
    assert task.status == TaskStatus.CANCELLED
    assert Greeting.objects.get().status == GreetingStatus.SKIPPED


# --- gifts ------------------------------------------------------------------------


def test_gift_budget_exhaustion_refuses_the_gift_with_a_clear_note(make_rule, make_player, tiers):
    # given a V3 budget of 100 a month and a 40 credit gift for each birthday
    GiftBudget.objects.create(tier=tiers["V3"], monthly_amount=Decimal("100"))
    make_rule(occasion="birthday", task_lead_days=0, gift_kind="value", gift_value=Decimal("40"))
    vips = [make_player(birthday=date(1990 + i, 11, 22), tier=tiers["V3"]) for i in range(3)]
    untiered = make_player(birthday=date(1995, 11, 22))

    # when the job greets them
    report = greetings_run(on=RUN_DAY, deliver=False)

    # then two gifts fit the budget; the third is refused and the greeting says why
    assert report.lines[0].gifts == 3 and report.lines[0].gifts_refused == 1  # 2 V3 + the untiered player
    assert GiftEntry.objects.filter(tier=tiers["V3"]).count() == 2
    refused = Greeting.objects.get(player=vips[2])
    assert refused.gift is None
    assert "V3" in refused.note and "¥80.00" in refused.note and "¥100.00" in refused.note
    assert len(tasks_of(vips[2])) == 1  # still greeted
    assert GiftEntry.objects.filter(player=untiered).count() == 1  # no budget: no limit
    assert gift_budget_remaining(tier=tiers["V3"], on=RUN_DAY) == Decimal("20")


def test_message_is_queued_for_ten_in_the_players_zone_with_the_gift(make_rule, make_player):
    from campaigns.models import Message

    make_rule(
        occasion="birthday",
        message_channel="in_game",
        template="{nickname}，{occasion}快乐！礼包码 {gift}",
        gift_kind="code",
        gift_item="BDAY",
        gift_value=Decimal("5"),
    )
    shanghai = make_player(nickname="小明", birthday=date(1990, 11, 22))
    tokyo = make_player(nickname="Ken", birthday=date(1990, 11, 22), timezone="Asia/Tokyo")

    with time_machine.travel(datetime(2026, 11, 22, 0, 5, tzinfo=SHANGHAI), tick=False):
        report = greetings_run()

    assert report.greeted == 2 and report.lines[0].messages == 2
    message = Message.objects.get(player=shanghai)
    assert message.status == "queued"  # not due before 10:00
    assert message.scheduled_for == datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)
    gift = GiftEntry.objects.get(player=shanghai)
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        birthday = str(GreetingOccasion.BIRTHDAY.label)  # 生日 once the catalogues are compiled
    assert message.body == f"小明，{birthday}快乐！礼包码 {gift.code}"
    assert Message.objects.get(player=tokyo).scheduled_for == datetime(
        2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")
    )


def test_the_day_s_message_is_sent_once_due(make_rule, make_player, consent):
    from campaigns.models import Message
    from players.models import ContactLog

    make_rule(occasion="birthday", message_channel="sms", template="{nickname}生日快乐")
    player = consent(make_player(nickname="小红", birthday=date(1990, 11, 22)), "sms")

    with time_machine.travel(datetime(2026, 11, 22, 0, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()
    with time_machine.travel(datetime(2026, 11, 22, 10, 5, tzinfo=SHANGHAI), tick=False):
        again = greetings_run()

    assert again.greeted == 0
    message = Message.objects.get(player=player)
    assert message.status == "sent"
    assert ContactLog.objects.filter(player=player, source=f"message:{message.pk}").count() == 1


def test_quiet_hours_postpone_a_greeting_never_drop_it(make_rule, make_player, consent):
    from campaigns.models import Message

    # given a rule that sends at 23:00, inside the quiet hours (22:00-09:00)
    make_rule(occasion="birthday", message_channel="sms", template="{nickname}生日快乐", send_time=time(23, 0))
    player = consent(make_player(birthday=date(1990, 11, 22)), "sms")

    # when the job runs at 23:05 on the day
    with time_machine.travel(datetime(2026, 11, 22, 0, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()
    with time_machine.travel(datetime(2026, 11, 22, 23, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()

    # then the message waits for the end of the quiet hours
    message = Message.objects.get(player=player)
    assert message.status == "postponed"
    assert message.scheduled_for == datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)

    # and goes out after them, once
    with time_machine.travel(datetime(2026, 11, 23, 9, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()
    message.refresh_from_db()
    assert message.status == "sent"
    assert Message.objects.filter(player=player).count() == 1


def test_weekly_cap_postpones_the_birthday_message(make_rule, make_player, settings, consent):
    from campaigns.models import Message

    settings.CRM_MESSAGES_PER_WEEK = 2
    make_rule(occasion="birthday", message_channel="sms", template="{nickname}生日快乐")
    player = consent(make_player(birthday=date(1990, 11, 22)), "sms")
    # given two messages already sent to the player this week (Nov 17 and Nov 20)
    for day in (17, 20):
        Message.objects.create(
            player=player,
            channel="sms",
            body="活动",
            status="sent",
            scheduled_for=datetime(2026, 11, day, 12, tzinfo=SHANGHAI),
            sent_at=datetime(2026, 11, day, 12, tzinfo=SHANGHAI),
            source=f"campaign:{day}",
        )

    # when the birthday message falls due
    with time_machine.travel(datetime(2026, 11, 22, 10, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()

    # then it waits for the player's next calendar week (Monday, after quiet hours), not dropped
    message = Message.objects.get(source__startswith="greeting:")
    assert message.status == "postponed"
    assert message.scheduled_for == datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
    assert "at most 2 marketing messages a week" in message.status_reason_text

    with time_machine.travel(datetime(2026, 11, 23, 9, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()
    message.refresh_from_db()
    assert message.status == "sent"


def test_refusing_and_unconsented_players_get_no_greeting_sms_and_minors_a_plain_one(make_rule, make_player, consent):
    from campaigns.models import Message

    make_rule(
        occasion="birthday",
        message_channel="sms",
        template="{nickname}生日快乐，充值648送限定皮肤",
        task_lead_days=0,
        gift_kind="code",
        gift_item="BDAY",
        gift_value=Decimal("10"),
    )
    refused = consent(make_player(birthday=date(1990, 11, 22)), "sms", status="refused")
    unconsented = make_player(birthday=date(1991, 11, 22))  # no record: SMS marketing needs a grant
    minor = consent(make_player(nickname="小明", birthday=date(2012, 11, 22)), "sms")  # 14 today

    with time_machine.travel(datetime(2026, 11, 22, 10, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run(deliver=False)

    by_player = {m.player_id: m for m in Message.objects.all()}
    assert (by_player[refused.pk].status, by_player[refused.pk].status_reason) == ("cancelled", "consent_refused")
    assert (by_player[unconsented.pk].status, by_player[unconsented.pk].status_reason) == ("cancelled", "no_consent")
    # the minor is greeted, as a service message without the spend prompt, the opt-out suffix or a gift
    plain = by_player[minor.pk]
    assert (plain.status, plain.is_marketing) == ("queued", False)
    assert plain.body == "小明，生日快乐！"
    assert not GiftEntry.objects.filter(player=minor).exists()
    assert GiftEntry.objects.filter(player__in=[refused, unconsented]).count() == 2
    assert "拒收请回复R" in by_player[refused.pk].body
    # the manager may still call them all (no phone refusal); the minor's call has the plain script
    assert len(tasks_of(refused)) == 1 and len(tasks_of(minor)) == 1
    assert tasks_of(minor)[0].status == "open"


def test_skipping_cancels_a_queued_message(make_rule, make_player, manager, consent):
    from campaigns.models import Message

    rule = make_rule(occasion="birthday", message_channel="sms", template="{nickname}生日快乐")
    player = consent(make_player(birthday=date(1990, 11, 22)), "sms")
    with time_machine.travel(datetime(2026, 11, 22, 0, 5, tzinfo=SHANGHAI), tick=False):
        greetings_run()

    greeting_skip(rule=rule, player=player, occasion_date=RUN_DAY, actor=manager)

    assert Message.objects.get().status == "cancelled"


def test_a_caught_up_message_is_due_at_once(make_rule, make_player, consent):
    from campaigns.models import Message

    make_rule(occasion="birthday", message_channel="sms", template="{nickname}生日快乐")
    player = consent(make_player(birthday=date(1990, 11, 21)), "sms")  # yesterday: the job was down

    with time_machine.travel(datetime(2026, 11, 22, 11, 0, tzinfo=SHANGHAI), tick=False):
        greetings_run()

    assert Message.objects.get(player=player).status == "sent"


def test_templates_are_checked_when_the_rule_is_saved(make_rule):
    with pytest.raises(ValidationError) as error:
        make_rule(occasion="birthday", message_channel="sms", template="{nickname} {birthdate}")
    assert "{birthdate}" in error.value.message_dict["template"][0]

    rule = make_rule(occasion="birthday", message_channel="sms", template="{nickname} {occasion} {gift}")
    assert rule.pk


# --- the set-based path (PostgreSQL) gives what the per-player path gives ---------------

GIFT_CODE = re.compile(r"^MOON-[0-9A-F]{10}$")


def unrandom(text):
    return re.sub(r"MOON-[0-9A-F]{0,10}", "<code>", text)  # a cut subject may end inside a code


def _greeting_snapshot():
    """What each greeting got, comparable across runs (gift codes are random: checked
    for their format, then replaced by a marker)."""
    rows = {}
    for g in Greeting.objects.select_related("task", "message", "gift").order_by("rule_id", "player_id"):
        task, message, gift = g.task, g.message, g.gift
        code = gift.code if gift else ""
        if code:
            assert GIFT_CODE.match(code) and (message is None or code in message.body), code
        rows[(g.rule_id, g.player_id)] = {
            "greeting": (g.occasion_date, g.status, g.note),
            "task": task
            and (
                task.title,
                unrandom(task.script),
                task.due_date,
                task.assignee_id,
                task.kind,
                task.status,
                task.source,
            ),
            "message": message
            and (
                message.channel,
                unrandom(message.subject),
                unrandom(message.body),
                message.status,
                message.status_reason_text,
                message.scheduled_for,
                message.is_marketing,
                message.source,
            ),
            "gift": gift
            and (gift.kind, gift.item, bool(code), gift.value, gift.tier_id, gift.month, gift.given_on, gift.source),
        }
    return rows


def _line_counts(report):
    return [(ln.rule_id, ln.greeted, ln.tasks, ln.messages, ln.gifts, ln.gifts_refused) for ln in report.lines]


@time_machine.travel(datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI), tick=False)
def test_texts_rendered_by_postgresql_equal_texts_rendered_in_python(
    requires_postgres, make_rule, make_player, make_staff, manager, tiers, consent
):
    # given rules with a message and a gift code, a call with a credit gift, and a call
    # with an item gift and a script, within monthly budgets that run out
    manager.first_name, manager.last_name = "Li", "Na"
    manager.save()
    GiftBudget.objects.create(tier=tiers["V3"], monthly_amount=Decimal("100"))
    GiftBudget.objects.create(tier=tiers["V5"], monthly_amount=Decimal("10"))
    every_variable = (
        "{nickname}/{account_id}/{server}/{level}/{tier}/{manager}/{days_since_login}/{days_since_payment}/"
        "{total_spend}/{occasion}/{occasion_date}/{gift} {{x}}"
    )
    mail = make_rule(
        occasion="birthday",
        message_channel="in_game",
        subject="{occasion}: " + "{gift}" * 30,  # longer than 200 once filled in
        template=every_variable,
        gift_kind="code",
        gift_item="MOON",
        gift_value=Decimal("40"),
    )
    make_rule(
        occasion="birthday",
        task_lead_days=0,
        task_title="{occasion} {occasion_date}: {nickname} ({gift})",
        template="我是{me}，请祝 {nickname} {occasion}快乐，礼物 {gift}",  # the call's library script
        gift_kind="value",
        gift_value=Decimal("5"),
    )
    make_rule(occasion="birthday", task_lead_days=1, gift_kind="item", gift_item="月饼礼盒", gift_value=Decimal("0"))
    born, tomorrow = date(1990, 11, 22), date(1991, 11, 23)
    players = [
        make_player(nickname="龙王", birthday=born, tier=tiers["V3"], manager=manager, level=80),
        make_player(nickname="", birthday=born, tier=tiers["V3"], timezone="Asia/Tokyo", total_spend=Decimal("12")),
        consent(make_player(nickname="{{不是变量}}", birthday=born, tier=tiers["V3"]), "in_game", status="refused"),
        make_player(birthday=date(2012, 11, 22), tier=tiers["V3"], timezone="Mars/Olympus"),  # a minor
        make_player(birthday=born, tier=tiers["V5"], timezone="America/New_York", last_login_at=datetime.now(UTC)),
        make_player(birthday=born, tier=tiers["V5"], manager=make_staff("bare", "VIP manager")),
        make_player(birthday=born, last_paid_at=datetime(2026, 11, 1, tzinfo=UTC)),
        make_player(birthday=tomorrow, tier=tiers["V5"], manager=manager),
        make_player(birthday=tomorrow, tier=tiers["V5"]),
    ]
    assert greetings_module._sql_texts(mail, RUN_DAY).complete  # the database renders every text

    # when the per-player path greets them, then (everything undone) the set-based path
    by_python = greetings_run(on=RUN_DAY, deliver=False, sql_texts=False)
    python_rows = _greeting_snapshot()
    for model in (Greeting, OutreachTask, Message, GiftEntry):
        model.objects.all().delete()
    by_sql = greetings_run(on=RUN_DAY, deliver=False, batch_size=3)  # several batches, one budget
    sql_rows = _greeting_snapshot()

    # then both greeted the same players with the same tasks, messages and gifts
    assert _line_counts(by_sql) == _line_counts(by_python)
    assert sql_rows == python_rows
    assert len(sql_rows) == 7 + 7 + 9  # the call the day before also catches up today's birthdays
    # and, in particular: the budget note, the zones (invalid: the default), never before now
    mail_rows = {player_id: row for (rule_id, player_id), row in sql_rows.items() if rule_id == mail.pk}
    refused = mail_rows[players[2].pk]
    assert refused["gift"] is None and "V3" in refused["greeting"][2] and "¥80.00" in refused["greeting"][2]
    assert refused["message"][3:5] == ("cancelled", "The player refused this channel for this purpose.")
    minor = mail_rows[players[3].pk]
    assert minor["gift"] is None and minor["message"][3] == "queued" and minor["message"][6] is False
    now = datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI)
    assert mail_rows[players[0].pk]["message"][5] == datetime(2026, 11, 22, 10, tzinfo=SHANGHAI)
    assert mail_rows[players[1].pk]["message"][5] == now  # 10:00 in Tokyo has passed
    assert mail_rows[players[3].pk]["message"][5] == datetime(2026, 11, 22, 10, tzinfo=SHANGHAI)
    assert mail_rows[players[4].pk]["message"][5] == datetime(2026, 11, 22, 10, tzinfo=ZoneInfo("America/New_York"))
    assert mail_rows[players[0].pk]["message"][2].startswith(f"龙王/{players[0].account_id}/s1/80/V3/Li Na/")
    assert len(Message.objects.get(player=players[0], source__startswith=f"greeting:{mail.pk}:").subject) == 200
    assert len(set(GiftEntry.objects.exclude(code="").values_list("code", flat=True))) == 3

    # when the job runs again, it creates nothing
    counts = [model.objects.count() for model in (Greeting, OutreachTask, Message, GiftEntry)]
    assert greetings_run(on=RUN_DAY, deliver=False).greeted == 0
    assert [model.objects.count() for model in (Greeting, OutreachTask, Message, GiftEntry)] == counts


def test_texts_with_a_format_spec_are_rendered_in_python(make_rule, make_player):
    # given a script with a format spec, which only the per-player path renders
    rule = make_rule(occasion="birthday", task_lead_days=0, template="{nickname}: {total_spend:,.2f}")
    player = make_player(nickname="阿强", birthday=date(1990, 11, 22), total_spend=Decimal("12960"))

    assert greetings_module._sql_texts(rule, RUN_DAY).script is None
    greetings_run(on=RUN_DAY, deliver=False)

    assert tasks_of(player)[0].script == "阿强: 12,960.00"
