"""WeCom in a real browser, in Chinese: the customer card's WeCom link (who serves the player
there, their tags; a link to the customer's record for a supervisor), and a supervisor
reading the per-manager group-message tasks' results after they were read back from the
(fake) WeCom. Every moment is pinned."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from campaigns.models import Message, WecomContact, WecomMember, WecomTag, WecomTask
from campaigns.services.campaigns import campaign_launch
from campaigns.services.messaging import messages_deliver_due
from campaigns.services.wecom import wecom_results_read
from campaigns.tests.fake_wecom import FakeWecom
from crm.channels import message_caps_setting
from crm.tests.browser import in_chinese, login, shot
from players.models import Player

LAUNCH = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
PASSWORD = "browser-pw-23"


def _staff(username, role, last, first):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=first, last_name=last, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def wecom_team(base_data, settings, make_campaign, supervisor):
    settings.CRM_QUIET_HOURS = ("22:00", "09:00")
    settings.CRM_MESSAGE_CAPS = message_caps_setting("", wecom_limit="month")
    fake = FakeWecom(corp_id=f"ww{uuid.uuid4().hex[:16]}", users=("WangFang", "LiQiang")).start()
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "wechat": {
            "BACKEND": "campaigns.channels.wecom.WecomBackend",
            "OPTIONS": {"corp_id": fake.corp_id, "secret": fake.secret, "api_base_url": fake.base_url, "timeout": 5},
        },
    }
    wang = _staff("wangfang", "VIP manager", "王", "芳")
    li = _staff("liqiang", "VIP manager", "李", "强")
    _staff("zhou", "Supervisor", "周", "敏")
    members = {
        "wang": WecomMember.objects.create(user=wang, userid="WangFang"),
        "li": WecomMember.objects.create(user=li, userid="LiQiang"),
    }
    vip = WecomTag.objects.create(tag_id="t1", name="高价值", group_name="价值")
    players = {}
    for who, user, count in (("wang", wang, 3), ("li", li, 2)):
        for i in range(count):
            player = Player.objects.create(account_id=f"wc-{who}-{i}", nickname=f"{who}玩家{i}", manager=user)
            fake.add_customer(members[who].userid, f"wm-{who}-{i}")
            contact = WecomContact.objects.create(
                external_userid=f"wm-{who}-{i}", player=player, member=members[who], synced_at=LAUNCH
            )
            contact.tags.add(vip)
            players[f"{who}{i}"] = player
    players["stranger"] = Player.objects.create(account_id="stranger", nickname="路人", manager=wang)
    campaign = make_campaign(
        name="双十一回归礼", channel="wechat", holdout_percent=0, template="周末双倍返利，上线领取！"
    )
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    messages_deliver_due(now=LAUNCH)
    tasks = {t.member.userid: t for t in WecomTask.objects.select_related("member")}
    # Wang sends his: two got it, one is no longer his contact; Li has not confirmed yet
    sent_at = int((LAUNCH + timedelta(hours=1)).timestamp())
    fake.member_sends(tasks["WangFang"].msgid, sent=["wm-wang-0", "wm-wang-1"], not_friend=["wm-wang-2"], at=sent_at)
    wecom_results_read(now=LAUNCH + timedelta(hours=2))
    yield players
    fake.stop()


def test_the_customer_card_shows_the_wecom_link(page, live_server, wecom_team):
    base = live_server.url
    in_chinese(page, base)
    player = wecom_team["wang0"]

    # the manager reads who serves the player in WeCom and their tags
    login(page, base, "wangfang", PASSWORD)
    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.wait_for_selector("#customer-card")
    fact = page.locator("[data-fact=wecom]")
    assert fact.inner_text() == "企业微信\n由王芳服务 · 高价值"
    assert fact.locator("a").count() == 0  # no access to WeCom's records
    shot(page, "wecom-01-card-manager")

    # a player who is nobody's WeCom customer says so
    page.goto(f"{base}/admin/players/player/{wecom_team['stranger'].pk}/change/")
    page.wait_for_selector("#customer-card")
    assert page.locator("[data-fact=wecom]").inner_text() == "企业微信\n不是企业微信客户（未关联）"

    # the supervisor follows the link to the customer's record
    page.context.clear_cookies()
    in_chinese(page, base)
    login(page, base, "zhou", PASSWORD)
    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.wait_for_selector("#customer-card")
    page.locator("[data-fact=wecom] a").click()
    page.wait_for_selector("#content")
    record = page.locator("#content").inner_text()
    shot(page, "wecom-02-contact-record")
    assert "wm-wang-0" in record and "王芳" in record and "高价值" in record


def test_a_supervisor_reads_each_managers_task_results_in_chinese(page, live_server, wecom_team):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "zhou", PASSWORD)

    page.goto(f"{base}/admin/campaigns/wecomtask/")
    page.wait_for_selector("#result_list")
    rows = {row.split("\t")[0].strip(): row for row in page.locator("#result_list tbody tr").all_inner_texts()}
    shot(page, "wecom-03-tasks-per-manager")
    header = page.locator("#result_list thead").inner_text()
    for label in ("成员", "客户数", "已发送", "已非好友", "超出客户接收上限", "待发送", "状态"):
        assert label in header, (label, header)
    assert set(rows) == {"王芳", "李强"}
    assert all("双十一回归礼" in row for row in rows.values())
    wang = rows["王芳"].split("\t")
    li = rows["李强"].split("\t")
    # Wang: 3 customers, 2 sent, 1 no longer a contact, none waiting, results read
    assert [c.strip() for c in wang[3:9]] == ["3", "2", "1", "0", "0", "0"] and "已读取结果" in wang[9]
    # Li has not sent his yet
    assert [c.strip() for c in li[3:9]] == ["2", "0", "0", "0", "0", "2"] and "等待成员发送" in li[9]
    assert "wecom_" not in page.content()

    # and a message of Wang's task says why it did not go
    gone = Message.objects.get(player=wecom_team["wang2"])
    page.goto(f"{base}/admin/campaigns/message/{gone.pk}/change/")
    page.wait_for_selector("#content")
    assert "未发送：该玩家已不是王芳的企业微信联系人。" in page.locator("#content").inner_text()
    shot(page, "wecom-04-message-reason")
