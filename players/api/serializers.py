"""Player and event shapes of the game API (../shared/API.md). Personal data (phone,
real name, birthday, QQ, WeChat, email) is accepted where the contract says so and
never written out."""

from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.fields import api_datetime
from players.models import PayerStatus, PaymentKind

from ..services.events import aware_datetime


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset; a time without one is refused, not guessed."""

    def to_internal_value(self, value):
        if isinstance(value, datetime):
            value = value.isoformat()
        errors: dict = {}
        parsed = aware_datetime(value, "value", errors)
        if errors:
            raise serializers.ValidationError(errors["value"])
        return parsed


class VipSerializer(serializers.Serializer):
    tier = serializers.CharField(source="tier.name", allow_null=True, default=None)
    level = serializers.IntegerField(source="tier.level", default=0)
    since = serializers.DateTimeField(source="tier_since", allow_null=True)


class PlayerSerializer(serializers.Serializer):
    account_id = serializers.CharField()
    nickname = serializers.CharField()
    server = serializers.CharField()
    vip = VipSerializer(source="*")
    total_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    last_paid_at = serializers.DateTimeField(allow_null=True)
    last_login_at = serializers.DateTimeField(allow_null=True)
    payer_status = serializers.ChoiceField(choices=PayerStatus.choices)

    def to_representation(self, player):
        return player_body(player)


def player_body(player) -> dict:
    """A player as the API shows it (PlayerSerializer's fields, documented above): by
    hand, without the generic machinery, on the hot read path (GET player calls it
    without a serializer)."""
    tier = player.tier
    return {
        "account_id": player.account_id,
        "nickname": player.nickname,
        "server": player.server,
        "vip": {
            "tier": tier.name if tier else None,
            "level": tier.level if tier else 0,
            "since": api_datetime(player.tier_since),
        },
        "total_spend": f"{player.total_spend:.2f}",
        "last_paid_at": api_datetime(player.last_paid_at),
        "last_login_at": api_datetime(player.last_login_at),
        "payer_status": player.payer_status,
    }


class PlayerProfileSerializer(serializers.Serializer):
    """PUT /api/v1/players/<account_id>/: the profile the game knows. Absent fields are left as they are."""

    nickname = serializers.CharField(max_length=64, allow_blank=True, required=False)
    server = serializers.CharField(max_length=32, allow_blank=True, required=False)
    registered_at = AwareDateTimeField(allow_null=True, required=False)
    channel = serializers.CharField(max_length=32, allow_blank=True, required=False)
    level = serializers.IntegerField(min_value=0, max_value=2147483647, required=False)
    last_login_at = AwareDateTimeField(allow_null=True, required=False)
    phone = serializers.CharField(
        max_length=32, allow_blank=True, required=False, write_only=True, help_text=_("Stored, never returned.")
    )
    birthday = serializers.DateField(
        allow_null=True, required=False, write_only=True, help_text=_("YYYY-MM-DD. Stored, never returned.")
    )


class PaymentEventSerializer(serializers.Serializer):
    """Documentation of one payment event; validation is `players.services.events`."""

    event_id = serializers.CharField(min_length=1, max_length=128)
    type = serializers.ChoiceField(choices=PaymentKind.choices)
    account_id = serializers.CharField(min_length=1, max_length=64)
    server = serializers.CharField(max_length=32, required=False, allow_blank=True)
    amount = serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("1000000"), coerce_to_string=True
    )
    currency = serializers.CharField(min_length=3, max_length=3, help_text=_("ISO 4217, e.g. CNY"))
    occurred_at = AwareDateTimeField(help_text=_("ISO 8601 with offset; not more than 24 h in the future."))
    order_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    product = serializers.CharField(max_length=200, required=False, allow_blank=True)
    refund_of = serializers.CharField(max_length=128, required=False, allow_blank=True)


class PaymentResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("created", "created"), ("duplicate", "duplicate")])
    event_id = serializers.CharField()


class PaymentBatchSerializer(serializers.Serializer):
    events = PaymentEventSerializer(many=True, max_length=1000)


class BatchErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True, required=False)
    error = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class PaymentBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    errors = BatchErrorSerializer(many=True)


class LoginEventSerializer(serializers.Serializer):
    account_id = serializers.CharField(min_length=1, max_length=64)
    server = serializers.CharField(max_length=32, required=False, allow_blank=True)
    occurred_at = AwareDateTimeField()


class LoginBatchSerializer(serializers.Serializer):
    events = LoginEventSerializer(many=True, max_length=1000)


class LoginBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    errors = BatchErrorSerializer(many=True)


class SurveyAnswerSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="The token the survey message carried.")
    account_id = serializers.CharField(max_length=64, help_text="The player answering: the survey's player.")
    score = serializers.IntegerField(min_value=1, max_value=5)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class SurveyAnswerResultSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"answered"')
    score = serializers.IntegerField()


class ProjectionLagSerializer(serializers.Serializer):
    pending_players = serializers.IntegerField(help_text="Players whose accepted events are not yet applied.")
    lag_seconds = serializers.FloatField(help_text="Age of the oldest of those events; 0 when none waits.")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("ok", "ok"), ("lagging", "lagging")])
    projection = ProjectionLagSerializer()
