"""What a supervisor reads of an SMS provider's answers, in a real browser: a refusal with
the provider's code, a message the carrier could not deliver, and when a delivered one
reached the phone — in Chinese, the receipts pushed by the (fake) provider over HTTP."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from campaigns.models import Message
from campaigns.services.messaging import message_queue, messages_deliver_due
from campaigns.tests.fake_sms import FakeTencent
from campaigns.webhooks import sms_receipt_token
from crm.tests.browser import login, shot
from players.models import Player


@pytest.fixture
def tencent_answers(base_data, settings, live_server):
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")  # whatever the hour in Shanghai
    settings.CRM_SMS_MARKETING_HOURS = ("00:00", "00:00")
    settings.CRM_SMS_RECEIPT_SECRET = "browser-receipts"
    fake = FakeTencent(key_id="AKIDbrowser", secret="browser-secret").start()
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "sms": {
            "BACKEND": "campaigns.channels.tencent.TencentSmsBackend",
            "OPTIONS": {
                "secret_id": fake.key_id,
                "secret_key": fake.secret,
                "endpoint": fake.endpoint,
                "protocol": "http",
                "sdk_app_id": "1400000001",
                "sign_name": "龙城游戏",
                "template_marketing": "1800001",
                "template_service": "1800002",
                "timeout": 5,
            },
        },
    }
    user = get_user_model().objects.create_user(
        username="zhou", password="browser-pw-23", first_name="敏", last_name="周", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Supervisor"))
    players = {
        name: Player.objects.create(account_id=name, nickname=name, phone=phone)
        for name, phone in (("delivered", "+8613800000011"), ("empty", "+8613800000012"), ("bad", "+8613800000013"))
    }
    for name, player in players.items():
        message_queue(player=player, channel="sms", body="您的充值已到账", source=f"browser:{name}", is_marketing=False)
    fake.number_errors = {"+8613800000013": ("InvalidParameterValue.IncorrectPhoneNumber", "invalid mobile number")}
    messages_deliver_due()
    # the provider pushes its receipts to the CRM over HTTP
    url = live_server.url + reverse(
        "sms-receipts", kwargs={"provider": "tencent", "token": sms_receipt_token("tencent")}
    )
    assert fake.push_receipts(url, fake.receipts(failed={"+8613800000012": ("MK:0001", "空号")})) == {
        "result": 0,
        "errmsg": "OK",
    }
    yield {name: Message.objects.get(player=player) for name, player in players.items()}
    fake.stop()


def test_a_supervisor_reads_the_providers_answers_in_chinese(page, live_server, tencent_answers):
    base = live_server.url
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    login(page, base, "zhou", "browser-pw-23")

    page.goto(f"{base}/admin/campaigns/message/?channel__exact=sms")
    page.wait_for_selector("#result_list")
    listing = page.locator("#result_list").inner_text()
    shot(page, "sms-provider-answers-chinese")
    assert "腾讯云短信" in listing
    assert "InvalidParameterValue.IncorrectPhoneNumber" in listing and "MK:0001" in listing
    assert "provider_refused" not in listing and "provider_undelivered" not in listing and "tencent" not in listing

    undelivered = tencent_answers["empty"]
    page.goto(f"{base}/admin/campaigns/message/{undelivered.pk}/change/")
    page.wait_for_selector("#content")
    detail = page.locator("#content").inner_text()
    shot(page, "sms-undelivered-reason-chinese")
    assert "腾讯云短信" in detail and "空号" in detail and "provider_undelivered" not in detail

    delivered = tencent_answers["delivered"]
    page.goto(f"{base}/admin/campaigns/message/{delivered.pk}/change/")
    page.wait_for_selector("#content")
    detail = page.locator("#content").inner_text()
    assert delivered.delivered_at is not None and "送达时间" in detail
    assert delivered.provider_ref in detail  # the provider's id, for a ticket with the provider
