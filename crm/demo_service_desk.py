"""Demo data for the service desk the handbooks describe (called by crm.demo): the
working calendar (a company day off this week), SLA policies on working hours with a
first-answer target and the ladder to the head of service, the script library in use,
compensation waiting for approval (one approved, one refused), and satisfaction
surveys answered on the phone and in the game (one low score with its follow-up)."""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from decimal import Decimal

import time_machine
from django.core.exceptions import ValidationError

from crm.workdays import Clock, company_day_off_save
from players.models import (
    NOT_ERASED,
    CallScript,
    CaseCategory,
    CaseSeverity,
    CompensationApprovalRule,
    Player,
    SatisfactionSurvey,
    ScriptCategory,
    SlaPolicy,
    SurveyStatus,
)
from players.services.cases import (
    case_open,
    case_reply,
    compensation_approve,
    compensation_propose,
    compensation_refuse,
)
from players.services.scripts import script_insert, script_save
from players.services.surveys import survey_answer
from vip.models import Tier

SCRIPTS = [
    (
        "季度回访",
        ScriptCategory.RETURN_VISIT,
        "",
        "您好！请问是{nickname}吗？",
        "我是游戏客服中心 VIP 组的{me}，您的专属客服。",
        "现在和您说两分钟方便吗？",
        "您是我们尊贵的{tier}玩家，这次来电想听听您对新赛季的意见；本月再消费{spend_to_keep_tier}元即可保持当前等级。",
        "感谢您的支持，祝您游戏愉快！有任何问题随时找我。",
    ),
    (
        "投诉安抚",
        ScriptCategory.COMPLAINT,
        "",
        "您好！请问是{nickname}吗？",
        "我是您的专属客服{me}，关于您反馈的问题给您回电。",
        "现在方便说几句吗？",
        "非常抱歉给您带来不便，问题已经查清，处理结果是：",
        "请问您接受这个处理方案吗？稍后会有一份满意度问卷，麻烦您抽空填写。",
    ),
    (
        "生日问候",
        ScriptCategory.GREETING_CALL,
        "",
        "您好！请问是{nickname}吗？",
        "我是您的专属客服{me}。",
        "打扰您一分钟可以吗？",
        "今天是您的生日，祝您生日快乐！我们为{tier}玩家准备了一份生日礼包，已发到您的游戏邮箱。",
        "祝您玩得开心，再见！",
    ),
    (
        "流失挽回",
        ScriptCategory.WIN_BACK,
        "",
        "您好！请问是{nickname}吗？",
        "我是您之前的专属客服{me}。",
        "现在方便聊两句吗？",
        "好久没在游戏里见到您了，{days_since_login}天没上线，新版本有不少变化，专门给您留了回归礼包。",
        "期待在游戏里再见到您！",
    ),
    (
        "充值未到账",
        ScriptCategory.INBOUND_FAQ,
        "充值成功但是钻石没到账怎么办？",
        "",
        "",
        "",
        "{nickname}您好，充值一般 5 分钟内到账；如超过 30 分钟未到账，请提供订单号，我们马上为您核实补发。",
        "",
    ),
    (
        "节日问候",
        ScriptCategory.GREETING_CALL,
        "",
        "您好！请问是{nickname}吗？",
        "我是您的专属客服{me}。",
        "打扰您一分钟可以吗？",
        "{occasion}快到了，提前祝您节日快乐！感谢您一直以来的支持。",
        "祝您和家人节日愉快，再见！",
    ),
]


def demo_scripts(supervisor) -> dict[str, CallScript]:
    """The demo's script library (话术库) by name, made on first use: the greeting rules and
    campaigns take their call scripts from it, contacts and case replies insert them."""
    found = {script.name: script for script in CallScript.objects.filter(name__in=[row[0] for row in SCRIPTS])}
    for name, category, question, verify, introduce, convenient, purpose, close in SCRIPTS:
        if name not in found:
            found[name] = script_save(
                script=CallScript(
                    name=name,
                    category=category,
                    question=question,
                    step_verify=verify,
                    step_introduce=introduce,
                    step_convenient=convenient,
                    step_purpose=purpose,
                    step_close=close,
                ),
                actor=supervisor,
            )
    return found


