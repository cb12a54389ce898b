"""The data migrations that turn words the CRM stored into codes read in the reader's
language: message reasons (0008, 0010) and task titles and cancel reasons (0009)."""

from datetime import date
from importlib import import_module

from django.apps import apps
from django.utils import timezone, translation

from campaigns.models import Message, OutreachTask, TaskKind

reasons_0010 = import_module("campaigns.migrations.0010_message_reasons_older_words")
tasks_0009 = import_module("campaigns.migrations.0009_task_title_codes")


def test_older_reasons_in_words_are_read_as_codes_with_their_parameters():
    assert reasons_0010.reason_codes("免打扰时段。") == ("quiet_hours", {})
    assert reasons_0010.reason_codes("已达每周 2 条消息的上限。 免打扰时段。") == ("weekly_cap quiet_hours", {"cap": 2})
    assert reasons_0010.reason_codes("Weekly limit of 3 messages reached. Quiet hours.") == (
        "weekly_cap quiet_hours",
        {"cap": 3},
    )
    assert reasons_0010.reason_codes("由 李娜 取消。") == ("cancelled_by", {"user": "李娜"})
    assert reasons_0010.reason_codes("Cancelled by lina.") == ("cancelled_by", {"user": "lina"})
    assert reasons_0010.reason_codes("祝福已被工作人员跳过。") == ("greeting_skipped", {})
    assert reasons_0010.reason_codes("the webhook said no") is None  # not ours: stays as it is


def test_the_migration_rewrites_stored_words_and_leaves_codes_and_other_text(make_player):
    player = make_player()
    now = timezone.now()

    def message(reason, source):
        return Message.objects.create(
            player=player, channel="sms", body="hi", scheduled_for=now, status_reason=reason, source=source
        )

    quiet = message("已达每周 2 条消息的上限。 免打扰时段。", "a")
    coded = message("opted_out", "b")
    other = message("the webhook said no", "c")

    reasons_0010.older_words_to_codes(apps, None)

    quiet.refresh_from_db(), coded.refresh_from_db(), other.refresh_from_db()
    assert (quiet.status_reason, quiet.status_params) == ("weekly_cap quiet_hours", {"cap": 2})
    with translation.override("zh-hans"):
        assert quiet.status_reason_text == "已达每周 2 条消息的上限。 免打扰时段。"
    with translation.override("en"):
        assert quiet.status_reason_text == "Weekly limit of 2 messages reached. Quiet hours."
    assert coded.status_reason == "opted_out"
    assert other.status_reason == "the webhook said no"


def test_default_greeting_titles_and_campaign_cancel_notes_become_codes(make_rule, make_player, make_campaign):
    rule = make_rule(occasion="festival", festival="mid_autumn", task_lead_days=0)
    own = make_rule(occasion="birthday", task_lead_days=1, task_title="{nickname} 生日回访")
    player = make_player(nickname="玉兔")
    campaign = make_campaign()
    default = OutreachTask.objects.create(
        player=player,
        kind=TaskKind.GREETING,
        title="Mid-Autumn Festival on 2026-09-25: call 玉兔",
        due_date=date(2026, 9, 25),
        source=f"greeting:{rule.pk}:20260925",
    )
    written = OutreachTask.objects.create(
        player=player,
        kind=TaskKind.GREETING,
        title="玉兔 生日回访",
        due_date=date(2026, 9, 25),
        source=f"greeting:{own.pk}:20260926",
    )
    blocked = OutreachTask.objects.create(
        player=player, campaign=campaign, title=campaign.name, due_date=date(2026, 9, 25), note="玩家已退订营销消息。"
    )

    tasks_0009.words_to_codes(apps, None)

    default.refresh_from_db(), written.refresh_from_db(), blocked.refresh_from_db()
    with translation.override("zh-hans"):
        assert default.title_text == "2026-09-25 中秋节：致电 玉兔"
        assert written.title_text == "玉兔 生日回访" and written.title_code == ""
        assert blocked.status_reason == "opted_out" and blocked.note == ""
        assert blocked.note_text == "玩家已退订营销消息。"


