from django.contrib import admin
from django.urls import path

from . import views

app_name = "workplace"

urlpatterns = [
    path("refresh/", admin.site.admin_view(views.dashboard_refresh_now), name="refresh"),
    path("player/<int:pk>/contact/", admin.site.admin_view(views.player_log_contact), name="log_contact"),
    path("player/<int:pk>/pin-tier/", admin.site.admin_view(views.player_pin_tier), name="pin_tier"),
]
