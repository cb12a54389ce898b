import importlib

import pytest
from django.apps import apps

from vip.models import Tier


@pytest.fixture
def tiers(db):
    """The default tiers seeded by the migration, by name. A transactional or live-server
    test earlier in the same worker may have flushed them: seed them again then."""
    if not Tier.objects.exists():
        importlib.import_module("vip.migrations.0002_default_tiers").seed_tiers(apps, None)
    return {t.name: t for t in Tier.objects.all()}


@pytest.fixture(autouse=True)
def tiers_not_remembered():
    """Tiers a test wrote (or a flush and reseed replaced) must not outlive it in the event
    path's memo (vip.services.tiers_for_events)."""
    from vip.services import tiers_forget

    tiers_forget()
    yield
    tiers_forget()
