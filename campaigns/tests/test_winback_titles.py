"""Win-back task titles are codes read in the reader's language (as greeting calls'), and the
migration turns titles stored in words, in either language, into those codes."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone, translation

from campaigns.models import OutreachTask, TaskKind, TaskTitle

migration = importlib.import_module("campaigns.migrations.0011_winback_task_title_codes")


@pytest.mark.parametrize(
    ("title", "params"),
    [
        ("Win back 寿星 (churned)", {"status": "churned"}),
        ("挽回 寿星（已流失）", {"status": "churned"}),
        ("Win back whale (at risk)", {"status": "at_risk", "reasons": []}),
        ("挽回 李白（消费下降, 近期未登录）", {"status": "at_risk", "reasons": ["spend_drop", "no_login"]}),
        (
            "Win back (x) (Payment overdue for their rhythm, Spend dropped)",
            {"status": "at_risk", "reasons": ["overdue", "spend_drop"]},
        ),
        ("Win back whale (because I say so)", None),
        ("Call the whale", None),
        ("", None),
    ],
)
def test_stored_titles_read_back_as_their_parameters(title, params):
    assert migration.title_params(title) == params


def test_the_migration_gives_crm_titles_their_code_and_leaves_typed_ones(make_player, make_task, manager):
    player = make_player(nickname="鲸鱼")
    due = timezone.localdate() + timedelta(days=2)
    made = make_task(player, manager, kind=TaskKind.WIN_BACK, title="挽回 鲸鱼（消费下降）", source="churn:2026-11-01")
    typed = make_task(player, manager, kind=TaskKind.WIN_BACK, title="Win back whale (boss asked)", source="churn:x")
    staff = make_task(player, manager, kind=TaskKind.WIN_BACK, title="Win back 鲸鱼 (churned)", due_date=due)
    migration.words_to_codes(apps, None)
    made.refresh_from_db(), typed.refresh_from_db(), staff.refresh_from_db()
    assert (made.title_code, made.title_params) == (
        TaskTitle.WIN_BACK,
        {"status": "at_risk", "reasons": ["spend_drop"]},
    )
    assert typed.title_code == "" and staff.title_code == ""  # not the CRM's words, or not the CRM's task
    with translation.override("en"):
        assert OutreachTask.objects.get(pk=made.pk).title_text == "Win back 鲸鱼 (Spend dropped)"
    with translation.override("zh-hans"):
        assert OutreachTask.objects.get(pk=made.pk).title_text == "挽回 鲸鱼（消费下降）"
