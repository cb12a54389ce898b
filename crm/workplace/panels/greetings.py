"""Greetings (crm.calendar): my players' birthdays, solar and lunar, and the
festivals of this week (the traditional ones, and any solar term an active greeting
rule greets on), the working calendar's holidays, 调休 and company days off, the days
no marketing goes out, birthdays found through the birthday index (Player.birthday_md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Q
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from campaigns.models import GreetingOccasion, GreetingRule
from campaigns.services.messaging import no_send_days
from crm.calendar import TRADITIONAL_FESTIVALS, Festival, birthday_keys_on, festival_choice_label, festivals_between
from crm.privacy import can_view_personal_data
from crm.workdays import DayKind, days_between
from players.models import Player

from ..registry import MY_DAY, PANEL_ROWS, PanelContent, PanelRequest, Row, admin_url, panel

WEEK = 7
BIRTHDAY_CAP = 50


def _runs(days: list) -> list[list]:
    """Consecutive dates grouped: [d1, d2, d4] -> [[d1, d2], [d4]]."""
    runs: list[list] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def birthdays_in(user, days) -> list[tuple]:
    """(day, player) for the user's players whose birthday (on its own calendar) falls
    on one of `days`, by day."""
    solar, lunar = defaultdict(list), defaultdict(list)
    for day in days:
        solar_keys, lunar_keys = birthday_keys_on(day)
        for key in solar_keys:
            solar[key].append(day)
        for key in lunar_keys:
            lunar[key].append(day)
    players = Player.objects.filter(manager=user, birthday__isnull=False).filter(
        Q(birthday_is_lunar=False, birthday_md__in=list(solar)) | Q(birthday_is_lunar=True, birthday_md__in=list(lunar))
    )
    found = []
    for player in players.only("pk", "nickname", "account_id", "birthday", "birthday_is_lunar", "birthday_md")[
        :BIRTHDAY_CAP
    ]:
        for day in (lunar if player.birthday_is_lunar else solar)[player.birthday_md]:
            found.append((day, player))
    return sorted(found, key=lambda item: (item[0], item[1].pk))


@panel(
    "birthdays",
    title=_("Birthdays and festivals this week"),
    audience=MY_DAY,
    order=40,
    permissions=["players.view_player"],
)
def birthdays_and_festivals(ctx: PanelRequest) -> PanelContent:
    days = [ctx.today + timedelta(days=n) for n in range(WEEK)]
    greeted = GreetingRule.objects.filter(is_active=True, occasion=GreetingOccasion.FESTIVAL).values_list(
        "festival", flat=True
    )
    festivals = [
        *TRADITIONAL_FESTIVALS,
        *(f for f in set(greeted) if f in Festival.values and f not in TRADITIONAL_FESTIVALS),
    ]

    def meta(day):
        return str(_("today")) if day == ctx.today else date_format(day, "m-d D")

    dated = [
        (
            day,
            Row(
                text=str(festival_choice_label(festival)),
                meta=meta(day),
                tone="good" if day == ctx.today else "",
                badge=str(_("Festival")),
                badge_colour="#c62828",
            ),
        )
        for day, festival in festivals_between(days[0], days[-1], festivals)
    ]
    # The working calendar (crm.workdays): holidays, make-up working days (调休) and company
    # days off; a run of days of one kind is one row ("02-15 – 02-23").
    runs: list[list] = []
    for info in days_between(days[0], days[-1]):
        if info.kind in (DayKind.WORKDAY, DayKind.WEEKEND):
            continue
        if runs and runs[-1][-1].kind == info.kind and (info.day - runs[-1][-1].day).days == 1:
            runs[-1].append(info)
        else:
            runs.append([info])
    for run in runs:
        first, last = run[0], run[-1]
        names = list(dict.fromkeys(info.name for info in run if info.name))
        dated.append(
            (
                first.day,
                Row(
                    text=" · ".join(names[:2]) or first.label,
                    meta=meta(first.day) if first is last else f"{meta(first.day)} – {meta(last.day)}",
                    badge=first.label,
                    badge_colour="#2e7d32" if first.working else "#6d4c41",
                ),
            )
        )
    # No marketing goes out on these days (campaigns.NoSendDay: dates, and statutory holidays'
    # breaks); greetings too only on those that hold them.
    no_send = no_send_days(days[0], days[-1])
    greetings_held = no_send_days(days[0], days[-1], greeting=True) if no_send else {}
    held_runs = _runs(sorted(day for day in no_send if day in greetings_held))
    going_runs = _runs(sorted(day for day in no_send if day not in greetings_held))
    for run in held_runs + going_runs:
        first, last = run[0], run[-1]
        why = list(dict.fromkeys(no_send[day] for day in run))
        if run[0] not in greetings_held:
            why.append(str(_("greetings still go out")))
        dated.append(
            (
                first,
                Row(
                    text=" · ".join(why),
                    meta=meta(first) if first == last else f"{meta(first)} – {meta(last)}",
                    badge=str(_("No-sending day")),
                    badge_colour="#455a64",
                ),
            )
        )
    rows = [row for _day, row in sorted(dated, key=lambda item: item[0])]
    birthdays = birthdays_in(ctx.user, days) if can_view_personal_data(ctx.user) else []
    for day, player in birthdays[: max(PANEL_ROWS - len(rows), 0)]:
        rows.append(
            Row(
                text=player.nickname or player.account_id,
                url=admin_url("players_player_change", player.pk),
                meta=str(_("today")) if day == ctx.today else date_format(day, "m-d"),
                tone="good" if day == ctx.today else "",
                badge=str(_("lunar")) if player.birthday_is_lunar else "",
                badge_colour="#8e24aa",
            )
        )
    return PanelContent(
        rows=rows,
        count=len(birthdays),
        more_url=admin_url("campaigns_greeting_upcoming"),
        empty=_("No birthdays or festivals this week."),
    )
