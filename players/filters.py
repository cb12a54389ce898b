"""One FilterSet for players: the API's `filterset_class`, and the logic of the admin's list
filters (players.admin's SimpleListFilters call these filters; they hold no rule of their own).

Money is Decimal and named in the configured base currency (settings.CRM_BASE_CURRENCY)."""

from datetime import timedelta
from decimal import Decimal

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.formatting import money

from .models import PayerStatus, Player

# Total spend bands of the player list, in the base currency: value -> (at least, at most).
SPEND_BANDS = {
    "0": (None, Decimal(0)),
    "1-99": (Decimal("0.01"), Decimal("99.99")),
    "100-999": (Decimal(100), Decimal("999.99")),
    "1000-9999": (Decimal(1000), Decimal("9999.99")),
    "10000+": (Decimal(10000), None),
}


def spend_band_choices():
    """The bands' labels, in the base currency (¥1 – ¥99 for CNY, $1 – $99 for USD...)."""

    def whole(amount):
        return money(amount).removesuffix(".00")

    return [
        ("0", _("nothing")),
        ("1-99", f"{whole(1)} – {whole(99)}"),
        ("100-999", f"{whole(100)} – {whole(999)}"),
        ("1000-9999", f"{whole(1000)} – {whole(9999)}"),
        ("10000+", _("%(amount)s and more") % {"amount": whole(10000)}),
    ]


LAST_LOGIN_CHOICES = [
    ("7", _("within 7 days")),
    ("30", _("within 30 days")),
    ("30+", _("more than 30 days ago")),
    ("never", _("never")),
]
NO_MANAGER = "none"


class PlayerFilterSet(django_filters.FilterSet):
    server = django_filters.CharFilter(label=_("server"))
    channel = django_filters.CharFilter(label=_("channel"))
    payer_status = django_filters.ChoiceFilter(choices=PayerStatus.choices, label=_("payer status"))
    # Bounded, so that no query value overflows an integer column (the API must not 500).
    vip_level_min = django_filters.NumberFilter(
        field_name="tier__level", lookup_expr="gte", label=_("VIP level at least"), min_value=-32768, max_value=32767
    )
    vip_level_max = django_filters.NumberFilter(
        field_name="tier__level", lookup_expr="lte", label=_("VIP level at most"), min_value=-32768, max_value=32767
    )
    manager = django_filters.NumberFilter(
        field_name="manager_id", label=_("VIP manager"), min_value=0, max_value=2**63 - 1, decimal_places=0
    )
    spend_min = django_filters.NumberFilter(field_name="total_spend", lookup_expr="gte", label=_("spend at least"))
    spend_max = django_filters.NumberFilter(field_name="total_spend", lookup_expr="lte", label=_("spend at most"))
    last_login_before = django_filters.IsoDateTimeFilter(field_name="last_login_at", lookup_expr="lt")
    last_login_after = django_filters.IsoDateTimeFilter(field_name="last_login_at", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("updated since")
    )
    # The player list's bands and shortcuts (the admin's sidebar; the API accepts them too).
    spend_band = django_filters.ChoiceFilter(
        choices=spend_band_choices, method="filter_spend_band", label=_("total spend")
    )
    last_login = django_filters.ChoiceFilter(
        choices=LAST_LOGIN_CHOICES, method="filter_last_login", label=_("last login")
    )
    without_manager = django_filters.BooleanFilter(field_name="manager", lookup_expr="isnull", label=_("no manager"))

    class Meta:
        model = Player
        fields = []

    def filter_spend_band(self, queryset, name, value: str):
        low, high = SPEND_BANDS[value]
        if value == "0":
            return queryset.filter(total_spend=0)
        if low is not None:
            queryset = queryset.filter(total_spend__gte=low)
        if high is not None:
            queryset = queryset.filter(total_spend__lte=high)
        return queryset

    def filter_last_login(self, queryset, name, value: str):
        now = timezone.now()
        if value in ("7", "30"):
            return queryset.filter(last_login_at__gte=now - timedelta(days=int(value)))
        if value == "30+":
            return queryset.filter(last_login_at__lt=now - timedelta(days=30))
        return queryset.filter(last_login_at__isnull=True)  # never


def player_filter_apply(queryset, **params):
    """`queryset` narrowed by PlayerFilterSet filters given as query parameters, e.g.
    player_filter_apply(qs, spend_band="100-999"). Returns (queryset, errors): a value the
    filter refuses is left out and named in `errors` ({parameter: [messages]})."""
    filterset = PlayerFilterSet(data=params, queryset=queryset)
    if not filterset.is_valid():
        return queryset, {name: list(errors) for name, errors in filterset.errors.items()}
    return filterset.qs, {}
