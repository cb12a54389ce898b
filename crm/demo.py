"""Demo data that tells the product's story on the day it is run: a year of purchases
with a long tail of whales, replayed week by week through the payment, login and nightly
services (so payer statuses have a history: active, at risk, churned, won back); VIP
managers who own the big payers, log contacts with follow-ups due today, work cases in
every state and campaign tasks; greeting rules with birthdays (a lunar one) this week;
gifts within and over budget; feedback topics; the team dashboard computed.

Everything a person does is done through the service a person's click calls, at the
moment it happened (`time_machine` travels there): nothing is dated in the future.
Idempotent: a second run adds nothing and only resets the demo logins (printed again)."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignGoal,
    GiftBudget,
    GiftEntry,
    GiftKind,
    GreetingOccasion,
    GreetingRule,
    OutreachTask,
    TaskStatus,
)
from campaigns.services.campaigns import (
    campaign_launch,
    campaign_save,
    campaigns_results_refresh_active,
    task_outcome_record,
)
from campaigns.services.greetings import greetings_run
from campaigns.services.messaging import messages_deliver_due
from campaigns.services.top_spenders import top_spender_visits_create
from crm.calendar import lunar_date, lunar_of, lunar_to_solar
from crm.demo_story import Story, story_for
from crm.nightly import nightly_run
from players.models import (
    CaseCategory,
    CaseSeverity,
    ContactChannel,
    ContactOutcome,
    FeedbackKind,
    PaymentSource,
    Player,
    Tag,
)
from players.services import contact_log_create, player_update
from players.services.activity import logins_record_batch
from players.services.birthdays import birthdays_refresh
from players.services.cases import (
    case_close,
    case_compensate,
    case_open,
    case_record_satisfaction,
    case_resolve,
    case_start,
    case_wait_on_player,
    cases_escalate_overdue,
)
from players.services.feedback import feedback_record
from players.services.ledger import payments_record_batch
from vip.models import Tier
from vip.services import players_assign_manager

SERVERS = ["s1", "s2", "s3"]
CHANNELS = ["app_store", "huawei", "xiaomi", "oppo", "vivo", "taptap", "bilibili", "official"]
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


FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉飞鑫宇浩然子轩梓涵一诺欣怡思远晨曦雨桐嘉怡俊杰"
NICK_WORDS = [
    "夜雨",
    "听风",
    "孤城",
    "剑心",
    "星河",
    "暮色",
    "北辰",
    "南笙",
    "青衫",
    "白夜",
    "锦鲤",
    "追光",
    "长安",
    "烟火",
    "无双",
    "浅笑",
    "凌霄",
    "醉月",
]
NICK_TAILS = ["", "丶", "の", "酱", "大人", "灬", "ゞ", "88", "666"]
MOBILE_PREFIXES = ["135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "188"]
STEP = timedelta(days=7)
HISTORY_WEEKS = 16  # weekly nightly runs before today: the payer-status history


def _chinese_name(rng: random.Random) -> str:
    return rng.choice(FAMILY) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _nickname(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(NICK_WORDS) + rng.choice(NICK_WORDS) + rng.choice(NICK_TAILS)
    return _chinese_name(rng) + rng.choice(NICK_TAILS)


@transaction.atomic  # all or nothing: a failed run leaves no half story to skip next time
def demo_seed(*, players: int = 5000, seed: int = 2026) -> dict:
    if Player.objects.filter(account_id__startswith="demo-").exists():
        return {"players": 0, "payments": 0, "skipped": True}
    rng = random.Random(seed)
    now = timezone.now()
    User = get_user_model()
    managers = list(
        User.objects.filter(groups__name="VIP manager", username__startswith="manager_").order_by("username")
    )
    supervisor = User.objects.filter(username="supervisor").first()
    stories = _players_create(players, rng, now)
    payments = _history_replay(stories, rng, now, managers, supervisor)
    _consents_and_minors(rng, now, managers, supervisor)
    _birthdays_this_week(rng, now, supervisor)
    _team_day(rng, now, managers, supervisor)
    from crm.demo_service_desk import service_desk_demo

    service_desk_demo(rng, now, managers, supervisor)
    from crm.workplace.aggregates import dashboard_refresh

    dashboard_refresh()
    return {"players": len(stories), "payments": payments, "skipped": False}


@transaction.atomic
def _players_create(count: int, rng: random.Random, now: datetime) -> dict[str, Story]:
    """The game's players, as its backend reports them (registration, profile)."""
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("大R", "公会会长", "主播", "老玩家", "易流失")]
    stories, people = {}, []
    for i in range(count):
        registered = now - timedelta(days=rng.randint(60, 900), seconds=rng.randint(0, 86400))
        birthday = date(rng.randint(1975, 2007), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.7 else None
        account = f"demo-{100000 + i}"
        story = story_for(rng, registered=registered, now=now)
        stories[account] = story
        people.append(
            Player(
                account_id=account,
                server=rng.choice(SERVERS),
                nickname=_nickname(rng),
                channel=rng.choice(CHANNELS),
                level=rng.randint(1, 120),
                registered_at=registered,
                real_name=_chinese_name(rng) if rng.random() < 0.5 else "",
                phone=f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randint(10000000, 99999999)}"
                if rng.random() < 0.8
                else "",
                qq=str(rng.randint(10000, 3999999999)) if rng.random() < 0.4 else "",
                wechat=f"wx_{rng.randint(100000, 999999)}" if rng.random() < 0.3 else "",
                birthday=birthday,
                birthday_is_lunar=bool(birthday) and rng.random() < 0.25,
                preferred_channel=rng.choice(["", ContactChannel.PHONE, ContactChannel.WECHAT, ContactChannel.QQ]),
            )
        )
    Player.objects.bulk_create(people, batch_size=1000)
    birthdays_refresh(only_stale=True)  # the greeting index on birthdays
    ids = list(Player.objects.filter(account_id__startswith="demo-").values_list("pk", flat=True))
    Through = Player.tags.through
    Through.objects.bulk_create(
        Through(player_id=pk, tag_id=rng.choice(tags).pk) for pk in rng.sample(ids, min(300, len(ids)))
    )
    return stories


