from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Player & VIP relations")
admin.site.site_title = _("VIP CRM")
admin.site.index_title = _("Workplace")

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    # The workplace's own admin pages (quick actions, dashboard refresh); the
    # dashboard itself is the admin index (templates/admin/index.html).
    path("admin/workplace/", include("crm.workplace.urls")),
    path("admin/", admin.site.urls),
]