def service_desk_demo(rng: random.Random, now: datetime, managers, supervisor) -> None:
    today = now.date()
    company_day_off_save(day=today + timedelta(days=3), reason="公司年会", actor=supervisor)
    for category, clock, first, hours, head in (
        (CaseCategory.COMPLAINT, Clock.WORKING_HOURS, 2, 27, 9),
        (CaseCategory.PAYMENT, Clock.WORKING_HOURS, 1, 18, 9),
        ("", Clock.ROUND_THE_CLOCK, 8, 72, 24),
    ):
        SlaPolicy.objects.get_or_create(
            category=category,
            severity="",
            defaults={"clock": clock, "first_response_hours": first, "hours": hours, "head_after_hours": head},
        )
    CompensationApprovalRule.objects.get_or_create(tier=None, defaults={"above": Decimal("100")})
    top = Tier.objects.order_by("-level").first()
    if top:
        CompensationApprovalRule.objects.get_or_create(tier=top, defaults={"above": Decimal("300")})

    library = demo_scripts(supervisor)
    scripts = [library[row[0]] for row in SCRIPTS]

    # cases of the last days answered from the library, and compensation proposals
    for n, manager in enumerate(managers):
        book = list(Player.objects.filter(NOT_ERASED, manager=manager, tier__isnull=False).order_by("-total_spend")[:3])
        if not book:
            continue
        player = book[0]
        opened = now - timedelta(hours=6 + n)
        with time_machine.travel(opened, tick=False):
            case = case_open(
                player=player,
                category=CaseCategory.COMPLAINT,
                severity=CaseSeverity.HIGH,
                subject="限定活动奖励没有发放",
                description="玩家称活动结束三天仍未收到限定坐骑。",
                actor=manager,
            )
        with time_machine.travel(opened + timedelta(minutes=40), tick=False):
            try:
                text = script_insert(script=scripts[1], player=player, actor=manager)
                case_reply(
                    case=case, text=text.replace("处理结果是：", "处理结果是：今天内补发限定坐骑。"), actor=manager
                )
            except ValidationError:
                pass  # a value this player has not got: the reply waits for the manager
        with time_machine.travel(opened + timedelta(hours=1), tick=False):
            value = Decimal("388") if n % 2 == 0 else Decimal("128")
            proposal = compensation_propose(
                case=case,
                item="限定坐骑 + 888 钻石" if n % 2 == 0 else "补偿礼包",
                value=value,
                reason="活动奖励延迟发放，按投诉处理规范补偿",
                actor=manager,
            )
        if n == 1:
            # over the tier's gift budget it stays in the queue
            with time_machine.travel(opened + timedelta(hours=2), tick=False), contextlib.suppress(ValidationError):
                compensation_approve(proposal=proposal, actor=supervisor, note="同意，按规范执行")
        elif n == 2:
            with time_machine.travel(opened + timedelta(hours=2), tick=False):
                compensation_refuse(proposal=proposal, actor=supervisor, note="超出标准，改送补偿礼包")
        for script in scripts[: 2 + n % 3]:
            with contextlib.suppress(ValidationError):
                script_insert(script=script, player=player, actor=manager)

    # the surveys the resolved cases sent: most answered, one low score
    waiting = list(
        SatisfactionSurvey.objects.filter(status=SurveyStatus.SENT)
        .filter(player__erased_at__isnull=True)  # nobody asks a player erased on request
        .order_by("sent_at")[:12]
    )
    for n, survey in enumerate(waiting):
        if n % 4 == 3:
            continue  # not answered yet
        score = 2 if n == 0 else rng.choice([4, 5, 5, 3])
        reason = "等了太久才处理" if score <= 2 else rng.choice(["处理很快", "客服很耐心", "还行", ""])
        answered = min(survey.sent_at + timedelta(hours=rng.uniform(1, 20)), now - timedelta(minutes=5))
        with time_machine.travel(max(answered, survey.sent_at), tick=False):
            survey_answer(survey=survey, score=score, reason=reason, via="link" if n % 2 else "in_game")
