"""Reads for greetings: what is coming up for a user's players, and what the CRM will do."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from crm.calendar import birthday_keys_on, days, festival_is_lunar, lunar_day_label, lunar_of, solar_keys_on
from crm.formatting import money
from crm.names import staff_name
from crm.privacy import can_view_personal_data
from players.models import Player
from players.selectors import player_scope_q

from .models import (
    GiftKind,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    GreetingStatus,
    MessageChannel,
    MessageStatus,
    TaskStatus,
)
from .services.greetings import _registration_md, occasion_label, rule_occasion_dates, rule_segment_q

UPCOMING_DAYS = 30
UPCOMING_LIMIT = 500
WAITING_MESSAGE = (MessageStatus.QUEUED, MessageStatus.POSTPONED)


@dataclass
class UpcomingGreeting:
    day: date
    rule: GreetingRule
    player: Player
    occasion: str
    plan: list[str] = field(default_factory=list)
    greeting: Greeting | None = None

    @property
    def state(self) -> str:
        """Planned (the job has not reached it), scheduled (its task or message is created
        but the day, the call or the sending is still to come), greeted, or skipped."""
        if self.greeting is None:
            return _("planned")
        greeting = self.greeting
        waiting_message = greeting.message_id and greeting.message.status in WAITING_MESSAGE
        call_made = greeting.task_id and greeting.task.status == TaskStatus.DONE
        if greeting.status == GreetingStatus.DONE and (
            (self.day > timezone.localdate() and not call_made) or waiting_message
        ):
            return _("scheduled")
        return greeting.get_status_display()

    @property
    def lunar_date(self) -> str:
        """For an occasion kept by the lunar calendar (a lunar birthday, a lunar festival
        such as 除夕, a lunar custom date), the lunar date it falls on (农历十一月初七)."""
        rule = self.rule
        if rule.occasion == GreetingOccasion.BIRTHDAY:
            is_lunar = self.player.birthday_is_lunar
        elif rule.occasion == GreetingOccasion.FESTIVAL:
            is_lunar = festival_is_lunar(rule.festival)
        elif rule.occasion == GreetingOccasion.CUSTOM_DATE:
            is_lunar = rule.custom_occasion.is_lunar
        else:
            is_lunar = False
        lunar = lunar_of(self.day) if is_lunar else None
        return lunar_day_label(lunar) if lunar else ""


@dataclass
class Upcoming:
    rows: list[UpcomingGreeting]
    more: int  # rows left out beyond the limit
    birthdays_hidden: bool  # the user may not see birthdays


def rule_plan(
    rule: GreetingRule, day: date, player: Player, *, greeting: Greeting | None = None, today: date | None = None
) -> list[str]:
    """What the CRM will do (or did) for this player on this occasion, in words: once the
    job has created the call task, what became of it (due when, done, cancelled); before,
    the day the job will create it (today, for an occasion it catches up)."""
    plan = []
    task = greeting.task if greeting is not None and greeting.task_id else None
    if task is not None:
        who = staff_name(task.assignee) if task.assignee_id else _("nobody (no manager)")
        if task.status == TaskStatus.DONE:
            done_on = timezone.localdate(task.completed_at) if task.completed_at else task.due_date
            plan.append(_("Call task for %(who)s: done on %(date)s") % {"who": who, "date": done_on.isoformat()})
        elif task.status == TaskStatus.CANCELLED:
            plan.append(_("Call task for %(who)s: cancelled") % {"who": who})
        else:
            plan.append(_("Call task for %(who)s, due %(date)s") % {"who": who, "date": task.due_date.isoformat()})
    elif rule.task_lead_days is not None:
        who = staff_name(player.manager) if player.manager_id else _("nobody (no manager)")
        created_on = day - timedelta(days=rule.task_lead_days)
        if today is not None:
            created_on = max(created_on, today)  # the job catches up a missed day today
        plan.append(_("Call task for %(who)s on %(date)s") % {"who": who, "date": created_on.isoformat()})
    if rule.message_channel:
        plan.append(
            _("%(channel)s on %(date)s at %(time)s player time")
            % {
                "channel": MessageChannel(rule.message_channel).label,
                "date": day.isoformat(),
                "time": time_format(rule.send_time, "H:i"),
            }
        )
    if rule.gift_kind:
        what = rule.gift_item if rule.gift_kind != GiftKind.VALUE else GiftKind(rule.gift_kind).label
        plan.append(_("Gift: %(what)s (%(value)s)") % {"what": what, "value": money(rule.gift_value)})
    return plan


def _day_map(start: date, end: date, keys_of) -> dict[int, list[date]]:
    found = defaultdict(list)
    for day in days(start, end):
        for key in keys_of(day):
            found[key].append(day)
    return found


def greetings_upcoming(*, user, start: date, span_days: int = UPCOMING_DAYS, limit: int = UPCOMING_LIMIT) -> Upcoming:
    """Birthdays, anniversaries, festivals and custom dates of the user's players in
    the next `span_days` days that an active rule greets, with the plan for each and
    its greeting when one exists (done or skipped). Birthdays and anniversaries are
    found through the birthday index; a user without players.view_personal_data
    does not see birthday rows (they would reveal the birthday)."""
    end = start + timedelta(days=span_days - 1)
    scope = player_scope_q(user)
    show_birthdays = can_view_personal_data(user)
    rules = list(
        GreetingRule.objects.filter(is_active=True)
        .select_related("tier_min", "tier_max", "custom_occasion")
        .prefetch_related("tags")
        .order_by("pk")
    )
    visible = Player.objects.filter(scope).select_related("manager", "tier")
    solar_days = _day_map(start, end, lambda d: birthday_keys_on(d)[0])
    lunar_days = _day_map(start, end, lambda d: birthday_keys_on(d)[1])
    anniversary_days = _day_map(start, end, solar_keys_on)

    rows: list[UpcomingGreeting] = []
    for rule in rules:
        label = occasion_label(rule)
        players = visible.filter(rule_segment_q(rule))
        if rule.occasion == GreetingOccasion.BIRTHDAY:
            if not show_birthdays:
                continue
            found = players.filter(
                Q(birthday_is_lunar=False, birthday_md__in=list(solar_days))
                | Q(birthday_is_lunar=True, birthday_md__in=list(lunar_days)),
                birthday__isnull=False,
            )
            for player in found:
                for day in (lunar_days if player.birthday_is_lunar else solar_days)[player.birthday_md]:
                    if player.birthday < day:
                        rows.append(UpcomingGreeting(day, rule, player, label))
        elif rule.occasion == GreetingOccasion.REGISTRATION_ANNIVERSARY:
            found = _registration_md(players.filter(registered_at__isnull=False)).filter(
                registered_md__in=list(anniversary_days)
            )
            for player in found:
                for day in anniversary_days[player.registered_md]:
                    if player.registered_year < day.year:
                        rows.append(UpcomingGreeting(day, rule, player, label))
        else:
            dates = rule_occasion_dates(rule, start, end)
            if dates:
                for player in players:
                    rows.extend(UpcomingGreeting(d, rule, player, label) for d in dates)

    rows.sort(key=lambda r: (r.day, r.rule.pk, r.player.pk))
    more = max(len(rows) - limit, 0)
    rows = rows[:limit]
    if rows:
        existing = {
            (g.rule_id, g.player_id, g.occasion_date): g
            for g in Greeting.objects.filter(
                occasion_date__range=(start, end), player_id__in={r.player.pk for r in rows}
            ).select_related("actor", "message", "task__assignee")
        }
        for row in rows:
            row.greeting = existing.get((row.rule.pk, row.player.pk, row.day))
            row.plan = rule_plan(row.rule, row.day, row.player, greeting=row.greeting, today=start)
    return Upcoming(rows=rows, more=more, birthdays_hidden=not show_birthdays)
