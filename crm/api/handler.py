"""The game API's own request handler: a shorter middleware chain for /api/v1/.

A game backend's request needs the security headers, the body limit, the language
and the common checks. The admin's sessions, CSRF, authentication, messages,
clickjacking header, history user and login lockouts do nothing for a signed JSON
request (DRF authenticates it, its views are CSRF-exempt, it has no session) but
cost every one of them. `application_for` sends /api/v1/ to ApiWSGIHandler and the
rest, the schema and the docs included, to the site's full chain. The tests' API
client is dispatched the same way (crm/tests/fixtures.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_V1 = "/api/v1/"

# Kept from settings.MIDDLEWARE, in its order.
API_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "crm.api.middleware.ApiBoundaryMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
    }
)
# In its place, the same middleware with the answer for a request's language kept per
# process (crm.api.middleware.ApiLocaleMiddleware).
API_REPLACED = {"django.middleware.locale.LocaleMiddleware": "crm.api.middleware.ApiLocaleMiddleware"}


class ApiMiddlewareMixin:
    """For a Django handler class: load only API_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # BaseHandler reads the chain from settings.MIDDLEWARE; this runs once, when
        # the handler is made (at worker start), before any request.
        site_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = [API_REPLACED.get(name, name) for name in site_middleware if name in API_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site_middleware


class ApiWSGIHandler(ApiMiddlewareMixin, WSGIHandler):
    pass


def by_path(api, site):
    """A handler that sends /api/v1/ to `api` and everything else to `site`."""

    def handler(environ, *args):
        return (api if environ.get("PATH_INFO", "").startswith(API_V1) else site)(environ, *args)

    return handler


def application_for(site: WSGIHandler):
    """The WSGI application: /api/v1/ through ApiWSGIHandler, the rest through `site`."""
    return by_path(ApiWSGIHandler(), site)
