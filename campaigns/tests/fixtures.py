import itertools

import pytest

from campaigns.models import GreetingRule


@pytest.fixture
def keep_seed_data(django_db_setup, django_db_blocker):
    """For `transactional_db` tests: their closing flush empties every table, including
    the rows migrations seed (VIP tiers, role groups), which later tests in the same
    worker rely on. This saves those rows before the test and puts them back after the
    flush. Request it BEFORE `transactional_db` in the test's arguments (teardown runs
    in reverse order)."""
    from django.core.management import call_command
    from django.db import connection

    with django_db_blocker.unblock():
        saved = connection.creation.serialize_db_to_string()
    yield
    with django_db_blocker.unblock():
        # The flush re-created content types and permissions (post_migrate): clear those
        # too, then load the saved rows with their original ids.
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(saved)
        # The flush's post_migrate cached the re-created content types' new ids; the rows
        # now have their original ids again (else the admin log points at a missing id).
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
        # The flush restarted the id sequences (PostgreSQL) while the rows came back with
        # their ids: move the sequences past them, or the next insert of a seeded model
        # (a tier, a churn rule, a periodic task) collides with id 1.
        from django.apps import apps
        from django.core.management.color import no_style

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models(include_auto_created=True)):
                cursor.execute(sql)


_rule_names = itertools.count(1)


@pytest.fixture
def make_rule(db):
    """make_rule(occasion="birthday", task_lead_days=1, ...) -> a saved, validated GreetingRule."""

    def make(*, tags=(), **fields):
        fields.setdefault("name", f"rule {next(_rule_names)}")
        fields.setdefault("occasion", "birthday")
        if "message_channel" not in fields and "task_lead_days" not in fields:
            fields["task_lead_days"] = 1
        rule = GreetingRule(**fields)
        rule.full_clean()
        rule.save()
        if tags:
            rule.tags.set(tags)
        return rule

    return make


@pytest.fixture
def make_campaign(db, supervisor):
    """make_campaign(segment={...}, channel="sms", ...) -> a saved draft campaign."""
    from datetime import date

    from campaigns.models import Campaign
    from campaigns.services.campaigns import campaign_save

    def make(team=None, **fields):
        fields.setdefault("name", "Win back quiet whales")
        fields.setdefault("template", "您好 {nickname}，好久不见！")
        fields.setdefault("start_date", date(2026, 11, 22))
        fields.setdefault("due_date", date(2026, 11, 30))
        fields.setdefault("segment", {})
        return campaign_save(campaign=Campaign(**fields), actor=supervisor, team=team)

    return make
