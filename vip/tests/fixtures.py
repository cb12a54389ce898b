import pytest

from vip.models import Tier


@pytest.fixture
def tiers(db):
    """The default tiers seeded by the migration, by name."""
    return {t.name: t for t in Tier.objects.all()}
