from rest_framework import serializers

from vip.models import Tier


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["name", "level", "min_spend", "window_days"]
