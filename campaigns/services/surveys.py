"""What campaigns does for satisfaction surveys (players.services.surveys): the message
that carries the survey to the player, and the supervisor's follow-up task after a low
score. Handed to players in `CampaignsConfig.ready`."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import OutreachTask, TaskKind, TaskStatus
from .messaging import message_queue

FOLLOW_UP_PERMISSION = "players.view_team_report"


def survey_message_send(*, survey, link: str, reminder: bool) -> None:
    """The survey (or its one reminder) as a message on the player's channel, in Chinese
    (the players' language). Not marketing: it goes to players who opted out too."""
    player = survey.player
    with translation.override("zh-hans"):
        name = player.nickname or player.account_id
        if reminder:
            body = _("%(name)s, a reminder: how satisfied are you with our service? 1-5 and a word: %(link)s")
        else:
            body = _("%(name)s, how satisfied are you with our service? Tell us (1-5) in a minute: %(link)s")
        body = body % {"name": name, "link": link}
        subject = _("How did we do?")
    message_queue(
        player=player,
        channel=survey.channel,
        body=body,
        subject=subject,
        source=f"survey:{survey.pk}:{'reminder' if reminder else 'first'}",
        is_marketing=False,
    )


def survey_follow_up_task(*, survey) -> OutreachTask | None:
    """A follow-up call for the supervisor with the fewest open tasks, due the next day."""
    User = get_user_model()
    supervisors = (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="view_team_report", groups__permissions__content_type__app_label="players")
            | Q(
                user_permissions__codename="view_team_report",
                user_permissions__content_type__app_label="players",
            )
        )
        .distinct()
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN)))
        .order_by("open_tasks", "pk")
    )
    supervisor = supervisors.first()
    source = f"survey:{survey.pk}"
    if OutreachTask.objects.filter(source=source).exists():
        return None
    player = survey.player
    with translation.override("zh-hans"):
        title = _("Low satisfaction %(score)d/5 from %(player)s: call back") % {
            "score": survey.score,
            "player": player.nickname or player.account_id,
        }
    task = OutreachTask(
        player=player,
        assignee=supervisor,
        kind=TaskKind.FOLLOW_UP,
        title=title[:200],
        note=survey.reason,
        due_date=timezone.localdate() + timedelta(days=1),
        source=source,
    )
    task.full_clean(validate_unique=False, validate_constraints=False)
    task.save()
    return task