def _history_replay(stories, rng, now, managers, supervisor) -> int:
    """The last year as the game backend reported it: a year's older purchases at once,
    then week by week the purchases, refunds and logins of that week, each week closed by
    the nightly job. Managers take over the VIPs two months ago and again today."""
    start = now - STEP * HISTORY_WEEKS
    steps = [start + STEP * k for k in range(HISTORY_WEEKS)] + [now]
    events = []  # (occurred_at, event)
    refunds = []
    for account, story in stories.items():
        mine = []
        usual = rng.choice(story.products) if story.products else None
        for n, at in enumerate(story.purchases):
            amount, product = usual if rng.random() < 0.7 else rng.choice(story.products)
            mine.append(
                {
                    "event_id": f"{account}-{n}",
                    "account_id": account,
                    "type": "purchase",
                    "amount": str(amount),
                    "currency": "CNY",
                    "occurred_at": at.isoformat(),
                    "product": product,
                }
            )
        events += zip(story.purchases, mine, strict=True)
        if mine and rng.random() < 0.02:
            n = rng.randrange(len(mine))
            at = story.purchases[n] + timedelta(hours=rng.randint(1, 48))
            if at < now - timedelta(hours=1):
                refund = {**mine[n], "event_id": f"{account}-r", "type": "refund", "refund_of": f"{account}-{n}"}
                refunds.append((at, {**refund, "occurred_at": at.isoformat()}))
    events.sort(key=lambda e: e[0])
    refunds.sort(key=lambda e: e[0])
    recorded, previous = 0, None
    assign_at = steps[HISTORY_WEEKS - 8]
    for step in steps:
        with time_machine.travel(step, tick=False):
            week = [e for at, e in events if (previous is None or at > previous) and at <= step]
            if previous is None:  # the backlog: each player's purchases in one batch, in order
                week.sort(key=lambda e: e["account_id"])
            for batch in _batches_by_player(week):
                recorded += payments_record_batch(events=batch, source=PaymentSource.DEMO).created
            back = [e for at, e in refunds if (previous is None or at > previous) and at <= step]
            if back:
                recorded += payments_record_batch(events=back, source=PaymentSource.DEMO).created
            logins = [  # payers still playing log in every few days; the others once more, last
                {"account_id": account, "occurred_at": seen.isoformat()}
                for account, story in stories.items()
                if (seen := _seen_by(story, step, rng)) and (previous is None or seen > previous)
            ]
            for low in range(0, len(logins), 1000):
                logins_record_batch(events=logins[low : low + 1000])
            if step in (assign_at, now):
                _managers_take_over(managers, supervisor)
            nightly_run(now=step)
            campaigns_results_refresh_active(now=step)
        previous = step
    return recorded


