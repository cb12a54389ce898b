from django.contrib import admin
from django.urls import path

from . import system_status, top_spenders, views

app_name = "workplace"

urlpatterns = [
    path("refresh/", admin.site.admin_view(views.dashboard_refresh_now), name="refresh"),
    path("player/<int:pk>/contact/", admin.site.admin_view(views.player_log_contact), name="log_contact"),
    path("player/<int:pk>/pin-tier/", admin.site.admin_view(views.player_pin_tier), name="pin_tier"),
    path("top-spenders/", admin.site.admin_view(top_spenders.top_spenders_view), name="top_spenders"),
    path("top-spenders/book/", admin.site.admin_view(top_spenders.top_spenders_book), name="top_spenders_book"),
    path("system-status/", admin.site.admin_view(system_status.system_status_view), name="system_status"),
    path("year-spend/", admin.site.admin_view(top_spenders.year_spend_view), name="year_spend"),
]
