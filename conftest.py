"""Root conftest: registers each app's fixtures (Saleor-style), and keeps every test
independent of the order tests run in."""

import pytest

pytest_plugins = [
    "crm.tests.fixtures",
    "crm.tests.browser",
    "players.tests.fixtures",
    "vip.tests.fixtures",
    "campaigns.tests.fixtures",
]

# Seed data: the rows migrations create (VIP tiers, role groups, churn rules, periodic
# tasks, content types, permissions) as serialised right after the test database was
# made. A transactional test (`transactional_db`, `live_server`) ends with a flush that empties every table; the hook
# below puts these rows back after it, whatever the test or its fixtures did, so that
# no later test depends on which tests ran before it on the same worker.
_SEED = pytest.StashKey[str]()
_FLUSHES = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def _seed_snapshot(request, django_db_setup, django_db_blocker):
    from django.db import connection

    if _SEED not in request.config.stash:
        with django_db_blocker.unblock():
            request.config.stash[_SEED] = connection.creation.serialize_db_to_string()


@pytest.fixture
def transactional_db(request, _seed_snapshot):
    """pytest-django's `transactional_db`, marked so that its closing flush is undone."""
    request.node.stash[_FLUSHES] = True
    request.getfixturevalue("_django_db_helper")


def seed_restore(config) -> None:
    """Empty the tables and load the seed rows back with their ids (the flush's
    post_migrate re-created content types and permissions under new ids)."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(config.stash[_SEED])
        ContentType.objects.clear_cache()
        # The flush restarted the id sequences (PostgreSQL) while the rows came back
        # with their ids: move the sequences past them.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models(include_auto_created=True)):
                cursor.execute(sql)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # After every fixture's teardown, the transactional test's flush included.
    try:
        return (yield)
    finally:
        # Not after the last test: the test database is gone by then (its session
        # fixture ended in this teardown) and the connection names the real one.
        if nextitem is not None and item.stash.get(_FLUSHES, False) and _SEED in item.config.stash:
            seed_restore(item.config)


@pytest.fixture(autouse=True)
def _no_cache_left_behind():
    """Every test starts with an empty in-process cache: the dashboard's team figures,
    filter choices and throttle counters another test cached on this worker would
    otherwise be read instead of this test's own (seen: a supervisor's revenue chart
    missing after a test whose figures had failed on a far-dated payment)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    for cache in caches.all():
        if isinstance(cache, LocMemCache):
            cache.clear()


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """Every test starts in the default language: a page rendered in zh-hans, or a task run
    under translation.activate, would otherwise leave Chinese active for the next test on
    the worker (seen: an English message assertion failing only after a Chinese page test)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
