import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from players.models import PaymentSource, Player
from players.services import payment_record

_ids = itertools.count(1)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A time of `day` in Shanghai (the CRM's TIME_ZONE), for tests that pin the hour."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def make_player(db):
    def make(**fields):
        fields.setdefault("account_id", f"acc-{next(_ids)}")
        fields.setdefault("server", "s1")
        fields.setdefault("nickname", "玩家")
        return Player.objects.create(**fields)

    return make


@pytest.fixture
def consent(db):
    """consent(player, "sms", "email", status="granted", purpose="marketing") records
    what the player said through the consent ledger's writer (as staff would)."""
    from players.models import ConsentSource
    from players.services.consents import consent_record

    def record(player, *channels, status="granted", purpose="marketing", **extra):
        for channel in channels:
            consent_record(
                player=player,
                channel=channel,
                purpose=purpose,
                status=status,
                source=extra.get("source", ConsentSource.STAFF),
                evidence=extra.get("evidence", "玩家在电话中同意"),
                occurred_at=extra.get("occurred_at"),
                now=extra.get("now"),
            )
        return player

    return record


@pytest.fixture
def pay(db):
    """pay(player, "648.00") records a purchase through the ledger service."""
    counter = itertools.count(1)

    def record(player, amount, *, kind="purchase", at: datetime | None = None, event_id=None, **extra):
        return payment_record(
            account_id=player.account_id,
            event_id=event_id or f"evt-{player.pk}-{next(counter)}",
            kind=kind,
            amount=Decimal(str(amount)),
            currency=extra.pop("currency", "CNY"),
            occurred_at=at or timezone.now(),
            source=extra.pop("source", PaymentSource.MANUAL),
            **extra,
        )

    return record


@pytest.fixture
def make_case(db):
    """make_case(player, actor=None, **fields) opens a case through the service."""
    from players.services.cases import case_open

    def make(player, *, actor=None, category="complaint", subject="充值未到账", **fields):
        return case_open(player=player, category=category, subject=subject, actor=actor, **fields)

    return make


@pytest.fixture
def erase(db, make_staff):
    """erase(player) -> the player after its personal data was erased on request (PIPL
    Art. 47), asked by one supervisor and confirmed by another."""
    from players.services.privacy import erasure_confirm, erasure_request

    asker, confirmer = make_staff("erasure_asker", "Supervisor"), make_staff("erasure_confirmer", "Supervisor")

    def run(player):
        request = erasure_request(player=player, actor=asker, reason="玩家来电要求删除个人信息")
        erasure_confirm(request=request, actor=confirmer)
        player.refresh_from_db()
        return player

    return run


@pytest.fixture
def admin_import(client, settings, tmp_path, django_capture_on_commit_callbacks):
    """admin_import(csv_text, language="en") uploads a player list as the logged-in user
    on the admin's import page, reads its preview page and confirms it, as a person does:
    returns (the job, the preview page's text). Stored files go to a temporary folder."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from players.models import ImportJob

    settings.MEDIA_ROOT = tmp_path / "media"

    def run(text: str, *, language: str = "en"):
        upload = SimpleUploadedFile("players.csv", text.encode("utf-8"), content_type="text/csv")
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("admin:players_importjob_add"),
                {"kind": "players", "file": upload, "encoding": "", "invalid_rows": "skip"},
                HTTP_ACCEPT_LANGUAGE=language,
            )
        assert response.status_code == 302, response.content.decode()[:2000]
        job = ImportJob.objects.latest("pk")
        page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE=language).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("admin:players_importjob_apply", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
        job.refresh_from_db()
        return job, page

    return run


@pytest.fixture(autouse=True)
def churn_rules_not_remembered():
    """A test's rolled-back rule edits must not outlive it in the churn rules memo."""
    from players.services.payer_status import churn_rules_forget

    churn_rules_forget()
    yield
    churn_rules_forget()
