"""Chinese pages as people see them: every admin list and page, rendered with the demo's
data in zh-hans, for a manager, a supervisor and a superuser, shows no English phrase,
no code (`at_risk`), no UTC timestamp, no `key=value` dump and no internal reference."""

from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from crm.i18n_check import raw_text_found, visible_text
from players.models import Player

# Third-party screens only a superuser opens (login throttling, the beat scheduler), and
# Django's permission names (stored in English by Django itself): not ours to word.
SKIP_APPS = {"axes", "django_celery_beat"}
SKIP_PAGES = {"/admin/auth/group/", "/admin/auth/user/"}
CUSTOM_PAGES = [
    "/admin/",
    "/admin/players/case/report/",
    "/admin/players/case/report/week/",
    "/admin/players/case/report/month/",
    "/admin/workplace/top-spenders/",
    "/admin/workplace/year-spend/",
]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", players=150, stdout=StringIO())
            call_command("compile_catalogues", stdout=StringIO())
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def language_reset():
    """The locale middleware leaves the request's language active in this thread (the
    test client runs the request here); later tests on this worker expect none."""
    yield
    translation.deactivate()


def _pages(user):
    urls = list(CUSTOM_PAGES)
    for model, _model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        if info[0] in SKIP_APPS:
            continue
        try:
            urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        latest = model._default_manager.order_by("-pk").first()
        if latest is not None and not any(urls[-1].startswith(p) for p in SKIP_PAGES):
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[latest.pk]))
    return urls


def _allowed():
    """Data that is what it is: usernames, and the acquisition channels the game reports."""
    names = set(get_user_model().objects.values_list("username", flat=True))
    return names | set(Player.objects.values_list("channel", flat=True).distinct())


@pytest.mark.parametrize("username", ["manager_li", "supervisor", "admin"])
def test_every_admin_page_reads_as_chinese(demo, db, username):
    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "zh-hans"
    allowed = _allowed()
    problems = {}
    for url in _pages(user):
        response = client.get(url, follow=False)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue  # not this user's page (403, or a redirect to the player page)
        found = raw_text_found(visible_text(response.content.decode()), allowed=allowed)
        if found:
            problems[url] = sorted({str(f) for f in found})
    assert not problems, "\n".join(f"{url}: {found}" for url, found in problems.items())


def test_the_check_catches_what_a_person_should_not_read():
    text = visible_text(
        "<p>付费状态: at_risk</p><td>category=complaint, severity=high</td>"
        "<span title='Choose all'>2026-12-09T04:23:30.5+00:00</span><script>var at_risk_x=1</script>"
        "<p>greeting:1:20261207</p><p>{nickname} VIP 客服 QQ</p>"
    )
    kinds = sorted({(f.kind, f.text) for f in raw_text_found(text)})
    assert kinds == [
        ("English", "Choose all"),
        ("UTC time", "2026-12-09T04:23:30.5+00:00"),
        ("code", "at_risk"),
        ("key=value", "category=complaint"),
        ("key=value", "severity=high"),
        ("reference", "greeting:1:20261207"),
    ]
