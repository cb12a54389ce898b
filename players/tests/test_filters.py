"""players.filters.PlayerFilterSet: one set of filter rules for the API and the admin's sidebar."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from players.filters import SPEND_BANDS, PlayerFilterSet, player_filter_apply
from players.models import Player

CHANGELIST = reverse("admin:players_player_changelist")
BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def as_supervisor(supervisor):
    client = Client()
    client.force_login(supervisor, backend=BACKEND)
    return client


def listed(client, query):
    response = client.get(CHANGELIST + query, follow=True)
    assert response.status_code == 200, (query, response.status_code)
    return {p.account_id for p in response.context["cl"].result_list}, [str(m) for m in response.context["messages"]]


def test_spend_bands_are_decimal_and_their_edges_are_exact(make_player):
    for name, spend in [("zero", "0"), ("cent", "0.01"), ("edge", "99.99"), ("hundred", "100.00")]:
        make_player(account_id=name, total_spend=Decimal(spend))

    def band(value):
        return set(
            PlayerFilterSet({"spend_band": value}, queryset=Player.objects.all()).qs.values_list(
                "account_id", flat=True
            )
        )

    assert all(isinstance(bound, Decimal) for bounds in SPEND_BANDS.values() for bound in bounds if bound is not None)
    assert (band("0"), band("1-99"), band("100-999")) == ({"zero"}, {"cent", "edge"}, {"hundred"})


def test_the_admin_sidebar_and_the_filterset_agree(as_supervisor, make_player, manager):
    cache.clear()
    make_player(account_id="rich", total_spend=Decimal("20000"), manager=manager)
    make_player(account_id="mid", total_spend=Decimal("500"))
    make_player(account_id="none", total_spend=Decimal(0))

    for query, params in [
        ("?spend=10000%2B", {"spend_band": "10000+"}),
        ("?spend=100-999", {"spend_band": "100-999"}),
        ("?login=never", {"last_login": "never"}),
        ("?manager=none", {"without_manager": "true"}),
        (f"?manager={manager.pk}", {"manager": str(manager.pk)}),
    ]:
        expected, errors = player_filter_apply(Player.objects.all(), **params)
        assert errors == {}
        assert listed(as_supervisor, query)[0] == set(expected.values_list("account_id", flat=True)), query


def test_spend_bands_are_named_in_the_configured_currency(as_supervisor, settings, make_player):
    settings.CRM_BASE_CURRENCY = "USD"
    make_player()

    page = as_supervisor.get(CHANGELIST).content.decode()

    assert "$100 – $999" in page and "$10,000 and more" in page
    assert "¥" not in page


@pytest.mark.parametrize(
    "query", ["?spend=1e400", "?spend=%27%20OR%201%3D1", "?manager=abc", "?manager=-1", "?login=%00", "?manager=9" * 30]
)
def test_hostile_filter_values_are_ignored_with_a_message(as_supervisor, make_player, query):
    make_player(account_id="kept")

    shown, messages = listed(as_supervisor, query)

    assert shown == {"kept"}
    assert len(messages) == 1 and "it was ignored" in messages[0], messages


@pytest.mark.parametrize(
    "query", ["?nickname__range=a,b", "?nickname__range=a", "?account_id__range=", "?level__range=1,9"]
)
def test_a_range_lookup_in_the_url_is_refused_not_a_500(as_supervisor, make_player, query):
    make_player(nickname="b")

    response = as_supervisor.get(CHANGELIST + query)

    assert response.status_code == 400