def _seen_by(story: Story, step: datetime, rng: random.Random) -> datetime | None:
    """The player's latest login by `step`."""
    if story.last_seen is None or story.last_seen <= step:
        return story.last_seen
    if story.kind == "non_payer" or not story.purchases or story.purchases[0] > step:
        return None
    return step - timedelta(hours=rng.uniform(1, 48))


def _batches_by_player(events: list[dict], size: int = 1000):
    """Batches of about `size` events that never split one player's events."""
    batch = []
    for event in events:
        if len(batch) >= size and event["account_id"] != batch[-1]["account_id"]:
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def _managers_take_over(managers, supervisor) -> None:
    """The supervisor hands the unassigned big payers (V5 and up) round the managers."""
    if not managers:
        return
    ids = list(
        Player.objects.filter(account_id__startswith="demo-", tier__level__gte=5, manager__isnull=True)
        .order_by("-total_spend")
        .values_list("pk", flat=True)
    )
    for n, manager in enumerate(managers):
        players_assign_manager(
            players=Player.objects.filter(pk__in=ids[n :: len(managers)]),
            manager=manager,
            actor=supervisor,
            note="按消费额轮流分配",
        )


MINOR_NICKNAMES = ["小明同学", "放学打一把", "初二三班", "乖乖兔", "小学霸", "奥特曼迷", "周末才上线", "作业写完了"]


def _consents_and_minors(rng, now, managers, supervisor) -> None:
    """What players said about being reached (the game's sign-up box, replies to SMS,
    staff on the phone), and a few minors whose payments went over the NPPA caps, one of
    them already a refund case with part of the guardian's checklist done."""
    from players.models import ConsentSource
    from players.services.cases import case_checklist_set, case_open
    from players.services.consents import ConsentInput, consent_record, consents_record

    ids = list(Player.objects.filter(account_id__startswith="demo-").order_by("pk").values_list("pk", flat=True))
    signed_up = now - timedelta(days=200)
    grants = [
        ConsentInput(pk, channel, "marketing", "granted", signed_up, "注册时勾选“接收活动短信与邮件”")
        for pk in ids
        if rng.random() < 0.55
        for channel in ("sms", "email")
    ]
    consents_record(grants, source=ConsentSource.API, via="api:demo", now=signed_up)
    granted = sorted({item.player_id for item in grants})
    for pk in rng.sample(granted, min(60, len(granted))):  # replied "R" to an SMS
        at = now - timedelta(days=rng.uniform(1, 90))
        consents_record(
            [ConsentInput(pk, "sms", "marketing", "withdrawn", at, rng.choice(["R", "TD", "退订"]))],
            source=ConsentSource.REPLY,
            via="api:demo",
            now=at,
        )
    if managers:
        for pk in rng.sample(ids, min(40, len(ids))):  # said on the phone
            player = Player.objects.get(pk=pk)
            staff = player.manager or rng.choice(managers)
            said, status = rng.choice(
                [("玩家说以后别打电话推活动了", "refused"), ("玩家同意微信上发活动通知", "granted")]
            )
            channel = "phone" if status == "refused" else "wechat"
            consent_record(
                player=player,
                channel=channel,
                purpose="marketing",
                status=status,
                source=ConsentSource.STAFF,
                evidence=said,
                occurred_at=now - timedelta(days=rng.uniform(1, 60)),
                actor=staff,
            )

    # Minors, by their date of birth: some paid more than the caps of their age allow.
    today = timezone.localdate(now)
    events = []
    for i, nickname in enumerate(MINOR_NICKNAMES):
        age = [7, 9, 11, 12, 13, 15, 16, 17][i]
        birthday = date(today.year - age, today.month, min(today.day, 28)) - timedelta(days=rng.randint(1, 300))
        account = f"demo-30000{i + 1}"
        Player.objects.create(
            account_id=account,
            server=rng.choice(SERVERS),
            nickname=nickname,
            birthday=birthday,
        )
        for n, amount in enumerate(rng.sample(["6.00", "30.00", "68.00", "98.00", "128.00", "198.00"], 3)):
            events.append(
                {
                    "event_id": f"demo-30000{i + 1}-{n}",
                    "type": "purchase",
                    "account_id": account,
                    "amount": amount,
                    "currency": "CNY",
                    "occurred_at": (now - timedelta(days=rng.uniform(0.2, 6))).isoformat(),
                }
            )
    payments_record_batch(events=events, source=PaymentSource.DEMO)
    birthdays_refresh(only_stale=True)
    if managers:
        minors = Player.objects.filter(account_id__startswith="demo-30000")
        players_assign_manager(players=minors, manager=managers[0], actor=supervisor)
        child = Player.objects.get(account_id="demo-300003")
        case = case_open(
            player=child,
            category=CaseCategory.MINOR_REFUND,
            subject="家长来电：孩子未经同意充值，申请退款",
            description="监护人称孩子用其手机充值，已提供身份证照片，待补户口簿。",
            actor=managers[0],
            owner=managers[0],
        )
        case_checklist_set(case=case, done=["guardian_identity", "payments"], actor=managers[0])


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _birthdays_this_week(rng, now, supervisor) -> None:
    """A few VIPs whose birthday comes this week, one of them celebrated on the lunar
    calendar (their manager wrote it down on the profile)."""
    today = timezone.localdate(now)
    vips = list(Player.objects.filter(account_id__startswith="demo-", manager__isnull=False).order_by("pk")[:400])
    for n, player in enumerate(rng.sample(vips, min(8, len(vips)))):
        day = today + timedelta(days=1 + n % 6)
        year = rng.randint(1980, 2000)
        if n < 2:  # on the lunar calendar
            lunar = lunar_of(day)
            born = lunar_date(year, lunar.month, lunar.day, leap=lunar.is_leap_month) or lunar_to_solar(
                year, lunar.month, lunar.day
            )
            data = {"birthday": born, "birthday_is_lunar": True}
        else:
            data = {"birthday": date(year, day.month, min(day.day, 28)), "birthday_is_lunar": False}
        player_update(player=player, data=data, actor=player.manager)


