from django.urls import path

from . import views

urlpatterns = [path("vip/tiers/", views.TierListView.as_view(), name="api-vip-tiers")]
