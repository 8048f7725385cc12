"""Retention: how long the tables that grow without end keep their rows, and the pruning that
removes what is older (beat's `contactcenter.prune_expired`, hourly).

Pruning deletes in batches of RETENTION_BATCH_SIZE rows, each batch its own short transaction
(ids picked first, then `DELETE ... WHERE id IN (...)`), with RETENTION_BATCH_PAUSE_SECONDS
between batches: no statement holds locks for long, and the database is left to webhook ingest
and the dialer most of the time. A run stops after RETENTION_RUN_SECONDS; the
next one goes on where it stopped.

What is kept (days from settings, 0 keeps forever):
- Agora's webhook events (RETAIN_WEBHOOK_EVENTS_DAYS), once processed, a day longer than the
  window in which a notification is accepted at all (telephony.services.webhooks refuses one
  sent before it), so that a replayed old notification cannot find its noticeId gone;
- the events of calls ended that long ago (RETAIN_CALL_EVENTS_DAYS): the call keeps its row,
  status, times, outcome and transcript;
- CRM webhook deliveries delivered or given up (RETAIN_CRM_DELIVERIES_DAYS), with their
  attempts;
- uploaded CSV files of finished imports (RETAIN_IMPORT_FILES_DAYS): the import's record and
  its error report stay;
- the refused-calls log (RETAIN_REFUSED_CALLS_DAYS);
- idempotency records past their time (IDEMPOTENCY_TTL_SECONDS): a repeated key after it is a
  new request anyway.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

# Webhook events outlive the notifications' acceptance window by this much (Agora's clock and
# ours may differ; a delivery's notifyMs is when Agora sent it).
WEBHOOK_EVENTS_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Kept:
    """One kind of row kept for a while."""

    name: str
    cutoff: Callable[[datetime], datetime | None]  # rows older than this go (None: kept)
    expired: Callable[[datetime], QuerySet]  # the rows past the cutoff
    # What removing a batch of them means (default: deleting them); returns how many went.
    forget: Callable[[QuerySet], int] | None = None


def _days(setting: str) -> Callable[[datetime], datetime | None]:
    def cutoff(now: datetime) -> datetime | None:
        days = getattr(settings, setting)
        return now - timedelta(days=days) if days else None

    return cutoff


def _webhook_events_cutoff(now: datetime) -> datetime | None:
    days = settings.RETAIN_WEBHOOK_EVENTS_DAYS
    return now - timedelta(days=days) - WEBHOOK_EVENTS_MARGIN if days else None


def _expired_webhook_events(cutoff: datetime) -> QuerySet:
    from telephony.models import WebhookEvent

    # Its latest delivery (notify_ms) must be outside the acceptance window too.
    sent_before = int((cutoff + WEBHOOK_EVENTS_MARGIN).timestamp() * 1000)
    return (
        WebhookEvent.objects.filter(received_at__lt=cutoff)
        .exclude(status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.PROCESSING])
        .filter(Q(notify_ms__isnull=True) | Q(notify_ms__lt=sent_before))
    )


def _expired_call_events(cutoff: datetime) -> QuerySet:
    from telephony.models import CallEvent

    # created_at (indexed) finds the candidates; the call must have ended before the cutoff.
    return CallEvent.objects.filter(created_at__lt=cutoff, call__ended_at__lt=cutoff)


def _expired_crm_deliveries(cutoff: datetime) -> QuerySet:
    from contactcenter.crm_webhooks.models import WebhookDelivery

    return WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        status=WebhookDelivery.Status.PENDING
    )


def _expired_import_files(model_path: str) -> Callable[[datetime], QuerySet]:
    def expired(cutoff: datetime) -> QuerySet:
        from django.apps import apps

        model = apps.get_model(model_path)
        return model.objects.filter(
            created_at__lt=cutoff, status__in=[model.Status.DONE, model.Status.FAILED]
        ).exclude(stored_path="")

    return expired


def _remove_import_files(batch: QuerySet) -> int:
    """The files go; the import's record (counts, error report) stays, its path cleared."""
    removed = 0
    for record in batch.only("pk", "stored_path"):
        path = Path(settings.VAR_DIR) / record.stored_path
        try:
            path.unlink(missing_ok=True)
        except OSError:
            logger.exception("could not remove the import file %s", record.stored_path)
            continue
        removed += type(record).objects.filter(pk=record.pk).update(stored_path="")
    return removed