def _team_day(rng, now, managers, supervisor) -> None:
    if not managers or supervisor is None:
        return
    today = timezone.localdate(now)
    from crm.demo_service_desk import demo_scripts

    scripts = demo_scripts(supervisor)  # the call scripts of the greeting calls and campaigns
    _greeting_rules(now, supervisor, scripts)
    _campaigns(rng, now, today, managers, supervisor, scripts)
    _contacts(rng, now, today, managers)
    _cases(rng, now, today, managers)
    _feedback(rng, now)
    _budget_cut(now, supervisor)
    cases_escalate_overdue(now=now)
    # the half month's top spenders get their booked return-visit calls (as on the 1st and 16th);
    # the weekly and monthly reports read the contacts, cases, tasks and gifts above
    top_spender_visits_create(on=today, actor=supervisor)
    _data_requests(managers, supervisor)


def _data_requests(managers, supervisor) -> None:
    """A player's rights over their data (PIPL): one player was handed their data file,
    one was erased on request (asked by their manager, confirmed by the supervisor), and
    one erasure waits for the supervisor in Players → Data requests."""
    from players.models import DeliveryMethod
    from players.services.privacy import erasure_confirm, erasure_request, player_data_file

    manager = managers[0]
    own = list(Player.objects.filter(manager=manager).exclude(real_name="").order_by("id")[:3])
    if len(own) < 3:
        return
    copied, erased, waiting = own
    player_data_file(
        player=copied,
        actor=manager,
        reason="玩家来电索取本人信息副本，已核对绑定手机号后四位",
        delivered_via=DeliveryMethod.EMAIL,
    )
    request = erasure_request(player=erased, actor=manager, reason="玩家来电要求注销账号信息，已核对绑定手机号后四位")
    erasure_confirm(request=request, actor=supervisor, note="已电话回访确认")
    erasure_request(player=waiting, actor=manager, reason="玩家在客服工单中要求删除个人信息")


