"""Win-back outreach: one task for a payer's at-risk or churned spell, for their VIP
manager. Outreach tasks are campaigns' table; the spell and its reasons are players'
payer status (`players.churn_reasons`, `players.models.payer_status`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from players.models import NOT_ERASED, PayerStatus, PayerStatusChange, Player

from ..models import OutreachTask, TaskKind, TaskTitle, winback_why_text


def winback_source(*, since: datetime) -> str:
    """The task source for a spell that began at `since`: one task per spell."""
    return f"churn:{timezone.localdate(since).isoformat()}"


@transaction.atomic
def winback_tasks_create(*, players, actor, due_in_days: int = 2, now: datetime | None = None) -> int:
    """One win-back task per player for their current at-risk or churned spell, for
    the player's VIP manager. The task's source names the day the spell began
    ("churn:2026-11-03"), so asking twice creates nothing new. Returns how many
    tasks were created."""
    now = now or timezone.now()
    players = list(
        players.filter(NOT_ERASED, payer_status__in=[PayerStatus.AT_RISK, PayerStatus.CHURNED]).select_related(
            "churn", "tier"
        )
    )
    if not players:
        return 0
    began = dict(
        PayerStatusChange.objects.filter(player__in=players, to_status=F("player__payer_status"))
        .values_list("player_id")
        .annotate(began=Max("changed_at"))
        .order_by()
    )
    wanted = {p.pk: (p, winback_source(since=began.get(p.pk, now))) for p in players}
    existing = set(
        OutreachTask.objects.filter(player_id__in=wanted, source__in={s for _p, s in wanted.values()}).values_list(
            "player_id", "source"
        )
    )
    due = timezone.localdate(now) + timedelta(days=due_in_days)
    tasks = []
    for pk, (player, source) in wanted.items():
        if (pk, source) in existing:
            continue
        params = winback_title_params(player)
        title = str(TaskTitle.WIN_BACK.label) % {
            "player": player.nickname or player.account_id,
            "why": winback_why_text(params),
        }
        task = OutreachTask(
            player=player,
            assignee_id=player.manager_id,
            kind=TaskKind.WIN_BACK,
            title=title,  # in the job's language, for search; read through title_code
            title_code=TaskTitle.WIN_BACK,
            title_params=params,
            due_date=due,
            source=source,
            created_by=actor,
        )
        task.full_clean(validate_unique=False, validate_constraints=False)
        tasks.append(task)
    OutreachTask.objects.bulk_create(tasks, ignore_conflicts=True)
    return len(tasks)


def winback_title_params(player: Player) -> dict:
    """The title's parameters (read in the reader's language by `OutreachTask.title_text`):
    churned, or at risk with the churn reasons' codes."""
    if player.payer_status == PayerStatus.CHURNED:
        return {"status": "churned"}
    churn = getattr(player, "churn", None)
    return {"status": "at_risk", "reasons": list(churn.reasons) if churn else []}
