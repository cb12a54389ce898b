from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlayersConfig(AppConfig):
    name = "players"
    verbose_name = _("Players")

    def ready(self):
        from celery.schedules import crontab
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from .models.payer_status import ChurnRule
        from .services.payer_status import churn_rules_forget

        post_save.connect(churn_rules_forget, sender=ChurnRule, dispatch_uid="churn_rules_forget_save")
        post_delete.connect(churn_rules_forget, sender=ChurnRule, dispatch_uid="churn_rules_forget_delete")

        # An erasure deletes the possible duplicates found from the player's personal data.
        from .services.duplicates import duplicates_forget
        from .services.privacy import ERASURE_HOOKS

        if duplicates_forget not in ERASURE_HOOKS:
            ERASURE_HOOKS.append(duplicates_forget)

        # A resolved case is followed by a satisfaction survey.
        from .services.cases import case_resolved_listener_add
        from .services.surveys import survey_for_case

        case_resolved_listener_add(survey_for_case)

        # The projection's safety net: marks left by a lost task or a worker that died are
        # projected within a minute (each committed batch queues the task itself).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "players.project_pending",
            {"task": "players.project_pending", "schedule": crontab(minute="*")},
        )
        # Overdue cases escalate within a quarter of an hour (players.tasks.escalate_cases).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "players.escalate_cases",
            {"task": "players.escalate_cases", "schedule": crontab(minute="*/15")},
        )