def _greeting_rules(now, supervisor, scripts) -> None:
    """Budgets and greeting rules set up a month ago; the daily greeting job has run each
    morning of the last week (tasks, messages, gifts)."""
    with time_machine.travel(now - timedelta(days=30), tick=False):
        tiers = {t.level: t for t in Tier.objects.all()}
        for level, amount in ((5, "600"), (6, "3000"), (7, "5000"), (8, "8000"), (9, "10000")):
            budget = GiftBudget(tier=tiers[level], monthly_amount=Decimal(amount))
            budget.full_clean()
            budget.save()
        rules = [
            GreetingRule(
                name="VIP 生日祝福",
                occasion=GreetingOccasion.BIRTHDAY,
                tier_min=tiers[5],
                task_lead_days=2,
                task_title="给 {nickname} 打生日祝福电话",
                call_script=scripts["生日问候"],
                message_channel="in_game",
                template="亲爱的{nickname}，生日快乐！专属礼包已发到您的邮箱，祝您新的一岁一切顺利。",
                gift_kind=GiftKind.ITEM,
                gift_item="生日礼包",
                gift_value=Decimal("88"),
            ),
            GreetingRule(
                name="注册周年纪念",
                occasion=GreetingOccasion.REGISTRATION_ANNIVERSARY,
                tier_min=tiers[4],
                message_channel="in_game",
                template="{nickname}，感谢您一路相伴！周年纪念礼已送达。",
                gift_kind=GiftKind.CODE,
                gift_item="ANNIV",
                gift_value=Decimal("30"),
            ),
            GreetingRule(
                name="元旦问候",
                occasion=GreetingOccasion.FESTIVAL,
                festival="new_year",
                tier_min=tiers[5],
                task_lead_days=3,
                call_script=scripts["节日问候"],
                message_channel="in_game",
                template="{nickname}，新年快乐！感谢您过去一年的支持。",
            ),
            GreetingRule(
                name="除夕拜年",
                occasion=GreetingOccasion.FESTIVAL,
                festival="chuxi",
                tier_min=tiers[5],
                task_lead_days=1,
                call_script=scripts["节日问候"],
                message_channel="in_game",
                template="{nickname}，{occasion}快乐！新春礼包已送达，祝您新年大吉。",
                gift_kind=GiftKind.CODE,
                gift_item="CNY",
                gift_value=Decimal("66"),
            ),
            GreetingRule(
                name="冬至问候",
                occasion=GreetingOccasion.FESTIVAL,
                festival="dongzhi",
                tier_min=tiers[5],
                message_channel="in_game",
                template="{nickname}，{occasion}到了，记得吃饺子（汤圆），注意保暖！",
            ),
            GreetingRule(
                name="小年问候（北方服）",
                occasion=GreetingOccasion.FESTIVAL,
                festival="xiaonian_north",
                tier_min=tiers[6],
                server="s1",
                message_channel="in_game",
                template="{nickname}，小年快乐！",
            ),
        ]
        for rule in rules:
            rule.created_by = supervisor
            rule.full_clean()
            rule.save()
    today = timezone.localdate(now)
    for back in range(7, -1, -1):
        day = today - timedelta(days=back)
        with time_machine.travel(min(_at(day, 8, 30), now), tick=False):
            greetings_run(on=day, deliver=False)
        moment = min(_at(day, 11), now)
        with time_machine.travel(moment, tick=False):
            messages_deliver_due(now=moment)


def _budget_cut(now, supervisor) -> None:
    """Mid-month the supervisor cuts the budget of the tier that has spent most this
    month below what it has already given: the budget page shows it over budget, and
    the next gift for that tier is refused."""
    month = timezone.localdate(now).replace(day=1)
    spent = (
        GiftEntry.objects.filter(month=month, tier__isnull=False)
        .values("tier")
        .annotate(total=Sum("value"))
        .order_by("-total")
        .first()
    )
    budget = GiftBudget.objects.filter(tier_id=spent["tier"]).first() if spent else None
    if budget is None:
        return
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        budget.monthly_amount = (spent["total"] * Decimal("0.8")).quantize(Decimal("1"))
        budget.full_clean()
        budget.save()


