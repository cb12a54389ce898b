"""Demo data that feels real: players over three servers, a year of purchases with a
long tail of whales, staff in every role. Idempotent: a second run adds nothing and
only resets the demo logins (printed again)."""

from __future__ import annotations

import random
import secrets
from bisect import bisect_right
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from players.models import PayerStatus, Payment, PaymentKind, PaymentSource, Player, Tag
from players.services import payment_fingerprint
from players.services.birthdays import birthdays_refresh
from vip.models import ManagerAssignment, Tier, TierChange, TierChangeReason

SERVERS = ["s1", "s2", "s3"]
CHANNELS = ["app_store", "huawei", "xiaomi", "oppo", "vivo", "taptap", "bilibili", "official"]
PRODUCTS = [
    (Decimal("6"), "60 钻石"),
    (Decimal("30"), "300 钻石"),
    (Decimal("68"), "月卡"),
    (Decimal("128"), "1280 钻石"),
    (Decimal("198"), "成长基金"),
    (Decimal("328"), "3280 钻石"),
    (Decimal("648"), "6480 钻石"),
]
STAFF = [
    ("manager_li", "李", "娜", "VIP manager"),
    ("manager_wang", "王", "芳", "VIP manager"),
    ("manager_zhang", "张", "伟", "VIP manager"),
    ("manager_chen", "陈", "静", "VIP manager"),
    ("supervisor", "刘", "洋", "Supervisor"),
    ("operations", "赵", "磊", "Operations"),
]


def demo_users() -> list[tuple[str, str, str]]:
    """Create or reset the demo logins. Returns (username, password, role)."""
    User = get_user_model()
    logins = []
    admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
    admin.is_staff = admin.is_superuser = True
    password = secrets.token_urlsafe(9)
    admin.set_password(password)
    admin.save()
    logins.append(("admin", password, "superuser"))
    for username, last, first, role in STAFF:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
        user.is_staff = True
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        logins.append((username, password, role))
    return logins


def _spend_profile(rng: random.Random) -> int:
    """How many purchases this player makes in a year: most none or few, a few whales."""
    roll = rng.random()
    if roll < 0.45:
        return 0
    if roll < 0.80:
        return rng.randint(1, 3)
    if roll < 0.95:
        return rng.randint(4, 15)
    if roll < 0.99:
        return rng.randint(16, 60)
    return rng.randint(60, 200)


