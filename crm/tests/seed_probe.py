"""Run by crm/tests/test_isolation.py, in this order on one worker (not collected by
the suite itself: the file name does not start with test_)."""


def test_1_flushes_at_its_end(transactional_db):
    pass


# Also transactional: pytest-django runs the other tests before any transactional one
# (which hid the defect until the order was shuffled).
def test_2_still_finds_the_seeded_tiers_and_roles(transactional_db):
    from django.contrib.auth.models import Group

    from vip.models import Tier

    assert Tier.objects.count() >= 4
    assert Group.objects.filter(name="VIP manager").exists()
