"""Refusals people meet: a page in the admin's frame, in their language, saying why and
where to go next (never Django's bare English "403 Forbidden"). The API keeps its own
JSON answers (crm.api.errors)."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from crm.api import errors as api_errors

TEMPLATE = "admin/refusal.html"


def refusal_response(request, *, status: int, title: str, reason: str) -> TemplateResponse:
    """The one refusal page: why, and links to where the user can go from here."""
    links = []
    back = request.META.get("HTTP_REFERER", "")
    if (
        back
        and back != request.build_absolute_uri()
        and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    ):
        links.append((back, _("Back to the previous page")))
    if request.user.is_authenticated and request.user.is_staff:
        links.append((reverse("admin:index"), _("My workplace")))
    else:
        links.append((reverse("admin:login"), _("Log in")))
    context = {
        **admin.site.each_context(request),
        "title": title,
        "reason": reason,
        "links": links,
    }
    response = TemplateResponse(request, TEMPLATE, context, status=status)
    return response.render()


def handler403(request, exception=None):
    if api_errors._is_api(request):
        return api_errors.handler403(request, exception)
    message = str(exception or "").strip()
    reason = message or _(
        "Your role does not allow this page. If your work needs it, ask a supervisor or an administrator."
    )
    return refusal_response(request, status=403, title=_("Not allowed"), reason=reason)


def handler404(request, exception=None):
    if api_errors._is_api(request):
        return api_errors.handler404(request, exception)
    return refusal_response(
        request,
        status=404,
        title=_("Page not found"),
        reason=_("There is no such page, or the record was deleted or is not among the players you look after."),
    )