@transaction.atomic
def demo_seed(*, players: int = 5000, seed: int = 2026) -> dict:
    if Player.objects.filter(account_id__startswith="demo-").exists():
        return {"players": 0, "payments": 0, "skipped": True}
    from faker import Faker

    fake = Faker("zh_CN")
    Faker.seed(seed)
    rng = random.Random(seed)
    now = timezone.now()
    User = get_user_model()
    managers = list(User.objects.filter(groups__name="VIP manager").order_by("username"))
    tiers = list(Tier.objects.order_by("level"))
    thresholds = [t.min_spend for t in tiers]
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("大R", "公会会长", "主播", "老玩家", "易流失")]

    people = []
    for i in range(players):
        registered = now - timedelta(days=rng.randint(20, 900), seconds=rng.randint(0, 86400))
        birthday = fake.date_of_birth(minimum_age=16, maximum_age=50) if rng.random() < 0.7 else None
        people.append(
            Player(
                account_id=f"demo-{100000 + i}",
                server=rng.choice(SERVERS),
                nickname=fake.user_name()[:12]
                if rng.random() < 0.3
                else fake.name() + rng.choice(["", "丶", "の", "酱", "大人"]),
                channel=rng.choice(CHANNELS),
                level=rng.randint(1, 120),
                registered_at=registered,
                last_login_at=now - timedelta(days=rng.expovariate(1 / 12), seconds=rng.randint(0, 86400)),
                real_name=fake.name() if rng.random() < 0.5 else "",
                phone=f"+86{fake.phone_number()}" if rng.random() < 0.8 else "",
                qq=str(rng.randint(10000, 3999999999)) if rng.random() < 0.4 else "",
                wechat=f"wx_{fake.user_name()}" if rng.random() < 0.3 else "",
                birthday=birthday,
                birthday_is_lunar=bool(birthday) and rng.random() < 0.25,
            )
        )
    Player.objects.bulk_create(people, batch_size=1000)
    birthdays_refresh(only_stale=True)  # the greeting index on birthdays
    people = list(Player.objects.filter(account_id__startswith="demo-").order_by("pk"))

    payments, tier_changes = [], []
    for player in people:
        count = _spend_profile(rng)
        if not count:
            continue
        whale = count > 40
        moments = sorted(now - timedelta(days=rng.uniform(0, 365)) for _ in range(count))
        if rng.random() < 0.3:  # a payer who went quiet
            gap = timedelta(days=rng.randint(20, 90))
            moments = [m - gap for m in moments]
        spend, current = Decimal(0), None
        for n, at in enumerate(moments):
            amount, product = rng.choice(PRODUCTS[3:] if whale else PRODUCTS)
            event_id = f"demo-{player.pk}-{n}"
            payments.append(_demo_payment(player, event_id, PaymentKind.PURCHASE, amount, at, product))
            spend += amount
            reached = bisect_right(thresholds, spend)
            if reached and (current is None or reached - 1 > current):
                tier_changes.append(
                    TierChange(
                        player=player,
                        from_tier=tiers[current] if current is not None else None,
                        to_tier=tiers[reached - 1],
                        reason=TierChangeReason.PAYMENT,
                        changed_at=at,
                    )
                )
                current = reached - 1
        if rng.random() < 0.02 and spend > 6:
            refunded = payments[-1]
            payments.append(
                _demo_payment(
                    player,
                    f"demo-{player.pk}-r",
                    PaymentKind.REFUND,
                    refunded.amount,
                    refunded.occurred_at + timedelta(hours=rng.randint(1, 48)),
                    refunded.product,
                    refund_of=refunded.event_id,
                )
            )
            spend -= refunded.amount
            reached = bisect_right(thresholds, spend)
            if (reached - 1 if reached else None) != current:
                tier_changes.append(
                    TierChange(
                        player=player,
                        from_tier=tiers[current] if current is not None else None,
                        to_tier=tiers[reached - 1] if reached else None,
                        reason=TierChangeReason.REFUND,
                        changed_at=payments[-1].occurred_at,
                    )
                )
                current = reached - 1 if reached else None
        player.tier = tiers[current] if current is not None else None
        player.tier_since = tier_changes[-1].changed_at if current is not None else None
    Payment.objects.bulk_create(payments, batch_size=2000)
    TierChange.objects.bulk_create(tier_changes, batch_size=2000)
    Player.objects.bulk_update(people, ["tier", "tier_since"], batch_size=1000)

    from players.services import players_totals_rebuild

    players_totals_rebuild()
    _demo_assign(people, managers, tags, rng, now)
    return {"players": len(people), "payments": len(payments), "skipped": False}


def _demo_payment(player, event_id, kind, amount, at, product, refund_of=""):
    return Payment(
        player=player,
        source=PaymentSource.DEMO,
        event_id=event_id,
        kind=kind,
        amount=amount,
        currency="CNY",
        amount_base=amount,
        server=player.server,
        occurred_at=at,
        product=product,
        refund_of=refund_of,
        fingerprint=payment_fingerprint(
            account_id=player.account_id,
            kind=kind,
            amount=amount,
            currency="CNY",
            occurred_at=at,
            server=player.server,
            product=product,
            refund_of=refund_of,
        ),
    )


def _demo_assign(people, managers, tags, rng, now):
    """Managers own the paying players (V3 and up); tags on a few."""
    if not managers:
        return
    payers = Player.objects.filter(account_id__startswith="demo-", tier__level__gte=3).order_by("-total_spend")
    rows = []
    for n, player in enumerate(payers):
        manager = managers[n % len(managers)]
        player.manager = manager
        rows.append(ManagerAssignment(player=player, to_manager=manager, note="demo", assigned_at=now))
    ManagerAssignment.objects.bulk_create(rows)
    Player.objects.bulk_update([r.player for r in rows], ["manager"], batch_size=1000)
    Through = Player.tags.through
    Through.objects.bulk_create(
        Through(player_id=p.pk, tag_id=rng.choice(tags).pk) for p in rng.sample(people, min(300, len(people)))
    )
    Player.objects.filter(account_id__startswith="demo-", total_spend__gt=0).update(payer_status=PayerStatus.ACTIVE)
