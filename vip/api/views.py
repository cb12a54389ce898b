from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView

from vip.models import Tier

from .serializers import TierSerializer


class TierListView(ListAPIView):
    serializer_class = TierSerializer
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return Tier.objects.order_by("level")

    @extend_schema(operation_id="vip_tiers_list", summary="The configured VIP tiers, lowest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