def _campaigns(rng, now, today, managers, supervisor, scripts) -> None:
    """A win-back that ran last month (finished, with results), a VIP-care round running
    now, and next one in draft, ready to launch."""
    plans = [
        ("双十二前流失大R召回", CampaignGoal.WIN_BACK, {"tier_min": 5, "payer_status": ["churned"]}, 34, 20),
        ("冬季版本 VIP 关怀回访", CampaignGoal.VIP_CARE, {"tier_min": 5, "payer_status": ["at_risk"]}, 4, -10),
        ("春节回流预热", CampaignGoal.WIN_BACK, {"tier_min": 4, "no_payment_days": 45}, None, None),
    ]
    for name, goal, segment, started, due in plans:
        start = today - timedelta(days=started) if started is not None else today + timedelta(days=14)
        created = now - timedelta(days=(started or 0) + 2)
        with time_machine.travel(created, tick=False):
            campaign = campaign_save(
                campaign=Campaign(
                    name=name,
                    goal=goal,
                    segment=segment,
                    channel=CampaignChannel.PHONE_TASK,
                    call_script=scripts["流失挽回" if goal == CampaignGoal.WIN_BACK else "季度回访"],
                    start_date=start,
                    due_date=today - timedelta(days=due) if due is not None else start + timedelta(days=14),
                    holdout_percent=10,
                ),
                actor=supervisor,
            )
        if started is None:
            continue
        launched = _at(start, 10)
        with time_machine.travel(launched, tick=False):
            campaign_launch(campaign=campaign, actor=supervisor, now=launched)
        _tasks_worked(rng, now, campaign, launched, share=0.9 if due > 0 else 0.45)


def _tasks_worked(rng, now, campaign, launched, *, share) -> None:
    outcomes = [
        (ContactOutcome.REACHED, "聊了新版本，玩家说周末回来看看"),
        (ContactOutcome.PROMISED_RETURN, "答应这周上线领礼包"),
        (ContactOutcome.NO_ANSWER, ""),
        (ContactOutcome.REFUSED, "表示暂时不玩了"),
        (ContactOutcome.WRONG_NUMBER, "号码已停机"),
    ]
    tasks = list(OutreachTask.objects.filter(campaign=campaign, status=TaskStatus.OPEN).select_related("assignee"))
    room = max((now - launched).total_seconds() - 3600, 3600)
    for task in rng.sample(tasks, int(len(tasks) * share)):
        at = launched + timedelta(seconds=rng.uniform(3600, room))
        outcome, note = rng.choice(outcomes)
        task_outcome_record(task=task, outcome=outcome, actor=task.assignee, note=note, now=at)


