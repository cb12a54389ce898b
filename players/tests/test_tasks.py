from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from crm.celery import app
from players.models import Case
from players.tasks import escalate_cases


def test_escalation_runs_on_the_beat_every_quarter_hour():
    entry = app.conf.beat_schedule["players.escalate_cases"]

    assert entry["task"] == "players.escalate_cases"
    assert entry["schedule"].minute == {0, 15, 30, 45}


def test_the_task_and_the_command_escalate_overdue_cases(make_player, make_case):
    first = make_case(make_player(), opened_at=timezone.now() - timedelta(hours=73))

    assert escalate_cases.delay().get() == 1
    second = make_case(make_player(), opened_at=timezone.now() - timedelta(hours=80))
    out = StringIO()
    call_command("escalate_cases", stdout=out)

    assert "Escalated 1 case(s) to the supervisors" in out.getvalue()
    assert Case.objects.filter(pk__in=[first.pk, second.pk], escalated_at__isnull=False).count() == 2
