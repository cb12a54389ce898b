"""What a browser asks of the site's root: '/' (the workplace is the admin) and the icon."""

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse

FAVICON = "crm/favicon.svg"


def site_root(request):
    return HttpResponseRedirect(reverse("admin:index"))


def favicon(request):
    # resolved per request: with the production storage the hashed name needs collectstatic
    return HttpResponseRedirect(static(FAVICON))
