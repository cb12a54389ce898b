from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from crm.api.errors import api_not_found
from crm.site_root import favicon, site_root
from players.public import survey_page

admin.site.site_header = _("Player & VIP relations")
admin.site.site_title = _("VIP CRM")
admin.site.index_title = _("Workplace")
admin.site.site_url = None  # no "View site": the workplace is the site ("/" leads here)

public = {"authentication_classes": [], "permission_classes": [AllowAny], "throttle_classes": []}

urlpatterns = [
    # First: every game API request is looked up here (its prefix is no other pattern's).
    path("api/v1/", include("players.api.urls")),
    path("api/v1/", include("vip.api.urls")),
    path("", site_root, name="site-root"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("survey/<str:token>/", survey_page, name="survey"),
    # The workplace's own admin pages (quick actions, dashboard refresh); the
    # dashboard itself is the admin index (templates/admin/index.html).
    path("admin/workplace/", include("crm.workplace.urls")),
    path("admin/", admin.site.urls),
    path("hooks/", include("campaigns.urls")),  # providers' callbacks (SMS delivery receipts)
    path("api/schema/", SpectacularAPIView.as_view(**public), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **public), name="api-docs"),
    # Anything else under /api/ answers in the contract's error shape.
    re_path(r"^api/", api_not_found),
]

handler400 = "crm.api.errors.handler400"
handler403 = "crm.refusals.handler403"  # the API's own JSON under /api/, a page in the admin's frame elsewhere
handler404 = "crm.refusals.handler404"
handler500 = "crm.api.errors.handler500"