def _expired_refused_calls(cutoff: datetime) -> QuerySet:
    from telephony.models import RefusedCall

    return RefusedCall.objects.filter(refused_at__lt=cutoff)


def _idempotency_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)


def _expired_idempotency_records(cutoff: datetime) -> QuerySet:
    from contactcenter.models import IdempotencyRecord

    return IdempotencyRecord.objects.filter(created_at__lt=cutoff)


KEPT = (
    Kept("webhook events", _webhook_events_cutoff, _expired_webhook_events),
    Kept("call events", _days("RETAIN_CALL_EVENTS_DAYS"), _expired_call_events),
    Kept("CRM webhook deliveries", _days("RETAIN_CRM_DELIVERIES_DAYS"), _expired_crm_deliveries),
    Kept("contact import files", _days("RETAIN_IMPORT_FILES_DAYS"),
         _expired_import_files("campaigns.ContactImport"), _remove_import_files),
    Kept("do-not-call import files", _days("RETAIN_IMPORT_FILES_DAYS"),
         _expired_import_files("campaigns.DoNotCallImport"), _remove_import_files),
    Kept("refused calls", _days("RETAIN_REFUSED_CALLS_DAYS"), _expired_refused_calls),
    Kept("idempotency records", _idempotency_cutoff, _expired_idempotency_records),
)  # fmt: skip


def webhook_acceptance_start(now: datetime) -> datetime | None:
    """Notifications sent before this are refused (their events may have been pruned, and with
    them the record that they were seen); None: every one is accepted (events kept forever)."""
    days = settings.RETAIN_WEBHOOK_EVENTS_DAYS
    return now - timedelta(days=days) if days else None


def prune_expired(
    *, now: datetime | None = None, batch_size: int | None = None, seconds: float | None = None
) -> dict[str, int]:
    """Remove what has outlived its time, every kind in turn, in batches; how many of each went.
    Stops after `seconds` (RETENTION_RUN_SECONDS) of work: the next run goes on."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    deadline = time.monotonic() + (seconds if seconds is not None else
                                   settings.RETENTION_RUN_SECONDS)  # fmt: skip
    removed: dict[str, int] = {}
    for kept in KEPT:
        cutoff = kept.cutoff(now)
        if cutoff is None:
            continue
        for count in _batches(kept, cutoff, batch_size):
            removed[kept.name] = removed.get(kept.name, 0) + count
            if time.monotonic() > deadline:
                logger.info("pruning stopped after its time; the next run goes on: %s", removed)
                return removed
    if removed:
        logger.info("pruned: %s", ", ".join(f"{n} {name}" for name, n in removed.items()))
    return removed


def _batches(kept: Kept, cutoff: datetime, batch_size: int) -> Iterator[int]:
    pause = settings.RETENTION_BATCH_PAUSE_SECONDS
    first = True
    while True:
        if not first and pause:
            time.sleep(pause)  # background work: leave the database to ingest and the dialer
        first = False
        expired = kept.expired(cutoff)
        ids = list(expired.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        batch = expired.model.objects.filter(pk__in=ids)
        with transaction.atomic():
            count = kept.forget(batch) if kept.forget else _delete(batch)
        yield count
        if len(ids) < batch_size:
            return


def _delete(batch: QuerySet) -> int:
    """Deletes the batch (and what cascades from it: a delivery's attempts); its own rows."""
    _, per_model = batch.delete()
    return per_model.get(batch.model._meta.label, 0)
