from celery import shared_task

from contactcenter.health import heartbeat_record


@shared_task(
    bind=True,
    name="contactcenter.heartbeat",
    soft_time_limit=10,
    time_limit=30,
    acks_late=True,
    reject_on_worker_lost=True,
)
def heartbeat(self, source: str = "manual") -> None:
    heartbeat_record(worker=self.request.hostname or "unknown", source=source)


# -- outbound webhooks (contactcenter.outbound) -------------------------------------------------
# Safe to run twice: a delivery is claimed (with a lease) before its request is sent.


@shared_task(
    name="contactcenter.deliver_webhook",
    soft_time_limit=45,
    time_limit=60,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_webhook(delivery_id: int) -> str:
    from contactcenter.models import WebhookDelivery  # imports here: this section is appended
    from contactcenter.outbound import webhook_deliver

    try:
        return webhook_deliver(delivery_id=delivery_id)
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
    from contactcenter.outbound import webhooks_retry_due

    return webhooks_retry_due()
