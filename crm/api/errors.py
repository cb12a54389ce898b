"""Every API error in the contract's shape: {"error", "detail", "fields"}.

DRF's own errors (401, 403, 404, 405, 406, 415, 429, parse errors) go through
`api_exception_handler`; Django-level ones under /api/ (unknown URL, body too large,
bad Host header) through the views and middleware below. Nothing a client sends may
produce a 5xx: input faults are 4xx, and a real server fault is logged in full.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import JsonResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger("crm.api")

API_PREFIX = "/api/"

# HTTP status -> the contract's machine code.
ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",  # answered by the gunicorn worker (crm/server.py)
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def error_body(status_code: int, detail, fields: dict | None = None, code: str | None = None) -> dict:
    body = {"error": code or ERROR_CODES.get(status_code, "error"), "detail": force_str(detail)}
    if fields:
        body["fields"] = fields
    return body


def error_response(status_code: int, detail, fields=None, code=None, headers=None) -> JsonResponse:
    response = JsonResponse(error_body(status_code, detail, fields, code), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(errors) -> list[str]:
    if isinstance(errors, dict):
        return [f"{k}: {m}" for k, v in errors.items() for m in _flatten(v)]
    if isinstance(errors, list | tuple):
        return [m for item in errors for m in _flatten(item)]
    return [force_str(errors)]


def fields_from(detail) -> dict:
    """DRF or Django validation detail -> {field: [messages]}."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def django_validation_fields(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {k: list(v) for k, v in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]."""
    if isinstance(exc, DjangoValidationError):
        return Response(
            error_body(400, _("Invalid input."), django_validation_fields(exc)), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, DataError):
        # The database refused a value the validation let through: still the input's fault.
        log.warning("database refused a value: %s", exc)
        return Response(error_body(400, _("A value is out of range or malformed.")), status=400)
    response = exception_handler(exc, context)
    if response is None:
        log.exception("unhandled error in the API", exc_info=exc)
        return Response(error_body(500, _("Internal error; it has been logged.")), status=500)
    code = None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(400, _("Invalid input."), fields_from(exc.detail))
        return response
    if isinstance(exc, exceptions.ParseError):
        code = "parse_error"
    elif isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        code = "unauthorized" if code in (None, "authentication_failed", "not_authenticated") else code
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(detail, dict | list):
        detail = " ".join(_flatten(detail))
    response.data = error_body(response.status_code, detail, code=code)
    return response


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown URLs under /api/: a JSON 404 (routed last in crm/urls.py)."""
    return error_response(404, _("No such endpoint."))


def handler400(request, exception=None):
    if _is_api(request):
        return error_response(400, _("Bad request."))
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return error_response(403, _("Not allowed."))
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return error_response(404, _("Not found."))
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return error_response(500, _("Internal error; it has been logged."))
    from django.views.defaults import server_error

    return server_error(request)
