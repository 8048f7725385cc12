"""Signal receivers: turn domain events into CRM webhook deliveries.

The signals are sent after commit, so a receiver's failure must not reach the sender (a call
transition, a campaign completing, a do-not-call entry): it is logged instead. Emitting is
cheap (rows, plus one task per delivery on commit).
"""

import logging
from collections.abc import Callable

from django.dispatch import receiver

from analysis.signals import call_analyzed
from campaigns.signals import (
    campaign_caller_id_removed,
    campaign_completed,
    campaign_paused,
    contact_do_not_call,
)
from contactcenter.crm_webhooks.events import (
    analysis_data,
    call_event_data,
    call_event_type,
    campaign_event_data,
)
from contactcenter.crm_webhooks.models import WebhookEventType
from contactcenter.crm_webhooks.services import crm_webhook_event_emit, crm_webhook_events_emit
from telephony.signals import call_status_changed

logger = logging.getLogger(__name__)


@receiver(call_status_changed, dispatch_uid="contactcenter.crm_webhooks.call_status_changed")
def on_call_status_changed(sender, *, call_ids: list[str], status: str, **kwargs) -> None:
    from telephony.models import Call

    event_type = call_event_type(status)
    if event_type is None or not call_ids:
        return

    def data_of(call_id: str) -> Callable[[], dict]:
        def data() -> dict:
            call = Call.objects.select_related("campaign_attempt__campaign_contact").get(pk=call_id)
            return call_event_data(call)

        return data

    try:
        crm_webhook_events_emit(event_type=event_type, data=[data_of(id_) for id_ in call_ids])
    except Exception:  # a webhook problem never breaks the call's own flow
        logger.exception("webhooks: could not emit %s for calls %s", event_type, call_ids[:10])


@receiver(call_analyzed, dispatch_uid="contactcenter.crm_webhooks.call_analyzed")
def on_call_analyzed(sender, *, call_id: str, **kwargs) -> None:
    from analysis.models import CallAnalysis

    try:
        analysis = CallAnalysis.objects.select_related(
            "call__campaign_attempt__campaign_contact"
        ).get(call_id=call_id)
        crm_webhook_event_emit(
            event_type=WebhookEventType.CALL_ANALYZED,
            data=call_event_data(analysis.call) | {"analysis": analysis_data(analysis)},
        )
    except Exception:  # a webhook problem never breaks the analysis
        logger.exception("webhooks: could not emit call.analyzed for call %s", call_id)


def _emit_campaign_event(event_type: str, campaign_id: int, **extra) -> None:
    """campaign.* events: the campaign's data, plus what `extra` says."""
    from campaigns.models import Campaign

    try:
        campaign = Campaign.objects.get(pk=campaign_id)
        crm_webhook_event_emit(event_type=event_type, data=campaign_event_data(campaign) | extra)
    except Exception:  # a webhook problem never breaks the campaign's own flow
        logger.exception("webhooks: could not emit %s for campaign %s", event_type, campaign_id)


@receiver(campaign_completed, dispatch_uid="contactcenter.crm_webhooks.campaign_completed")
def on_campaign_completed(sender, *, campaign_id: int, **kwargs) -> None:
    _emit_campaign_event(WebhookEventType.CAMPAIGN_COMPLETED, campaign_id)


@receiver(campaign_paused, dispatch_uid="contactcenter.crm_webhooks.campaign_paused")
def on_campaign_paused(sender, *, campaign_id: int, reason: str, automatic: bool, **kwargs) -> None:
    _emit_campaign_event(
        WebhookEventType.CAMPAIGN_PAUSED, campaign_id, reason=reason, automatic=automatic
    )


@receiver(
    campaign_caller_id_removed, dispatch_uid="contactcenter.crm_webhooks.campaign_caller_id_removed"
)
def on_campaign_caller_id_removed(sender, *, campaign_id: int, number: str, reason: str,
                                  **kwargs) -> None:  # fmt: skip
    _emit_campaign_event(
        WebhookEventType.CAMPAIGN_CALLER_ID_REMOVED, campaign_id, number=number, reason=reason
    )


@receiver(contact_do_not_call, dispatch_uid="contactcenter.crm_webhooks.contact_do_not_call")
def on_contact_do_not_call(sender, *, phone: str, reason: str, source: str, **kwargs) -> None:
    try:
        crm_webhook_event_emit(
            event_type=WebhookEventType.CONTACT_DO_NOT_CALL,
            data={"phone": phone, "reason": reason, "source": source},
        )
    except Exception:  # a webhook problem never breaks the do-not-call list
        logger.exception("webhooks: could not emit contact.do_not_call")
