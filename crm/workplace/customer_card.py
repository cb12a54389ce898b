"""The customer card: what a VIP manager needs to know about a player before calling,
at the top of the player page (then the quick actions, then the timeline).

Every figure comes from the rule that owns it: tier progress from vip.selectors, spend
from the ledger's net-spend rule, the open follow-up from players' follow-up rule, the
payer status and its reasons from the churn figures, personal data through crm.privacy.
A handful of small queries, each through a per-player index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.calendar import lunar_birthday_dates, lunar_day_label, lunar_month_day_label
from crm.formatting import money, when
from crm.names import staff_name
from crm.privacy import can_view_personal_data, mask_date, masked
from players.models import OPEN_STATUSES, Case, ConsentPurpose, ContactLog, MinorSpendFlag, PayerStatus
from players.models.payer_status import ChurnReason, PlayerChurn
from players.selectors import player_net_spend_since
from players.selectors.consents import consent_overview
from players.selectors.persons import person_accounts_of, person_of
from players.selectors.service_records import player_next_follow_up
from vip.selectors import tier_progress

from .registry import admin_url


@dataclass
class CustomerCard:
    tier_name: str
    tier_colour: str
    pinned_until: datetime | None
    spend_month: str
    spend_lifetime: str
    payments_url: str
    progress: list[str]  # "¥400.00 to reach V6", "¥120.00 to keep V5 (rolling 30 days)"
    status: str
    status_code: str
    reasons: list[str]
    manager: str
    preferred_channel: str
    phone: str
    birthday: str  # the date of birth, masked without the personal-data permission
    lunar_birthday: str  # a lunar birthday as people write it, with the day(s) it falls on this year
    next_follow_up: date | None
    follow_up_overdue: bool
    open_cases: int
    cases_overdue: bool
    cases_url: str
    last_contact_at: datetime | None
    last_contact: str
    # Game-owned facts: shown, never edited by staff.
    facts: list[tuple[str, str]] = field(default_factory=list)
    # Minors (by the date of birth): what it means, and their payments over the NPPA caps
    # not reviewed yet (the supervisors' queue).
    minor: str = ""
    minor_flags: int = 0
    minor_flags_url: str = ""
    # Marketing reach per channel: (channel, whether it may be used, the consent in words).
    consents: list[tuple[str, bool, str]] = field(default_factory=list)
    # The player as a WeCom customer: who serves them there and their tags, or why not.
    wecom: str = ""
    wecom_linked: bool = False
    wecom_url: str = ""
    # The VIP person's game accounts (empty for a person of one account), the main one first,
    # and what they spent together.
    accounts: list[LinkedAccount] = field(default_factory=list)
    spend_person: str = ""


@dataclass(frozen=True)
class LinkedAccount:
    account_id: str
    server: str
    nickname: str
    tier: str
    spend: str
    is_main: bool
    is_this: bool
    url: str


def _linked_accounts(player) -> tuple[list[LinkedAccount], str]:
    accounts = person_accounts_of(player)
    if len(accounts) < 2:
        return [], ""
    rows = [
        LinkedAccount(
            account_id=str(_("(personal data erased)")) if account.erased_at else str(account.account_id),
            server=account.server or "–",
            nickname=account.nickname or "–",
            tier=account.tier.name if account.tier else "–",
            spend=money(account.total_spend),
            is_main=account.person_account_id is None,
            is_this=account.pk == player.pk,
            url=admin_url("players_player_change", account.pk),
        )
        for account in accounts
    ]
    return rows, money(sum((a.total_spend for a in accounts), Decimal(0)))


def customer_card(*, player, user, now: datetime | None = None) -> CustomerCard:
    now = now or timezone.now()
    today = timezone.localdate(now)
    month_start = timezone.make_aware(datetime(today.year, today.month, 1))

    progress = tier_progress(player=player, now=now)
    steps = []
    if progress.to_keep:
        steps.append(
            _("%(amount)s to keep %(tier)s (spend of the last %(days)d days)")
            % {"amount": money(progress.to_keep), "tier": progress.tier, "days": progress.tier.window_days}
        )
    if progress.next_tier and progress.to_next is not None:
        steps.append(
            _("%(amount)s to reach %(tier)s") % {"amount": money(progress.to_next), "tier": progress.next_tier}
        )

    reasons = []
    if player.payer_status == PayerStatus.AT_RISK:
        churn = PlayerChurn.objects.filter(player=player).first()
        if churn:
            labels = dict(ChurnReason.choices)
            reasons = [str(labels[code]) for code in churn.reasons]
    elif player.payer_status == PayerStatus.CHURNED and player.last_paid_at:
        days = (now - player.last_paid_at).days
        reasons = [_("no purchase for %(days)d days") % {"days": days}]

    # What belongs to the VIP person (contacts, cases, consents, personal data, the manager)
    # is read from their main account; the game's facts and the money from this account.
    person = person_of(player)
    follow_up = player_next_follow_up(player=person)
    cases = Case.objects.filter(player=person, status__in=OPEN_STATUSES).aggregate(n=Count("pk"), due=Min("sla_due_at"))
    last = ContactLog.objects.filter(player=person).select_related("staff").order_by("-contacted_at", "-pk").first()

    minor = ""
    if person.is_child:
        minor = _("Minor under 14: no marketing; personal information is sensitive (guardian's consent)")
    elif person.is_minor:
        minor = _("Minor: no marketing")
    minor_flags = MinorSpendFlag.objects.filter(player=player, reviewed_at__isnull=True).count()
    consents = [
        (
            str(row["channel_label"]),
            row["live"] and not person.is_minor,
            str(row["consent"].get_status_display())
            if row["consent"]
            else (_("no record: needs consent") if row["opt_in"] else _("no record: allowed")),
        )
        for row in consent_overview(person)
        if row["purpose"] == ConsentPurpose.MARKETING
    ]

    phone = ""
    if person.phone:
        phone = person.phone.as_national if can_view_personal_data(user) else masked("phone", person.phone)

    birthday, lunar_birthday = _birthday(person, user, today)
    accounts, spend_person = _linked_accounts(player)

    return CustomerCard(
        tier_name=player.tier.name if player.tier else "",
        tier_colour=player.tier.colour if player.tier else "",
        pinned_until=progress.pinned_until,
        spend_month=money(player_net_spend_since(player=player, since=month_start)),
        spend_lifetime=money(player.total_spend),
        payments_url=admin_url("players_payment_changelist", player__id__exact=player.pk)
        if user.has_perm("players.view_payment")
        else "",
        progress=steps,
        status=str(player.get_payer_status_display()),
        status_code=player.payer_status,
        reasons=reasons,
        manager=staff_name(person.manager) or _("(nobody)"),
        preferred_channel=str(person.get_preferred_channel_display()) if person.preferred_channel else "–",
        phone=phone or "–",
        birthday=birthday,
        lunar_birthday=lunar_birthday,
        next_follow_up=follow_up.next_follow_up if follow_up else None,
        follow_up_overdue=bool(follow_up and follow_up.next_follow_up < today),
        open_cases=cases["n"],
        cases_overdue=bool(cases["due"] and cases["due"] < now),
        cases_url=admin_url("players_case_changelist", player__id__exact=person.pk)
        if user.has_perm("players.view_case")
        else "",
        last_contact_at=last.contacted_at if last else None,
        last_contact=" · ".join(
            x for x in ((str(last.get_channel_display()), staff_name(last.staff)) if last else ()) if x
        ),
        facts=[
            (_("server"), player.server or "–"),
            (_("channel"), player.channel or "–"),
            (_("game level"), str(player.level)),
            (_("registered at"), when(player.registered_at)),
            (_("last login"), when(player.last_login_at)),
        ],
        minor=minor,
        minor_flags=minor_flags,
        minor_flags_url=admin_url("players_minorspendflag_changelist", player__id__exact=player.pk)
        if user.has_perm("players.view_minorspendflag")
        else "",
        consents=consents,
        accounts=accounts,
        spend_person=spend_person,
        **_wecom(person, user),
    )


def _wecom(player, user) -> dict:
    """The WeCom link: "王芳 · 高价值, 月卡" (the serving member, the customer's tags), or
    why there is none; a link to the customer's record for staff who may see it."""
    from campaigns.models import WecomContact

    contact = WecomContact.objects.filter(player=player).select_related("member__user").first()
    if contact is None:
        return {"wecom": _("not a WeCom customer (not linked)")}
    tags = ", ".join(contact.tags.filter(deleted=False).values_list("name", flat=True))
    member = staff_name(contact.member.user) if contact.member else _("no member serves them now")
    return {
        "wecom": _("served by %(member)s") % {"member": member} + (f" · {tags}" if tags else ""),
        "wecom_linked": contact.member_id is not None,
        "wecom_url": admin_url("campaigns_wecomcontact_change", contact.pk)
        if user.has_perm("campaigns.view_wecomcontact")
        else "",
    }


def _birthday(player, user, today: date) -> tuple[str, str]:
    """The date of birth and, for a lunar birthday, its lunar date and the solar day(s)
    it falls on this year: ("1978-09-15", "农历八月十三（今年：2026-09-24）"). Masked, and
    no lunar date (it would tell the birthday), without the personal-data permission."""
    if not player.birthday:
        return "–", ""
    if not can_view_personal_data(user):
        return mask_date(player.birthday), ""
    if not player.birthday_is_lunar:
        return player.birthday.isoformat(), ""
    born, this_year = lunar_birthday_dates(player.birthday, today.year)
    if born is None:  # outside the calendar's range: greeted on the solar date
        return player.birthday.isoformat(), ""
    label = lunar_day_label(born)
    if born.is_leap_month:  # greeted in the regular month of that number (crm.calendar rule 3)
        label = f"{label} → {lunar_month_day_label(born.month, born.day)}"
    dates = ", ".join(day.isoformat() for day in this_year)
    return player.birthday.isoformat(), _("%(lunar)s (this year: %(dates)s)") % {"lunar": label, "dates": dates}
