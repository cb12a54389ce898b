"""The API's outer boundary: bodies over the limit are refused before anything
parses them, and anything that escapes a view under /api/ still answers in JSON."""

from __future__ import annotations

import logging

from django.conf import settings
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
            from io import BytesIO

            request._stream = BytesIO(body)
            request._read_started = False
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path_info.startswith(API_PREFIX):
            return None
        log.exception("unhandled error under /api/", exc_info=exception)
        return error_response(500, _("Internal error; it has been logged."))
