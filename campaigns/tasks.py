"""Celery entry points: thin wrappers over services."""

from celery import shared_task

from .services.messaging import messages_deliver_due


@shared_task(name="campaigns.deliver_messages", ignore_result=True)
def deliver_messages(limit: int = 1000) -> dict:
    return messages_deliver_due(limit=limit)
