"""One FilterSet for players, used by the API and (through its methods) the admin."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .models import PayerStatus, Player


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

    class Meta:
        model = Player
        fields = []
