from celery import shared_task

from contactcenter.health import heartbeat_record
from contactcenter.retention import prune_expired as prune


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


@shared_task(name="contactcenter.prune_expired", soft_time_limit=600, time_limit=660)
def prune_expired() -> dict[str, int]:
    """Retention: remove what has outlived its time, in bounded batches (one run at a time is
    enough; a second would only share the work)."""
    return prune()
