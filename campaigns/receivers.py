"""Signal receivers: what campaigns do when telephony says something happened to a call."""

import logging

from django.dispatch import receiver

from telephony.signals import call_ended

logger = logging.getLogger(__name__)


@receiver(call_ended, dispatch_uid="campaigns.record_call_outcome")
def on_call_ended(sender, call_id: str, status: str, **kwargs) -> None:
    # Sent after the call's end committed, in the worker that ended it: the contact moves on,
    # and the freed place is refilled, here and now (each broker trip between a hang-up and the
    # next call is time the place stays empty). Should that fail, a task tries again (and the
    # dispatcher's sweep of finished calls is there should that be lost too).
    from campaigns.services.campaigns import campaign_record_call_outcome
    from campaigns.tasks import record_call_outcome

    try:
        campaign_record_call_outcome(call_id=call_id)
    except Exception:
        logger.exception("call %s: outcome not recorded at once; a task will", call_id)
        record_call_outcome.delay(call_id)
