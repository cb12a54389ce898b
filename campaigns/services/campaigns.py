"""Campaigns: save, launch (targets, holdout, tasks or messages), record task outcomes,
and measure results against the holdout (control) group.

Launch is idempotent and resumable. The targets (treated and holdout) are chosen in one
INSERT ... SELECT from the segment, in the same transaction that marks the campaign as
launching, so they are fixed once. Tasks (phone campaigns) are then inserted set-based
per range of player ids, messages (automatic channels) rendered and bulk-inserted in
chunks; each chunk commits on its own and every insert skips rows that already exist
(the unique constraints on (campaign, player) and (player, source) decide, not checks).
Launching again, or after a crash halfway, creates only what is missing.

The holdout is a deterministic hash of (player id, the campaign's random seed) mapped to
0..9999, held out when below percent × 100. The
same campaign always holds out the same players; `holdout_bucket` is the Python twin of
the SQL expression.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, Max, OuterRef, Q, Subquery, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from players.models import ContactChannel, ContactOutcome, Payment, PaymentKind, Player
from players.selectors.persons import person_of
from players.services import contact_log_create
from players.services.scripts import script_used
from players.templating import unresolved_errors

from .. import sql_dialect
from ..models import (
    REACHED_OUTCOMES,
    Campaign,
    CampaignChannel,
    CampaignStatus,
    CampaignTarget,
    Message,
    MessageReason,
    MessageStatus,
    OutreachTask,
    TaskKind,
    TaskStatus,
)
from ..segments import segment_clean, segment_players
from ..sql_templating import sql_template, sql_template_joins
from ..templating import template_context, template_render_context, template_variables
from .messaging import message_block_reason_sql, messages_insert_select

RETURN_WINDOW = timedelta(days=14)
PAY_WINDOW = timedelta(days=30)
PRIME = 2147483647  # 2^31 - 1
LEHMER = 48271  # the MINSTD multiplier
TASK_OUTCOMES = (
    ContactOutcome.REACHED,
    ContactOutcome.NO_ANSWER,
    ContactOutcome.REFUSED,
    ContactOutcome.WRONG_NUMBER,
    ContactOutcome.PROMISED_RETURN,
)
GOAL_TASK_KIND = {"win_back": TaskKind.WIN_BACK, "vip_care": TaskKind.VIP_CARE}


def holdout_bucket(*, seed: int, player_id: int) -> int:
    """0..9999, uniform over players; the player is held out when below percent × 100.

    Integer arithmetic only, identical in PostgreSQL and SQLite (see `_holdout_sql`):
    a Lehmer step, a square (so that campaigns with other seeds hold out unrelated
    players, not a shifted copy) and another Lehmer step, all modulo the prime 2^31 - 1;
    every product stays below 2^62.
    """
    h = (player_id + seed) * LEHMER % PRIME
    h = (h * h + seed) % PRIME
    h = h * LEHMER % PRIME
    return h * 10000 // PRIME


def _holdout_sql(column: str) -> str:
    """The SQL twin of holdout_bucket() < threshold; params: seed, seed, seed, threshold."""
    h1 = f"((({column} + %s) * {LEHMER}) %% {PRIME})"
    h2 = f"((({h1} * {h1}) + %s) %% {PRIME})"
    return f"((({h2} * {LEHMER}) %% {PRIME}) * 10000 / {PRIME}) < %s"


# --- Saving --------------------------------------------------------------------


@transaction.atomic
def campaign_save(*, campaign: Campaign, actor, team=None) -> Campaign:
    """Create or edit a campaign (template variables and segment checked). A launched
    campaign keeps its segment, channel and holdout: its groups are already drawn."""
    if campaign.pk:
        before = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if before.status != CampaignStatus.DRAFT:
            changed = [
                name
                for name in ("segment", "channel", "holdout_percent")
                if getattr(before, name) != getattr(campaign, name)
            ]
            if changed:
                raise ValidationError(
                    {name: [_("Cannot change after launch: the groups are already drawn.")] for name in changed}
                )
    else:
        campaign.owner = campaign.owner or actor
    # A bad segment is reported by full_clean(), together with any other problem.
    with contextlib.suppress(ValidationError):
        campaign.segment = segment_clean(campaign.segment or {})
    campaign.full_clean()
    campaign._history_user = actor
    campaign.save()
    if team is not None:
        campaign.team.set(team)
    return campaign


# --- Launch --------------------------------------------------------------------


def campaign_launch(*, campaign: Campaign, actor=None, now: datetime | None = None, chunk_size: int = 50000) -> dict:
    """Launch (or resume launching) a campaign. Returns counts:
    targets, holdout, tasks or messages created by this call."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == CampaignStatus.DRAFT:
            campaign.full_clean()
            _targets_insert(campaign=campaign, now=now)
            campaign.status = CampaignStatus.LAUNCHING
            campaign.launched_at = now
            campaign.launched_by = actor
            campaign._history_user = actor
            campaign.save()
    created = 0
    team = list(campaign.team.order_by("pk").values_list("pk", flat=True))
    offset = 0
    for low, high in _target_chunks(campaign=campaign, size=chunk_size):
        with transaction.atomic():
            if campaign.is_automatic:
                created += _messages_insert(campaign=campaign, low=low, high=high, now=now)
            else:
                made, unmanaged = _tasks_insert(
                    campaign=campaign, low=low, high=high, now=now, team=team, offset=offset
                )
                created += made
                offset += unmanaged
                if campaign.call_script_id:  # each call task is one use of the library's script
                    script_used(script_id=campaign.call_script_id, times=made, now=now)
    Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.LAUNCHING).update(status=CampaignStatus.LAUNCHED)
    campaign.refresh_from_db()
    counts = CampaignTarget.objects.filter(campaign=campaign).aggregate(
        targets=Count("id"), holdout=Count("id", filter=Q(is_holdout=True))
    )
    return {**counts, "created": created}


