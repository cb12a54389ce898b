from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Player & VIP relations")
admin.site.site_title = _("VIP CRM")
admin.site.index_title = _("Workplace")

urlpatterns = [
    path("admin/", admin.site.urls),
]
