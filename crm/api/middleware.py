"""The API's outer boundary: bodies over the limit are refused before anything
parses them, and anything that escapes a view under /api/ still answers in JSON."""

from __future__ import annotations

import logging
import threading
from io import BytesIO

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.signals import setting_changed
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _

from .errors import API_PREFIX, error_response
from .security import security_event

log = logging.getLogger("crm.api")

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB, the contract's limit


class ApiBoundaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        limit = getattr(settings, "CRM_API_MAX_BODY_BYTES", MAX_BODY_BYTES)
        too_large = _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            security_event(request, reason="body_too_large", declared=declared)
            return error_response(413, too_large)
        if declared > 0:
            # Read it now, bounded: what arrives is checked, not only what is declared.
            body = request.read(limit + 1)
            if len(body) > limit:
                return error_response(413, too_large)
            request._body = body
            request._stream = BytesIO(body)
            request._read_started = False
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path_info.startswith(API_PREFIX):
            return None
        log.exception("unhandled error under /api/", exc_info=exception)
        return error_response(500, _("Internal error; it has been logged."))


class ApiLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for the API's chain (crm.api.handler), with the
    language a request asks for kept per process.

    Without language-prefixed URL patterns (the API has none), Django's choice of a
    request's language depends only on the language cookie and the Accept-Language
    header (and the settings): it is computed once per process for each pair of them
    seen, by Django's own get_language_from_request, instead of on every request (with
    the path's language looked up twice and not used, a sixth of a GET player's Python
    outside the view). The answer, its Content-Language and Vary, is Django's."""

    MAX_KEPT = 256  # distinct (cookie, Accept-Language) pairs; then forgotten and kept anew

    _languages: dict[tuple[str | None, str], str] = {}
    _lock = threading.Lock()

    def process_request(self, request):
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        if is_language_prefix_patterns_used(urlconf)[0]:
            return super().process_request(request)
        key = (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME), request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        language = self._languages.get(key)
        if language is None:
            language = translation.get_language_from_request(request, check_path=False)
            with self._lock:
                if len(self._languages) >= self.MAX_KEPT:
                    ApiLocaleMiddleware._languages = {}
                self._languages[key] = language
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        if is_language_prefix_patterns_used(urlconf)[0]:
            return super().process_response(request, response)
        # Django's, where no pattern is language-prefixed: no redirect to a prefixed path.
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def _languages_forget(**kwargs):
    ApiLocaleMiddleware._languages = {}


setting_changed.connect(_languages_forget)