def _target_chunks(*, campaign: Campaign, size: int) -> list[tuple[int, int]]:
    """Ranges of player ids holding about `size` treated targets each."""
    ids = CampaignTarget.objects.filter(campaign=campaign, is_holdout=False).order_by("player_id")
    bounds = list(ids.values_list("player_id", flat=True)[::size]) if size else []
    if not bounds:
        return []
    last = ids.aggregate(high=Max("player_id"))["high"]
    return [(low, (bounds[i + 1] - 1) if i + 1 < len(bounds) else last) for i, low in enumerate(bounds)]


def _targets_insert(*, campaign: Campaign, now: datetime) -> int:
    players = segment_players(campaign.segment, now=now).order_by().values("id")
    inner_sql, inner_params = players.query.sql_with_params()
    table = CampaignTarget._meta.db_table
    sql = (
        f"INSERT INTO {table} (campaign_id, player_id, is_holdout, reference_at, outcome) "
        f"SELECT %s, s.id, {_holdout_sql('s.id')}, %s, '' FROM ({inner_sql}) s WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    seed = campaign.holdout_seed
    params = [campaign.pk, seed, seed, seed, campaign.holdout_percent * 100, now, *inner_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _tasks_insert(*, campaign, low, high, now, team, offset) -> tuple[int, int]:
    """Insert the chunk's tasks; returns (created, players without a manager in the chunk)."""
    task_table = OutreachTask._meta.db_table
    target_table = CampaignTarget._meta.db_table
    player_table = Player._meta.db_table
    if team:
        whens = " ".join(f"WHEN {i} THEN {int(pk)}" for i, pk in enumerate(team))
        round_robin = (
            f"CASE ((%s + ROW_NUMBER() OVER (PARTITION BY p.manager_id IS NULL ORDER BY t.player_id) - 1) %% {len(team)}) "
            f"{whens} END"
        )
        rr_params = [offset]
    else:
        round_robin, rr_params = "NULL", []
    # The one consent rule (messaging's door): a call is the phone's marketing.
    (joins, join_params), (reason_sql, reason_params) = message_block_reason_sql(
        player_id="p.id",
        birthday="p.birthday",
        channel=ContactChannel.PHONE,
        marketing=("true", []),
        today=timezone.localdate(now),
    )
    sql = (
        f"INSERT INTO {task_table} (player_id, assignee_id, kind, title, script, due_date, status, outcome, note, "
        "status_reason, source, campaign_id, created_by_id, created_at, completed_at) "
        "SELECT q.player_id, q.assignee_id, %s, %s, '', %s, CASE WHEN q.reason = '' THEN %s ELSE %s END, '', '', "
        "q.reason, %s, %s, %s, %s, NULL "
        f"FROM (SELECT p.id AS player_id, COALESCE(p.manager_id, {round_robin}) AS assignee_id, {reason_sql} AS reason "
        # A linked account's call is the VIP person's, as their messages are: on the main
        # account (its manager, consents), once per person however many accounts are targeted.
        # The few linked accounts come from the partial index player_person_linked, so the
        # million others still join the players table once.
        f"FROM {target_table} t LEFT JOIN (SELECT id, person_account_id FROM {player_table} "
        "WHERE person_account_id IS NOT NULL) l ON l.id = t.player_id "
        f"JOIN {player_table} p ON p.id = COALESCE(l.person_account_id, t.player_id) {joins}"
        "WHERE t.campaign_id = %s AND t.is_holdout = %s AND t.player_id BETWEEN %s AND %s "
        "AND p.erased_at IS NULL) q "  # erased on request after the targets were chosen: not called
        "WHERE true ON CONFLICT DO NOTHING"
    )
    params = [
        GOAL_TASK_KIND.get(campaign.goal, TaskKind.OTHER),
        campaign.name[:200],
        campaign.due_date,
        TaskStatus.OPEN,
        TaskStatus.CANCELLED,
        campaign.source,
        campaign.pk,
        campaign.launched_by_id,
        now,
        *rr_params,
        *reason_params,
        *join_params,
        campaign.pk,
        False,
        low,
        high,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        created = cursor.rowcount
    unmanaged = CampaignTarget.objects.filter(
        campaign=campaign, is_holdout=False, player_id__gte=low, player_id__lte=high, player__manager__isnull=True
    ).count()
    return created, unmanaged


def _send_at(campaign, now):
    start = timezone.make_aware(datetime.combine(campaign.start_date, datetime.min.time()))
    return max(now, start)


def _messages_insert(*, campaign, low, high, now, sql_texts: bool = True) -> int:
    """The chunk's messages in one statement (`messaging.messages_insert_select`),
    rendered by the database where it can (PostgreSQL, `sql_texts`), else first in Python."""
    today = timezone.localtime(now).date()
    body = subject = None
    if sql_texts and sql_dialect.renders_texts():
        body = sql_template(campaign.template, today=today, zone=settings.TIME_ZONE)
        subject = sql_template(campaign.subject, today=today, zone=settings.TIME_ZONE)
    rows = (
        f"FROM {CampaignTarget._meta.db_table} t JOIN {Player._meta.db_table} p ON p.id = t.player_id "
        f"{sql_template_joins()} "
    )
    params = []
    if body is None or subject is None:
        texts_sql, params = sql_dialect.values_table(
            "tx", [("player_id", int), ("subject", str), ("body", str)], _texts_python(campaign, low, high, now)
        )
        rows += f"JOIN {texts_sql} ON tx.player_id = t.player_id "
        body, subject = body or ("tx.body", []), subject or ("tx.subject", [])
    rows += "WHERE t.campaign_id = %s AND NOT t.is_holdout AND t.player_id BETWEEN %s AND %s"
    return messages_insert_select(
        rows=(rows, [*params, campaign.pk, low, high]),
        channel=campaign.channel,
        subject=subject,
        body=body,
        send_at=("%s", [_send_at(campaign, now)]),
        source=campaign.source,
        campaign_id=campaign.pk,
        now=now,
    )


def _texts_python(campaign, low, high, now) -> list[tuple[int, str, str]]:
    """(player id, subject, body) of the chunk's players still without a message."""
    players = (
        Player.objects.filter(
            campaign_targets__campaign=campaign, campaign_targets__is_holdout=False, pk__gte=low, pk__lte=high
        )
        .exclude(messages__campaign=campaign)
        .select_related("tier", "manager")
        .order_by("pk")
    )
    needs_context = bool(template_variables(campaign.template) or template_variables(campaign.subject))
    rows = []
    for player in players.iterator(chunk_size=5000):
        if needs_context:
            context = template_context(player=player, now=now)
            body = template_render_context(campaign.template, context)
            subject = template_render_context(campaign.subject, context)
        else:
            body, subject = campaign.template, campaign.subject
        rows.append((player.pk, subject[:200], body))
    return rows


# --- Tasks ---------------------------------------------------------------------

TASK_TEXT_FIELDS = ("script", "note")


def task_texts_check(*, values: dict) -> None:
    """A task's script and note are saved only with every {variable} filled in (a script
    inserted from the library for a player without, say, a tier keeps {tier} for staff to
    complete). Raises a ValidationError naming the field."""
    errors = unresolved_errors(values, TASK_TEXT_FIELDS)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def task_save(*, task: OutreachTask, actor) -> OutreachTask:
    """Create or edit a task by hand (the admin's task form): its texts checked
    (`task_texts_check`), then the model's own rules."""
    task_texts_check(values={name: getattr(task, name) for name in TASK_TEXT_FIELDS})
    if task.player_id:  # a task is the VIP person's: on a linked account, it is the main account's
        task.player = person_of(task.player)
    if task.pk is None and actor is not None and task.created_by_id is None:
        task.created_by = actor
    task.full_clean()
    task.save()
    return task


# --- Outcomes ------------------------------------------------------------------


@transaction.atomic
def task_outcome_record(
    *, task: OutreachTask, outcome: str, actor, note: str = "", now: datetime | None = None
) -> OutreachTask:
    """One click on the worklist: record what came of the call, in the task and the
    contact log. "No answer" keeps the task open for another try; any other outcome
    completes it."""
    now = now or timezone.now()
    if outcome not in TASK_OUTCOMES:
        raise ValidationError({"outcome": [_("Choose one of the listed outcomes.")]})
    task = OutreachTask.objects.select_for_update().select_related("player").get(pk=task.pk)
    if task.status != TaskStatus.OPEN:
        raise ValidationError(_("This task is no longer open."))
    task.outcome = outcome
    note = note.strip()
    if note:
        stamp = timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
        task.note = f"{task.note}\n{stamp} {note}".strip()
    if outcome != ContactOutcome.NO_ANSWER:
        task.status = TaskStatus.DONE
        task.completed_at = now
    task.full_clean()
    task.save()
    contact_log_create(
        player=task.player,
        staff=actor,
        channel=ContactChannel.PHONE,
        contacted_at=now,
        topic=task.title_text[:200],  # in the language of whoever records it
        summary=note,
        outcome=outcome,
        source=f"task:{task.pk}",
    )
    if task.campaign_id:
        _target_contacted(campaign_id=task.campaign_id, player_id=task.player_id, at=now, outcome=outcome)
    return task


def tasks_cancel_erased(*, player_id: int) -> int:
    """The player's personal data was erased on request (players.services.privacy, through
    `campaigns.privacy`): their open tasks of every kind leave the worklists, cancelled
    with the reason (the task's page reads it)."""
    return OutreachTask.objects.filter(player_id=player_id, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, status_reason=MessageReason.ERASED
    )


def _target_contacted(*, campaign_id: int, player_id: int, at: datetime, outcome: str) -> None:
    targets = CampaignTarget.objects.filter(campaign_id=campaign_id, player_id=player_id)
    # The first contact starts the measuring windows; a login before it is not a return.
    targets.filter(contacted_at__isnull=True).update(contacted_at=at, reference_at=at, returned_at=None)
    if outcome in REACHED_OUTCOMES or outcome == ContactOutcome.MESSAGE_SENT:
        targets.filter(reached_at__isnull=True).update(reached_at=at)
    targets.update(outcome=outcome)


# --- Results -------------------------------------------------------------------


def campaign_results_refresh(*, campaign: Campaign) -> None:
    """Bring the targets up to date with what happened since (set-based): messages sent
    count as contact and reach; a login seen within 14 days of the reference time is a
    return. Runs before results are shown and on the beat schedule."""
    campaign.refresh_from_db(fields=["launched_at", "channel"])
    if campaign.launched_at is None:
        return  # nothing drawn yet
    if campaign.is_automatic:
        _targets_sync_messages(campaign=campaign)
    targets_returns_mark(campaign=campaign)


def targets_returns_mark(*, campaign: Campaign, portable: bool = False) -> int:
    """Mark the targets who logged in within RETURN_WINDOW after their reference time as
    returned (at that login); how many. On PostgreSQL one UPDATE ... FROM, elsewhere (or
    with `portable`) the ORM's UPDATE with a subquery: the same rule, and
    `test_results_are_the_same_through_each_database_statement` runs both."""
    # Every reference time is at or after the launch: looking only at players who logged
    # in since then lets PostgreSQL start from the last-login index.
    if sql_dialect.is_postgresql() and not portable:
        sql = (
            f"UPDATE {CampaignTarget._meta.db_table} t SET returned_at = p.last_login_at "
            f"FROM {Player._meta.db_table} p WHERE p.id = t.player_id AND t.campaign_id = %s "
            "AND t.returned_at IS NULL AND p.last_login_at > %s AND p.last_login_at > t.reference_at "
            "AND p.last_login_at <= t.reference_at + %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [campaign.pk, campaign.launched_at, RETURN_WINDOW])
            return cursor.rowcount
    return CampaignTarget.objects.filter(
        Q(player__last_login_at__gt=campaign.launched_at),
        campaign=campaign,
        returned_at__isnull=True,
        player__last_login_at__gt=F("reference_at"),
        player__last_login_at__lte=F("reference_at") + RETURN_WINDOW,
    ).update(returned_at=Subquery(Player.objects.filter(pk=OuterRef("player_id")).values("last_login_at")[:1]))


def _targets_sync_messages(*, campaign: Campaign) -> None:
    sent = Message.objects.filter(campaign=campaign, player_id=OuterRef("player_id"), status=MessageStatus.SENT)
    CampaignTarget.objects.filter(
        campaign=campaign,
        contacted_at__isnull=True,
        player__messages__campaign=campaign,
        player__messages__status="sent",
    ).update(
        contacted_at=Subquery(sent.values("sent_at")[:1]),
        reached_at=Subquery(sent.values("sent_at")[:1]),
        reference_at=Subquery(sent.values("sent_at")[:1]),
        outcome=ContactOutcome.MESSAGE_SENT,
        returned_at=None,
    )


@dataclass
class GroupResult:
    targeted: int = 0
    contacted: int = 0
    reached: int = 0
    returned: int = 0
    paid: int = 0
    revenue: Decimal = Decimal("0.00")

    def rate(self, name: str) -> float | None:
        return getattr(self, name) / self.targeted if self.targeted else None


@dataclass
class Uplift:
    measure: str
    treated_rate: float | None
    holdout_rate: float | None
    difference: float | None  # percentage points
    z: float | None
    p_value: float | None
    verdict: str


@dataclass
class CampaignResults:
    campaign: Campaign
    treated: GroupResult
    holdout: GroupResult
    uplifts: list[Uplift] = field(default_factory=list)

    def rows(self) -> list[list]:
        """Table rows (for the page and the CSV export)."""
        out = [[_("measure"), _("treated"), _("holdout")]]
        for name, label in (
            ("targeted", _("targeted")),
            ("contacted", _("contacted")),
            ("reached", _("reached")),
            ("returned", _("returned (login within 14 days)")),
            ("paid", _("paid (within 30 days)")),
            ("revenue", _("revenue")),
        ):
            out.append([label, getattr(self.treated, name), getattr(self.holdout, name)])
        return out


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """(z, two-sided p) for H0: p1 == p2, with the pooled standard error."""
    if not n1 or not n2:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def uplift_verdict(*, measure_label: str, treated: GroupResult, holdout: GroupResult, measure: str) -> Uplift:
    x1, n1 = getattr(treated, measure), treated.targeted
    x2, n2 = getattr(holdout, measure), holdout.targeted
    z, p = two_proportion_z_test(x1, n1, x2, n2)
    r1, r2 = treated.rate(measure), holdout.rate(measure)
    diff = (r1 - r2) * 100 if r1 is not None and r2 is not None else None
    params = {
        "measure": measure_label,
        "treated": f"{(r1 or 0) * 100:.1f}",
        "holdout": f"{(r2 or 0) * 100:.1f}",
        "diff": f"{abs(diff or 0):.1f}",
        "p": f"{p:.3f}" if p is not None else "-",
    }
    pooled = (x1 + x2) / (n1 + n2) if n1 and n2 else 0
    if not n1 or not n2 or min(n1, n2) * min(pooled, 1 - pooled) < 5:
        verdict = (
            _(
                "Too few players (or events) in one of the groups to tell whether the campaign changed how many %(measure)s."
            )
            % params
        )
    elif p < 0.05 and diff > 0:
        verdict = (
            _(
                "The campaign worked: %(treated)s %% %(measure)s against %(holdout)s %% in the holdout, "
                "%(diff)s points more (p = %(p)s); a difference this large is unlikely to be chance."
            )
            % params
        )
    elif p < 0.05:
        verdict = (
            _(
                "The campaign did worse than doing nothing: %(treated)s %% %(measure)s against %(holdout)s %% "
                "in the holdout, %(diff)s points fewer (p = %(p)s)."
            )
            % params
        )
    else:
        verdict = (
            _(
                "No clear effect yet: %(treated)s %% %(measure)s against %(holdout)s %% in the holdout (p = %(p)s); "
                "the difference could be chance."
            )
            % params
        )
    return Uplift(measure, r1, r2, diff, z, p, verdict)


def campaign_results(*, campaign: Campaign, refresh: bool = True) -> CampaignResults:
    """Targeted, contacted, reached, returned, paid and revenue for the treated group and
    the holdout, with the uplift of returns and payments (two-proportion z-test)."""
    if refresh:
        campaign_results_refresh(campaign=campaign)
    else:
        campaign.refresh_from_db(fields=["launched_at", "channel"])
    groups = {False: GroupResult(), True: GroupResult()}
    for row in (
        CampaignTarget.objects.filter(campaign=campaign)
        .values("is_holdout")
        .annotate(
            targeted=Count("id"),
            contacted=Count("contacted_at"),
            reached=Count("reached_at"),
            returned=Count("returned_at"),
        )
        .order_by()
    ):
        group = groups[bool(row["is_holdout"])]
        group.targeted, group.contacted = row["targeted"], row["contacted"]
        group.reached, group.returned = row["reached"], row["returned"]
    for is_holdout, paid, revenue in payments_by_group(campaign=campaign):
        group = groups[bool(is_holdout)]
        group.paid = paid
        group.revenue = Decimal(revenue or 0).quantize(Decimal("0.01"))
    treated, holdout = groups[False], groups[True]
    uplifts = [
        uplift_verdict(measure_label=_("returned"), treated=treated, holdout=holdout, measure="returned"),
        uplift_verdict(measure_label=_("paid"), treated=treated, holdout=holdout, measure="paid"),
    ]
    return CampaignResults(campaign=campaign, treated=treated, holdout=holdout, uplifts=uplifts)


def payments_by_group(*, campaign: Campaign, portable: bool = False) -> list[tuple]:
    """(is_holdout, players who paid, revenue) from the ledger, within the pay window of
    each target's reference time. On PostgreSQL one statement, elsewhere (or with
    `portable`) the ORM's: the same rule, run both by the parity test."""
    if sql_dialect.is_postgresql() and not portable:
        # Straight from targets to the ledger by player id (the ORM would join players too).
        sql = (
            "SELECT t.is_holdout, COUNT(DISTINCT t.player_id) FILTER (WHERE p.kind = %s), "
            "SUM(CASE WHEN p.kind = %s THEN p.amount_base ELSE -p.amount_base END) "
            f"FROM {CampaignTarget._meta.db_table} t JOIN {Payment._meta.db_table} p ON p.player_id = t.player_id "
            "AND p.occurred_at > t.reference_at AND p.occurred_at <= t.reference_at + %s "
            # Every reference time is at or after the launch: a constant bound the planner can use.
            "AND p.occurred_at > %s "
            "WHERE t.campaign_id = %s GROUP BY t.is_holdout"
        )
        params = [PaymentKind.PURCHASE, PaymentKind.PURCHASE, PAY_WINDOW, campaign.launched_at, campaign.pk]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    signed = Case(
        When(player__payments__kind=PaymentKind.PURCHASE, then=F("player__payments__amount_base")),
        default=-F("player__payments__amount_base"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    return list(
        CampaignTarget.objects.filter(
            Q(player__payments__occurred_at__gt=campaign.launched_at),
            campaign=campaign,
            player__payments__occurred_at__gt=F("reference_at"),
            player__payments__occurred_at__lte=F("reference_at") + PAY_WINDOW,
        )
        .values("is_holdout")
        .annotate(
            paid=Count("player_id", distinct=True, filter=Q(player__payments__kind=PaymentKind.PURCHASE)),
            revenue=Sum(signed, default=Value(Decimal("0"))),
        )
        .order_by()
        .values_list("is_holdout", "paid", "revenue")
    )


def campaigns_results_refresh_active(*, now: datetime | None = None) -> int:
    """Refresh every campaign still inside its measuring window (beat task)."""
    now = now or timezone.now()
    active = Campaign.objects.filter(
        status__in=[CampaignStatus.LAUNCHED, CampaignStatus.LAUNCHING],
        launched_at__gte=now - timedelta(days=120),
    )
    count = 0
    for campaign in active:
        campaign_results_refresh(campaign=campaign)
        count += 1
    return count


__all__ = [
    "CampaignChannel",
    "campaign_launch",
    "campaign_results",
    "campaign_results_refresh",
    "campaign_save",
    "holdout_bucket",
    "task_outcome_record",
    "two_proportion_z_test",
]
