"""Celery entry points: thin wrappers over services."""

from datetime import date

from celery import shared_task

from .services.campaigns import campaigns_results_refresh_active
from .services.messaging import messages_deliver_due


@shared_task(name="campaigns.deliver_messages", ignore_result=True)
def deliver_messages(limit: int = 1000) -> dict:
    return messages_deliver_due(limit=limit)


@shared_task(name="campaigns.greetings_daily")
def greetings_daily(on: str | None = None) -> dict:
    """The greetings job (campaigns.services.greetings.greetings_run); `on` is YYYY-MM-DD."""
    from .services.greetings import greetings_run

    return greetings_run(on=date.fromisoformat(on) if on else None).as_dict()


@shared_task(name="campaigns.refresh_campaign_results", ignore_result=True)
def refresh_campaign_results() -> int:
    return campaigns_results_refresh_active()


@shared_task(name="campaigns.top_spender_visits")
def top_spender_visits(on: str | None = None) -> dict:
    """The half-monthly top-spender return visits (beat: the 1st and 16th at 09:00): one
    booked call task per top spender of each server for the half month just ended."""
    from .services.top_spenders import top_spender_visits_create

    start, end, spenders, created = top_spender_visits_create(on=date.fromisoformat(on) if on else None)
    return {"start": start.isoformat(), "end": end.isoformat(), "ranked": len(spenders), "created": created}


@shared_task(name="campaigns.wecom_sync", ignore_result=True)
def wecom_sync() -> dict:
    """WeCom's customers and tags (campaigns.services.wecom.wecom_sync); nothing while WeCom
    is not configured (the WeChat channel's messages then fail visibly, `manage.py check` warns)."""
    from .channels import ChannelNotConfigured
    from .services.wecom import wecom_sync as sync

    try:
        return sync()
    except ChannelNotConfigured as exc:
        return {"not_configured": str(exc)}


@shared_task(name="campaigns.wecom_results", ignore_result=True)
def wecom_results() -> dict:
    """The results of the WeCom group-message tasks still waiting (wecom_results_read)."""
    from .channels import ChannelNotConfigured
    from .services.wecom import wecom_results_read

    try:
        return wecom_results_read()
    except ChannelNotConfigured as exc:
        return {"not_configured": str(exc)}
