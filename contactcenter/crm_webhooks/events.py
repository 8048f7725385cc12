"""What each CRM webhook event says: the `data` of call.*, campaign.* events, and which event a
call's status change is."""

from datetime import datetime
from typing import Any

from contactcenter.crm_webhooks.models import WebhookEventType


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_event_data(call) -> dict[str, Any]:
    """The `data` of call.* events.

    The campaign and contact come from the call's campaign attempt, never from its labels: a
    single call placed through the API may carry any labels. Load the call with
    `select_related("campaign_attempt__campaign_contact")` to spare the queries.
    """
    attempt = getattr(call, "campaign_attempt", None)  # None for calls outside a campaign
    return {
        "call": {
            "id": str(call.id),
            "direction": call.direction,
            "status": call.status,
            "to_number": call.to_number,
            "from_number": call.from_number,
            "campaign_id": attempt.campaign_id if attempt else None,
            "contact_id": attempt.campaign_contact.contact_id if attempt else None,
            "agent_id": call.agent_id,
            "end_reason": call.end_reason,
            "duration_seconds": call.duration_seconds,
            "created_at": _iso(call.created_at),
            "answered_at": _iso(call.answered_at),
            "ended_at": _iso(call.ended_at),
        }
    }


def analysis_data(analysis) -> dict[str, Any]:
    """A call's analysis as the API and `call.analyzed` show it."""
    return {
        "disposition": analysis.disposition,
        "disposition_source": analysis.disposition_source,
        "summary": analysis.summary,
        "success": analysis.success,
        "success_reason": analysis.success_reason,
        "opt_out": analysis.opt_out,
        "callback_at": _iso(analysis.callback_at),
        "fields": analysis.fields,
        "analyzer": analysis.analyzer,
        "analyzed_at": _iso(analysis.analyzed_at),
    }


def campaign_event_data(campaign) -> dict[str, Any]:
    """The `data` of campaign.* events."""
    from campaigns.services.campaigns import campaign_progress

    return {
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "status": campaign.status,
            "progress": campaign_progress(campaign, fresh=True),
        }
    }


def call_event_type(status: str) -> str | None:
    """Which event a call status change is, if any."""
    from telephony.states import TERMINAL_STATUSES, CallStatus

    if status == CallStatus.DIALING:
        return WebhookEventType.CALL_STARTED
    if status == CallStatus.ANSWERED:
        return WebhookEventType.CALL_ANSWERED
    if status in TERMINAL_STATUSES:
        return WebhookEventType.CALL_COMPLETED
    return None
