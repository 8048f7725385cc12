"""Celery entry points for telephony: thin, take ids, call services."""

import logging

from celery import shared_task

from telephony.agora import AgoraError, retry_delay
from telephony.models import Call
from telephony.services import calls as call_services

logger = logging.getLogger(__name__)

# Placement and hang-up are safe to run twice (see services.calls), so a task that a dying
# worker held is handed to another worker rather than lost.
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(
    bind=True, name="telephony.place_call", max_retries=None, soft_time_limit=60, time_limit=90,
    **IDEMPOTENT,
)  # fmt: skip
def place_call(self, call_id: str) -> str:
    try:
        return call_services.call_place(call_id=call_id)
    except Call.DoesNotExist:
        logger.warning("call %s: gone before it was placed", call_id)
        return "missing"
    except call_services.PlacementDeferred as deferred:
        logger.info("call %s: placement deferred %.0fs: %s", call_id, deferred.countdown,
                    deferred.reason)  # fmt: skip
        raise self.retry(countdown=deferred.countdown) from None


@shared_task(name="telephony.place_calls", soft_time_limit=90, time_limit=120, **IDEMPOTENT)
def place_calls(call_ids: list[str]) -> dict[str, int]:
    """A dispatcher's batch; the calls deferred are sent again, grouped by when."""
    return call_services.calls_place_and_retry_later(call_ids)


@shared_task(
    bind=True, name="telephony.hangup_call", max_retries=5, soft_time_limit=30, time_limit=60,
    **IDEMPOTENT,
)  # fmt: skip
def hangup_call(self, call_id: str) -> str:
    try:
        return call_services.call_hangup_remote(call_id=call_id)
    except Call.DoesNotExist:
        logger.warning("call %s: gone before it was hung up", call_id)
        return "missing"
    except AgoraError as error:
        if not (error.retryable or getattr(error, "status_code", None) is None):
            raise
        countdown = retry_delay(error, retries=self.request.retries, base=2, cap=30)
        raise self.retry(countdown=countdown) from error


@shared_task(name="telephony.poll_calls", soft_time_limit=50, time_limit=120, **IDEMPOTENT)
def poll_calls() -> int:
    return call_services.calls_poll()


@shared_task(name="telephony.enforce_call_limits", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def enforce_call_limits() -> int:
    return call_services.calls_enforce_limits()


@shared_task(name="telephony.place_scheduled_calls", soft_time_limit=30, time_limit=60,
             **IDEMPOTENT)  # fmt: skip
def place_scheduled_calls() -> int:
    return call_services.calls_place_scheduled()


@shared_task(name="telephony.recover_stuck_calls", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def recover_stuck_calls() -> int:
    return call_services.calls_recover_stuck()


@shared_task(
    bind=True, name="telephony.fetch_call_agent_data", max_retries=3, soft_time_limit=60,
    time_limit=120, **IDEMPOTENT,
)  # fmt: skip
def fetch_call_agent_data(self, call_id: str) -> None:
    try:
        call_services.call_fetch_agent_data(call_id=call_id)
    except Call.DoesNotExist:
        logger.warning("call %s: gone before its transcript was fetched", call_id)


# -- phone numbers ----------------------------------------------------------------------------


def _number_retry_delay(task, error: AgoraError) -> float:
    return retry_delay(error, retries=task.request.retries, base=5, cap=600)


@shared_task(
    bind=True, name="telephony.push_phone_number", max_retries=8, soft_time_limit=60,
    time_limit=120, **IDEMPOTENT,
)  # fmt: skip
def push_phone_number(self, number_id: int) -> str:
    """Make Agora match one number (safe to repeat: a repeated import is answered 409)."""
    from telephony.services.numbers import phone_number_push

    try:
        return phone_number_push(number_id=number_id)
    except AgoraError as error:
        if not error.retryable:
            raise
        raise self.retry(countdown=_number_retry_delay(self, error)) from error


@shared_task(
    bind=True, name="telephony.sync_phone_numbers", max_retries=3, soft_time_limit=120,
    time_limit=240, **IDEMPOTENT,
)  # fmt: skip
def sync_phone_numbers(self) -> dict[str, int]:
    """Compare Agora's numbers with ours (beat runs it every PHONE_NUMBER_SYNC_INTERVAL s)."""
    from telephony.services.numbers import phone_numbers_reconcile

    try:
        return phone_numbers_reconcile()
    except AgoraError as error:
        if not error.retryable:
            raise
        raise self.retry(countdown=_number_retry_delay(self, error)) from error


@shared_task(name="telephony.finalize_call_end", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def finalize_call_end(call_id: str) -> None:
    call_services.call_finalize_end(call_id=call_id)


@shared_task(
    name="telephony.process_webhook_event", soft_time_limit=30, time_limit=60, **IDEMPOTENT
)
def process_webhook_event(event_id: int) -> str:
    from telephony.models import WebhookEvent
    from telephony.services.webhooks import webhook_process

    try:
        return webhook_process(event_id=event_id)
    except WebhookEvent.DoesNotExist:
        logger.warning("webhook event %s: gone before it was processed", event_id)
        return "missing"


@shared_task(
    name="telephony.process_webhook_events", soft_time_limit=60, time_limit=120, **IDEMPOTENT
)
def process_webhook_events() -> int:
    """Drain the stored webhooks (telephony.services.webhooks: one drain per burst)."""
    from telephony.services.webhooks import webhooks_drain

    return webhooks_drain()


@shared_task(
    name="telephony.sweep_webhook_events", soft_time_limit=120, time_limit=240, **IDEMPOTENT
)
def sweep_webhook_events() -> int:
    from telephony.services.webhooks import webhooks_sweep

    return webhooks_sweep()


# -- voicemail --------------------------------------------------------------------------------


@shared_task(name="telephony.check_voicemail", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def check_voicemail(call_id: str, poll: int = 0) -> str:
    from telephony.services.voicemail import call_check_voicemail

    return call_check_voicemail(call_id=call_id, poll=poll)


@shared_task(name="telephony.leave_voicemail", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def leave_voicemail(call_id: str) -> str:
    from telephony.services.voicemail import call_leave_voicemail

    return call_leave_voicemail(call_id=call_id)
