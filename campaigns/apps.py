from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from celery.schedules import crontab
        from django.core import checks

        checks.register(_check_message_channels)

        from players.services.cases import case_compensation_ledger_set

        from .services.gifts import gift_record_for_case

        case_compensation_ledger_set(gift_record_for_case)  # compensations count against the gift budget

        from players.services.servers import server_merge_step_add

        from .services.greetings import greeting_rules_rebind_server

        server_merge_step_add(greeting_rules_rebind_server)  # 合服: rules for an old server follow it

        from players.templating import template_use_variables_register

        from .models.greetings import GREETING_VARIABLES

        # a greeting call's script may use the occasion and the gift (filled in by the greetings run)
        template_use_variables_register("greeting_call", GREETING_VARIABLES)

        from players.services.privacy import erasure_hook_add

        from .privacy import player_erased_close, player_tables_register

        player_tables_register()  # tasks, messages, greetings, gifts in a player's data file and erasure
        erasure_hook_add(player_erased_close)  # an erasure cancels the player's open tasks and queued messages

        from players.services.persons import person_table_register

        from .models import GiftEntry, Message, OutreachTask, WecomContact

        for model in (OutreachTask, Message, GiftEntry, WecomContact):
            person_table_register(model)  # a merge of two people moves their tasks, messages, gifts, WeCom link

        from players.services.surveys import survey_delivery_set, survey_follow_up_set

        from .services.surveys import survey_follow_up_task, survey_message_send

        survey_delivery_set(survey_message_send)  # a survey goes out as a message on the player's channel
        survey_follow_up_set(survey_follow_up_task)  # a low score: a follow-up task for a supervisor
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "players.surveys_remind", {"task": "players.surveys_remind", "schedule": 3600.0}
        )

        from players.services.consents import consent_refusal_hook_add

        from .services.messaging import messages_cancel_refused

        consent_refusal_hook_add(messages_cancel_refused)  # a withdrawal cancels what is queued

        # Scheduled jobs of this app (crm/celery.py reads CELERY_BEAT_SCHEDULE).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.deliver_messages", {"task": "campaigns.deliver_messages", "schedule": 60.0}
        )
        # Greetings: at minute 5 of every hour in CELERY_TIMEZONE (= TIME_ZONE,
        # Asia/Shanghai). The first run after local midnight creates the day's call
        # tasks and queues the day's messages; later runs pick up what changed and
        # catch up. Idempotent, so a duplicated beat is harmless.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.greetings_daily", {"task": "campaigns.greetings_daily", "schedule": crontab(minute=5)}
        )
        # A return is a login seen within 14 days of contact, and players.last_login_at
        # keeps only the latest: refresh often enough that a return is seen before the
        # player's next login moves it.
        # The half-monthly top-spender return visits: the 1st and 16th at 09:00.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.top_spender_visits",
            {"task": "campaigns.top_spender_visits", "schedule": crontab(hour=9, minute=0, day_of_month="1,16")},
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.refresh_campaign_results", {"task": "campaigns.refresh_campaign_results", "schedule": 900.0}
        )
        # WeCom: customers and tags every 15 minutes (cursor-resumable), the group-message
        # tasks' results every 10.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.wecom_sync", {"task": "campaigns.wecom_sync", "schedule": 900.0}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.wecom_results", {"task": "campaigns.wecom_results", "schedule": 600.0}
        )


def _check_message_channels(app_configs, **kwargs):
    """Warn about message channels without a delivery backend: their messages fail."""
    from django.core.checks import Warning

    from .channels import unconfigured_channels

    return [
        Warning(
            f"No delivery backend for message channel {channel!r}: its messages fail (visible in the admin).",
            hint=f"Set CRM_{channel.upper()}_BACKEND (webhook, email, aliyun or tencent for SMS, wecom for WeChat, or console for a demo).",
            id="campaigns.W001",
        )
        for channel in unconfigured_channels()
    ]
