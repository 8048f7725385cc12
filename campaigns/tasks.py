"""Celery entry points for campaigns: thin, take ids, call services."""

import logging

from celery import shared_task
from django.utils import timezone

from campaigns.models import ContactImport, DoNotCallImport
from campaigns.services.contacts import contact_import_run
from campaigns.services.dnc import dnc_import_run

logger = logging.getLogger(__name__)

# Safe to run twice (see the services), so a task a dying worker held goes to another worker.
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


# -- contacts ---------------------------------------------------------------------------------


@shared_task(name="campaigns.import_contacts", soft_time_limit=1800, time_limit=2000, **IDEMPOTENT)
def import_contacts(import_id: int) -> str:
    """Run one CSV import (a done or failed import is left alone; a lost run starts over)."""
    try:
        return contact_import_run(import_id=import_id).status
    except ContactImport.DoesNotExist:
        logger.info("contact import %s: gone (its list was deleted)", import_id)
        return "missing"


@shared_task(
    name="campaigns.import_do_not_call", soft_time_limit=1800, time_limit=2000, **IDEMPOTENT
)
def import_do_not_call(import_id: int) -> str:
    """Run one do-not-call CSV import (a done or failed one is left alone; a lost run starts
    over: adding a number again changes nothing)."""
    try:
        return dnc_import_run(import_id=import_id).status
    except DoNotCallImport.DoesNotExist:
        logger.info("do-not-call import %s: gone", import_id)
        return "missing"


# -- campaigns --------------------------------------------------------------------------------


@shared_task(name="campaigns.dispatch", soft_time_limit=50, time_limit=120, **IDEMPOTENT)
def dispatch() -> dict:
    from campaigns.services.dispatch import dispatch as run_dispatch

    return {str(key): value for key, value in run_dispatch().items()}


@shared_task(name="campaigns.review_caller_ids", soft_time_limit=120, time_limit=300)
def review_caller_ids() -> list[str]:
    """Caller IDs taken out of running campaigns' rotation (campaigns.services.caller_ids)."""
    from campaigns.services.caller_ids import campaigns_review_caller_ids

    return campaigns_review_caller_ids()


@shared_task(name="campaigns.dispatch_campaign", soft_time_limit=50, time_limit=120, **IDEMPOTENT)
def dispatch_campaign(campaign_id: int) -> int:
    """One campaign's dispatch, out of turn: a call of it just ended."""
    from campaigns.services.dispatch import dispatch_campaign as run_dispatch

    return run_dispatch(campaign_id=campaign_id, now=timezone.now())


@shared_task(name="campaigns.record_call_outcome", soft_time_limit=30, time_limit=60, **IDEMPOTENT)
def record_call_outcome(call_id: str) -> str | None:
    from campaigns.services.campaigns import campaign_record_call_outcome

    return campaign_record_call_outcome(call_id=call_id)


@shared_task(
    name="campaigns.hang_up_campaign_calls", soft_time_limit=120, time_limit=240, **IDEMPOTENT
)
def hang_up_campaign_calls(campaign_id: int) -> int:
    from campaigns.services.campaigns import campaign_hang_up_live_calls

    return campaign_hang_up_live_calls(campaign_id=campaign_id)