def _contacts(rng, now, today, managers) -> None:
    """Two weeks of calls and chats; some promised a follow-up today."""
    topics = [
        ("新版本体验回访", ContactOutcome.REACHED, "玩家对新副本难度有意见，已记录反馈"),
        ("充值返利咨询", ContactOutcome.REACHED, "解释了本周累充活动规则"),
        ("长时间未登录关怀", ContactOutcome.NO_ANSWER, ""),
        ("生日礼包确认", ContactOutcome.REACHED, "礼包已收到，玩家很满意"),
        ("公会活动邀请", ContactOutcome.PROMISED_RETURN, "答应周末参加公会战"),
        ("账号安全提醒", ContactOutcome.MESSAGE_SENT, "发送了绑定手机的提醒"),
    ]
    for manager in managers:
        book = list(Player.objects.filter(manager=manager).order_by("pk"))
        if not book:
            continue
        for back in range(14, -1, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            for _n in range(rng.randint(4, 9)):
                at = _at(day, rng.randint(9, 17), rng.randint(0, 59))
                if at >= now:
                    continue
                topic, outcome, summary = rng.choice(topics)
                follow_up = None
                if back in (2, 3, 4) and rng.random() < 0.4:
                    follow_up = today
                elif back <= 1 and rng.random() < 0.3:
                    follow_up = today + timedelta(days=rng.randint(2, 7))
                contact_log_create(
                    player=rng.choice(book),
                    staff=manager,
                    channel=rng.choice([ContactChannel.PHONE, ContactChannel.WECHAT, ContactChannel.QQ]),
                    contacted_at=at,
                    topic=topic,
                    summary=summary,
                    outcome=outcome,
                    duration_minutes=rng.randint(2, 15) if outcome != ContactOutcome.NO_ANSWER else None,
                    next_follow_up=follow_up,
                )


CASES = [
    (CaseCategory.PAYMENT, CaseSeverity.HIGH, "充值 648 未到账", "订单已扣款但钻石未到账，玩家提供了支付截图。"),
    (CaseCategory.COMPLAINT, CaseSeverity.NORMAL, "对公会战匹配机制不满", "连续三次匹配到战力悬殊的对手。"),
    (CaseCategory.ACCOUNT, CaseSeverity.URGENT, "账号疑似被盗", "异地登录后装备被转移。"),
    (CaseCategory.BUG, CaseSeverity.NORMAL, "副本结算卡死", "打完副本结算界面卡住，奖励没有发放。"),
    (CaseCategory.QUESTION, CaseSeverity.LOW, "月卡续费规则咨询", "想了解月卡到期前续费是否叠加。"),
    (CaseCategory.SUGGESTION, CaseSeverity.LOW, "希望增加外观交易", "建议开放时装交易行。"),
]


def _cases(rng, now, today, managers) -> None:
    """Cases in every state: new today, in progress, one overdue, one waiting on the
    player, resolved with compensation, closed with the player's rating."""
    books = {m.pk: list(Player.objects.filter(manager=m).order_by("pk")[:200]) for m in managers}
    plan = ["closed"] * 8 + ["resolved"] * 4 + ["waiting", "overdue", "in_progress", "in_progress", "new", "new"]
    for n, state in enumerate(plan):
        manager = managers[n % len(managers)]
        if not books[manager.pk]:
            continue
        player = rng.choice(books[manager.pk])
        category, severity, subject, description = CASES[n % len(CASES)]
        if state == "overdue":
            category, severity, subject, description = CASES[1]
            opened = now - timedelta(days=4, hours=3)
        elif state == "new":
            opened = now - timedelta(hours=rng.uniform(1, 5))
        elif state in ("in_progress", "waiting"):
            opened = now - timedelta(days=1, hours=rng.uniform(0, 10))
        else:
            opened = now - timedelta(days=rng.uniform(5, 28))
        case = case_open(
            player=player,
            category=category,
            severity=severity,
            subject=subject,
            description=description,
            channel=ContactChannel.PHONE,
            actor=manager,
            opened_at=opened,
        )
        if state == "new":
            continue
        step = opened + timedelta(hours=1)
        case = case_start(case=case, actor=manager, note="已联系玩家，正在核实", now=step)
        if state == "waiting":
            case_wait_on_player(case=case, actor=manager, note="请玩家提供订单截图", now=step + timedelta(hours=3))
            continue
        if state in ("in_progress", "overdue"):
            continue
        solved = step + timedelta(hours=rng.uniform(4, 40))
        resolution = "已核实并处理，玩家确认"
        if category in (CaseCategory.PAYMENT, CaseCategory.BUG):
            try:
                case = case_compensate(
                    case=case, item="补偿礼包", value=Decimal("68"), actor=manager, note="按规定补偿", now=solved
                )
            except ValidationError:  # the tier's gift budget for the month is spent
                resolution = "本月礼品预算已用完，已致歉并登记下月补偿"
        case = case_resolve(case=case, resolution=resolution, actor=manager, now=solved)
        if state == "closed":
            closed = solved + timedelta(hours=rng.uniform(2, 24))
            case_record_satisfaction(case=case, score=rng.choice([3, 4, 5, 5, 5]), actor=manager, now=closed)
            case_close(case=case, actor=manager, now=closed)


FEEDBACK = [
    (FeedbackKind.BUG, "副本结算界面卡死，奖励没有到账"),
    (FeedbackKind.BUG, "更新后登录闪退"),
    (FeedbackKind.SUGGESTION, "希望增加时装交易功能"),
    (FeedbackKind.SUGGESTION, "公会战能不能改到晚上九点"),
    (FeedbackKind.COMPLAINT, "抽卡概率太低了"),
    (FeedbackKind.COMPLAINT, "客服回复太慢"),
    (FeedbackKind.PRAISE, "新地图的画面很漂亮"),
]


def _feedback(rng, now) -> None:
    """What players reported over the last month: the same few things, many times."""
    ids = list(Player.objects.filter(account_id__startswith="demo-").values_list("pk", flat=True))
    players = Player.objects.filter(pk__in=rng.sample(ids, min(150, len(ids)))).order_by("pk")
    weights = [30, 18, 12, 8, 20, 6, 10]
    for player in players:
        kind, text = rng.choices(FEEDBACK, weights=weights)[0]
        feedback_record(
            player=player,
            kind=kind,
            text=text,
            channel=rng.choice([ContactChannel.IN_GAME, ContactChannel.PHONE, ContactChannel.WECHAT]),
            reported_at=now - timedelta(days=rng.uniform(0.1, 30)),
        )
