"""A request the server cannot read (too many fields at once, e.g. a huge selection) gets a
page that says so in Chinese and English and leads back, not Django's bare "Bad Request (400)"."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.tests.browser import in_chinese, login, shot

PASSWORD = "browser-pw-400"


def test_a_request_with_too_many_fields_reads_as_a_page_that_leads_back(page, live_server, base_data, settings):
    manager = get_user_model().objects.create_user(username="liuyang", password=PASSWORD, is_staff=True)
    manager.groups.add(Group.objects.get(name="VIP manager"))
    in_chinese(page, live_server.url)
    login(page, live_server.url, "liuyang", PASSWORD)

    too_many = "&".join(f"tier{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = page.goto(f"{live_server.url}/admin/players/player/?{too_many}")

    assert response.status == 400
    assert page.locator("h1").inner_text() == "请求无法处理"
    assert "The request could not be processed" in page.locator("h2").inner_text()
    shot(page, "bad-request-400")
    page.get_by_role("link", name="返回工作台").click()
    page.wait_for_selector("#section-my_day")
    assert page.url == f"{live_server.url}/admin/"
