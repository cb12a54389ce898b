"""Security events of the API: one log line per refused request, never its body."""

import logging

security_log = logging.getLogger("crm.security")


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "-"


def security_event(request, *, reason: str, client=None, level=logging.WARNING, **extra) -> None:
    details = " ".join(f"{k}={v}" for k, v in extra.items())
    security_log.log(
        level,
        "api refused: reason=%s client=%s address=%s method=%s path=%s %s",
        reason,
        f"{client.pk}:{client.name}" if client is not None else "-",
        client_address(request),
        request.method,
        request.path[:200],
        details,
        extra={"reason": reason, "client_id": getattr(client, "pk", None), "address": client_address(request)},
    )
