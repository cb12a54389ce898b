"""Chinese everywhere: every user-visible string of ours has a zh_Hans translation."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from crm.i18n_check import missing_translations, xgettext_available

needs_xgettext = pytest.mark.skipif(
    not xgettext_available(), reason="needs GNU gettext's xgettext (apt-get install gettext) to extract msgids"
)


@pytest.fixture
def compiled_catalogues(settings):
    """The .po catalogues compiled, and Django's translation caches reset to load them."""
    call_command("compile_catalogues", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)  # setting_changed clears the caches


@needs_xgettext
def test_every_string_of_ours_has_a_chinese_translation():
    missing = missing_translations()
    assert not missing, "No Chinese for:\n" + "\n".join(map(str, missing))


@needs_xgettext
def test_a_string_without_translation_is_reported(tmp_path):
    module = tmp_path / "new_feature.py"
    module.write_text(
        "from django.utils.translation import gettext_lazy as _, ngettext\n"
        "A = _('A zebra-striped string nobody translated')\n"
        "B = _('Save')\n"
        "C = ngettext('%(n)d zebra', '%(n)d zebras', 2)\n"
    )
    template = tmp_path / "page.html"
    template.write_text("{% load i18n %}<p>{% translate 'Zebra crossing ahead' %}</p>{% translate 'Timeline' %}")

    missing = {m.msgid for m in missing_translations([module, template])}

    assert missing == {"A zebra-striped string nobody translated", "%(n)d zebra", "Zebra crossing ahead"}


def test_the_dashboard_speaks_chinese(manager, compiled_catalogues):
    client = Client()
    client.force_login(manager)

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("admin:index")})
    page = client.get(response["Location"]).content.decode()

    assert "我的今天" in page and "待办任务" in page and "My day" not in page
