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
