"""The CRM webhook tasks. Safe to run twice: a delivery is claimed (with a lease) before its
request is sent. The task names are older than this package: the beat schedule and the queue
routes refer to them."""

from celery import shared_task

from contactcenter.crm_webhooks.models import WebhookDelivery
from contactcenter.crm_webhooks.services import deliveries_retry_due, delivery_attempt


@shared_task(
    name="contactcenter.deliver_webhook",
    soft_time_limit=45,
    time_limit=60,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_webhook(delivery_id: int) -> str:
    try:
        return delivery_attempt(delivery_id=delivery_id)
    except WebhookDelivery.DoesNotExist:
        return "missing"


@shared_task(
    name="contactcenter.retry_due_webhooks",
    soft_time_limit=30,
    time_limit=60,
    acks_late=True,
    reject_on_worker_lost=True,
)
def retry_due_webhooks() -> int:
    return deliveries_retry_due()
