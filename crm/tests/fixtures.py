import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone


@pytest.fixture
def requires_postgres():
    """Skip, with the reason shown, where the suite runs on SQLite."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm")


@pytest.fixture
def make_staff(db):
    """make_staff("li", "VIP manager") -> an active staff user in that role."""

    def make(username, role=None, **extra):
        user = get_user_model().objects.create_user(username=username, password="pw", is_staff=True, **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def manager(make_staff):
    return make_staff("manager_a", "VIP manager")


@pytest.fixture
def other_manager(make_staff):
    return make_staff("manager_b", "VIP manager")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("boss", "Supervisor")


@pytest.fixture
def operations(make_staff):
    return make_staff("ops", "Operations")


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(username="root", password="pw", email="root@example.com")


# --- the workplace (dashboard, timeline) -------------------------------------


@pytest.fixture
def make_task(db):
    """make_task(player, assignee, due_date=..., **fields) -> an OutreachTask."""
    from campaigns.models import OutreachTask

    def make(player, assignee, **fields):
        fields.setdefault("title", "Call back")
        fields.setdefault("due_date", timezone.localdate())
        return OutreachTask.objects.create(player=player, assignee=assignee, **fields)

    return make


@pytest.fixture
def fresh_dashboard_cache():
    """Each test starts without cached team figures."""
    from django.core.cache import cache

    from crm.workplace.aggregates import CACHE_KEY

    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)
