"""Admin login lockout (django-axes): a username + address pair is locked after
AXES_FAILURE_LIMIT failures, and an address on its own after
CRM_LOGIN_ADDRESS_FAILURE_LIMIT failures over any usernames (one address guessing
passwords for many accounts), both for AXES_COOLOFF_HOURS."""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class LoginLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        pair = super().get_failures(request, credentials)  # AXES_LOCKOUT_PARAMETERS: username + address
        attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
        if settings.AXES_COOLOFF_TIME:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        address = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        # axes compares one count with one limit: give the address's count in units of
        # that limit, so that it reaches it exactly when the address reaches its own.
        pair_limit = get_failure_limit(request, credentials)
        return max(pair, address * pair_limit // settings.CRM_LOGIN_ADDRESS_FAILURE_LIMIT)


def client_address(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the address the lockout counts. Behind AXES_PROXY_COUNT
    proxies that each append the address they saw to X-Forwarded-For, the client is the
    one the outermost proxy saw (anything further left the client may have written
    itself); without proxies, the socket's peer."""
    count = settings.AXES_IPWARE_PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")
