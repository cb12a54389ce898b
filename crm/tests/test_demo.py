"""`manage.py seed_demo`: the product's story on the day it is run, consistent, and idempotent."""

from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import models, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from campaigns.greeting_selectors import greetings_upcoming
from campaigns.models import (
    Campaign,
    CampaignStatus,
    GiftBudget,
    GiftEntry,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    OutreachTask,
    TaskStatus,
)
from crm.workplace.aggregates import dashboard_snapshot
from players.models import ContactLog, PayerStatus, Payment, Player
from players.models.payer_status import PayerStatusChange
from players.models.service_records import Case, CaseStatus, FeedbackTopic
from players.services import players_totals_rebuild
from vip.models import ManagerAssignment, TierChange

# Times that are plans, not events: they may lie ahead.
PLANNED = {"sla_due_at", "first_response_due_at", "head_escalation_at", "scheduled_for", "tier_pinned_until"}
PLAYERS = 300


def _counts():
    return (
        Player.objects.count(),
        Payment.objects.count(),
        TierChange.objects.count(),
        ManagerAssignment.objects.count(),
        ContactLog.objects.count(),
        Case.objects.count(),
        get_user_model().objects.count(),
    )


@pytest.fixture(scope="module")
def seeded_once(django_db_setup, django_db_blocker):
    """Seeded once for the module (a minute's work), inside a transaction rolled back at
    its end; each test runs in its own savepoint within it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = StringIO()
            call_command("seed_demo", players=PLAYERS, stdout=out)
            # read now: every test starts with an empty cache (root conftest)
            yield SimpleNamespace(output=out.getvalue(), dashboard=dashboard_snapshot(compute_if_missing=False))
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def seeded(seeded_once, db):
    return seeded_once.output


def test_seed_demo_twice_adds_nothing_the_second_time_and_prints_logins(seeded):
    after_first = _counts()
    second = StringIO()
    call_command("seed_demo", players=PLAYERS, stdout=second)

    assert _counts() == after_first
    assert f"Loaded {PLAYERS} players" in seeded
    assert "nothing added" in second.getvalue()
    for login in ("admin", "manager_li", "supervisor", "operations"):
        assert login in second.getvalue()


def test_payers_have_a_believable_history_of_statuses(seeded):
    payers = Player.objects.exclude(payer_status=PayerStatus.NON_PAYER)
    shares = {
        row["payer_status"]: row["n"] / payers.count() for row in payers.values("payer_status").annotate(n=Count("pk"))
    }
    recovered = (
        PayerStatusChange.objects.filter(from_status=PayerStatus.CHURNED, to_status=PayerStatus.ACTIVE)
        .values("player")
        .distinct()
        .count()
    )

    assert 0.35 <= shares[PayerStatus.ACTIVE] <= 0.70
    assert 0.08 <= shares[PayerStatus.AT_RISK] <= 0.30
    assert 0.15 <= shares[PayerStatus.CHURNED] <= 0.45
    assert 0.02 <= recovered / payers.count() <= 0.20
    # the history spans months, not one moment
    span = PayerStatusChange.objects.aggregate(first=models.Min("changed_at"), last=Max("changed_at"))
    assert (span["last"] - span["first"]).days >= 90
    assert players_totals_rebuild() == []  # totals equal the ledger


def test_nightly_after_seeding_changes_almost_nobody(seeded):
    payers = Player.objects.exclude(payer_status=PayerStatus.NON_PAYER).count()
    churned_before = Player.objects.filter(payer_status=PayerStatus.CHURNED).count()
    changes_before = PayerStatusChange.objects.count()

    call_command("nightly", stdout=StringIO())

    assert PayerStatusChange.objects.count() - changes_before <= payers * 0.05
    assert Player.objects.filter(payer_status=PayerStatus.CHURNED).count() - churned_before <= payers * 0.02


def test_every_area_has_the_days_work(seeded, seeded_once):
    today = timezone.localdate()
    managers = get_user_model().objects.filter(groups__name="VIP manager")

    assert Player.objects.filter(manager__isnull=False).values("manager").distinct().count() == 4
    assert ContactLog.objects.filter(next_follow_up=today).values("staff").distinct().count() >= 2
    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    assert Case.objects.filter(status=CaseStatus.WAITING).exists()
    assert Case.objects.filter(
        status__in=[CaseStatus.NEW, CaseStatus.IN_PROGRESS], sla_due_at__lt=timezone.now()
    ).exists()  # overdue
    campaigns = dict(Campaign.objects.values_list("status").annotate(n=Count("pk")))
    assert campaigns.get(CampaignStatus.DRAFT) and campaigns.get(CampaignStatus.LAUNCHED, 0) >= 2
    finished = Campaign.objects.get(status=CampaignStatus.LAUNCHED, due_date__lt=today)
    assert finished.targets.filter(contacted_at__isnull=False).exists()
    running = Campaign.objects.get(status=CampaignStatus.LAUNCHED, due_date__gte=today)
    assert OutreachTask.objects.filter(campaign=running, status=TaskStatus.OPEN).exists()
    assert OutreachTask.objects.filter(campaign=running, status=TaskStatus.DONE).exists()
    with_open_tasks = (
        OutreachTask.objects.filter(status=TaskStatus.OPEN, assignee__in=managers)
        .order_by()
        .values("assignee")
        .distinct()
    )
    assert with_open_tasks.count() == managers.count()
    assert GreetingRule.objects.filter(is_active=True).count() >= 2
    assert Greeting.objects.exists()
    admin = get_user_model().objects.get(username="admin")
    coming = greetings_upcoming(user=admin, start=today, span_days=7).rows
    birthdays = [row.player for row in coming if row.rule.occasion == GreetingOccasion.BIRTHDAY]
    assert len(birthdays) >= 4 and any(p.birthday_is_lunar for p in birthdays)
    assert GiftEntry.objects.exists()
    month = today.replace(day=1)
    over = [
        b
        for b in GiftBudget.objects.all()
        if (GiftEntry.objects.filter(tier=b.tier, month=month).aggregate(s=Sum("value"))["s"] or 0) > b.monthly_amount
    ]
    assert over and GiftBudget.objects.count() > len(over)  # one tier over its budget, the others within
    assert FeedbackTopic.objects.filter(report_count__gte=5).count() >= 3
    assert seeded_once.dashboard  # computed by the seed, not on first view
    from players.models import DataRequest

    requests = set(DataRequest.objects.values_list("kind", "status"))
    assert requests == {
        ("copy", "done"),
        ("erasure", "done"),
        ("erasure", "pending"),
    }  # a copy, an erasure, one waiting
    assert Player.objects.filter(erased_at__isnull=False, real_name="", phone="").count() == 1


def test_the_service_desk_has_its_days_work(seeded):
    from crm.models import CompanyDayOff
    from players.models import CallScript, CompensationProposal, ProposalStatus, SatisfactionSurvey, SlaPolicy

    assert CompanyDayOff.objects.filter(day__gte=timezone.localdate()).exists()
    assert SlaPolicy.objects.filter(clock="working_hours").exists()
    assert set(CallScript.objects.values_list("category", flat=True)) >= {
        "return_visit",
        "complaint",
        "greeting_call",
        "win_back",
        "inbound_faq",
    }
    assert CallScript.objects.filter(usage_count__gt=0).exists()
    statuses = set(CompensationProposal.objects.values_list("status", flat=True))
    assert {ProposalStatus.PENDING, ProposalStatus.REFUSED} <= statuses
    surveys = set(SatisfactionSurvey.objects.values_list("status", flat=True))
    assert {"answered", "sent"} <= surveys
    assert SatisfactionSurvey.objects.filter(score__lte=2).exists()
    assert Case.objects.filter(first_responded_at__isnull=False).exists()


def test_nothing_is_dated_in_the_future(seeded):
    now = timezone.now()
    late = []
    for model in apps.get_models():
        if model._meta.app_label not in ("players", "vip", "campaigns", "crm") or model._meta.proxy:
            continue
        for field in model._meta.get_fields():
            if isinstance(field, models.DateTimeField) and field.name not in PLANNED:
                newest = model.objects.aggregate(m=Max(field.name))["m"]
                if newest and newest > now:
                    late.append(f"{model.__name__}.{field.name} = {newest}")
    assert not late
    assert not Payment.objects.filter(Q(occurred_at__gt=now)).exists()


def test_names_are_chinese_family_name_first(seeded):
    staff = get_user_model().objects.filter(username__startswith="manager_")
    assert all(len(u.last_name) == 1 and "\u4e00" <= u.last_name <= "\u9fff" for u in staff)
    nicknames = list(Player.objects.values_list("nickname", flat=True)[:200])
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in nicknames) >= 190