def test_call_scripts_in_templates_move_into_the_library(make_player, supervisor):
    """0017: a phone campaign's and a call-only greeting rule's script become library entries
    (one per distinct text), linked as the call script; messages stay where they are."""
    from campaigns.models import Campaign, GreetingRule
    from players.models import CallScript

    scripts_0017 = import_module("campaigns.migrations.0017_call_scripts_from_the_library")
    CallScript.objects.create(name="回访大户", category="return_visit", step_purpose="已有的话术")
    day = date(2026, 11, 22)

    def campaign(name, channel, template, goal="vip_care"):
        return Campaign.objects.create(
            name=name, goal=goal, channel=channel, template=template, start_date=day, due_date=day
        )

    first = campaign("回访大户", "phone_task", "{nickname}您好，我是{manager}")
    again = campaign("回访大户二期", "phone_task", "{nickname}您好，我是{manager}")
    winback = campaign("召回", "phone_task", "{nickname}，好久不见", goal="win_back")
    mail = campaign("邮件", "sms", "{nickname}，礼包已发放")
    call = GreetingRule.objects.create(
        name="生日电话", occasion="birthday", task_lead_days=1, template="{occasion}快乐"
    )
    both = GreetingRule.objects.create(
        name="生日双管", occasion="birthday", task_lead_days=1, message_channel="sms", template="生日快乐"
    )

    scripts_0017.scripts_into_the_library(apps, None)

    for row in (first, again, winback, mail, call, both):
        row.refresh_from_db()
    assert first.call_script == again.call_script and first.template == again.template == ""
    assert (first.call_script.name, first.call_script.category) == ("回访大户 (2)", "return_visit")
    assert first.call_script.step_purpose == "{nickname}您好，我是{manager}"
    assert (winback.call_script.category, winback.call_script.name) == ("win_back", "召回")
    assert (mail.call_script, mail.template) == (None, "{nickname}，礼包已发放")
    assert (call.call_script.category, call.call_script.step_purpose, call.template) == (
        "greeting_call",
        "{occasion}快乐",
        "",
    )
    assert (both.call_script, both.template) == (None, "生日快乐")

    scripts_0017.scripts_back_into_templates(apps, None)
    first.refresh_from_db(), call.refresh_from_db()
    assert (first.template, call.template) == ("{nickname}您好，我是{manager}", "{occasion}快乐")


errors_0021 = import_module("campaigns.migrations.0021_message_last_error_provider_words")


def test_stored_errors_become_reasons_with_local_times_and_keep_the_providers_words(make_player):
    # given errors stored before 0021: our English words and a UTC time
    player = make_player()
    now = timezone.now()

    def message(source, status, attempts, last_error, reason="", params=None):
        return Message.objects.create(
            player=player,
            channel="in_game",
            body="hi",
            scheduled_for=now,
            source=source,
            status=status,
            attempts=attempts,
            last_error=last_error,
            status_reason=reason,
            status_params=params or {},
        )

    webhook = message("a", "queued", 1, "2026-12-06 14:03:00 UTC, attempt 1: Webhook answered HTTP 503.")
    no_email = message("b", "failed", 1, "2026-12-06 14:03:00 UTC, attempt 1: The player has no email address.")
    crashed = message("c", "failed", 5, "2026-12-06 14:03:00 UTC, attempt 5: KeyError: 'x'")
    sms = message(
        "d",
        "failed",
        2,
        "tencent LimitExceeded.DailyLimit: daily limit",
        "provider_refused",
        {"provider": "tencent", "code": "LimitExceeded.DailyLimit"},
    )
    receipt = message("e", "failed", 1, "receipt: MK:0001 空号", "provider_undelivered", {"provider": "tencent"})
    retried_by_hand = message("f", "queued", 0, "2026-12-06 14:03:00 UTC, attempt 5: Webhook answered HTTP 500.")

    # when
    errors_0021.forwards(apps, None)

    # then our words are reasons, the time is the reason's (read in local time), the provider's words stay
    for m in (webhook, no_email, crashed, sms, receipt, retried_by_hand):
        m.refresh_from_db()
    assert (webhook.status_reason, webhook.last_error) == ("provider_retry", "HTTP 503")
    assert webhook.status_params == {
        "provider": "webhook",
        "code": "HTTP 503",
        "attempt": 1,
        "at": "2026-12-06T14:03:00+00:00",
    }
    with translation.override("zh-hans"):
        assert webhook.status_reason_text == (
            "投递网关未发送：未说明原因（HTTP 503）。稍后将重试。 第 1 次尝试：2026-12-06 22:03。"
        )
    assert (no_email.status_reason, no_email.last_error) == ("no_email", "")
    assert (crashed.status_reason, crashed.last_error) == ("delivery_error", "KeyError: 'x'")
    with translation.override("en"):
        assert crashed.status_reason_text.startswith("The delivery backend of the channel In-game failed")
    assert (sms.last_error, sms.status_reason) == ("LimitExceeded.DailyLimit daily limit", "provider_refused")
    assert receipt.last_error == "MK:0001 空号"
    # a message retried by hand has no reason to give: its last error keeps only the gateway's answer
    assert (retried_by_hand.status_reason, retried_by_hand.last_error) == ("", "HTTP 500")
