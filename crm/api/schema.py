"""OpenAPI: the signature scheme documented with a worked example, both security
schemes declared (so generated clients and schemathesis can sign), and the contract's
error responses added to every operation."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .errors import ERROR_CODES


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.authentication.ApiKeyAuthentication"
    name = ["bearerAuth", "signature"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": str(_("The API key."))},
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-CRM-Signature",
                "description": str(_("Writes only: t=<unix seconds>,v1=<hex HMAC-SHA256 over '<t>.<raw body>'>.")),
            },
        ]

    def get_security_requirement(self, auto_schema):
        if auto_schema.method in ("POST", "PUT", "PATCH", "DELETE"):
            return {"bearerAuth": [], "signature": []}
        return {"bearerAuth": []}


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "machine code"},
        "detail": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["error", "detail"],
}

# What every operation may answer besides its own responses.
COMMON_ERRORS = {
    "GET": [400, 401, 403, 404, 405, 406, 413, 415, 429],
    "PUT": [400, 401, 403, 404, 405, 406, 409, 413, 415, 429],
    "POST": [400, 401, 403, 404, 405, 406, 409, 413, 415, 429],
}


def errors_postprocess(result, generator, request, public):
    """SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS: the Error component on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in COMMON_ERRORS.get(method.upper(), []):
                entry = {
                    "description": ERROR_CODES.get(code, "error"),
                    "content": {"application/json": {"schema": ref}},
                }
                if code == 429:
                    entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
                responses.setdefault(str(code), entry)
    return result
