"""Taking a caller ID that callees no longer answer out of a campaign's rotation.

A running campaign with `rotate_out_flagged_caller_ids` on loses, from its caller IDs, a number
that telephony.services.caller_health flags among the campaign's own calls of the last 7 days
(answered far less than the campaign's other numbers), one at a time and never its last one.
The campaign keeps why (`caller_id_note`) and CRMs hear `campaign.caller_id_removed`. Run by
beat (`campaigns.review_caller_ids`).
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.signals import campaign_caller_id_removed
from telephony.models import Call
from telephony.services.caller_health import caller_health

logger = logging.getLogger(__name__)


def campaign_review_caller_ids(*, campaign_id: int, now: datetime | None = None) -> str | None:
    """Take the worst flagged caller ID out of the campaign's rotation; returns it, if any."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status != Campaign.Status.RUNNING or not campaign.rotate_out_flagged_caller_ids:
        return None
    health = caller_health(Call.objects.filter(campaign_attempt__campaign=campaign), now=now)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign_id)
        numbers = list(locked.caller_ids.filter(outbound=True))
        flagged = sorted(
            (health[number.pk].rate, number) for number in numbers
            if number.pk in health and health[number.pk].flagged
        )  # fmt: skip
        if not flagged or len(numbers) < 2:
            return None
        _, number = flagged[0]
        reason = (
            f"{number.e164} taken out of rotation on {now:%Y-%m-%d %H:%M} UTC: "
            f"{health[number.pk].describe()}."
        )
        locked.caller_ids.remove(number)
        locked.caller_id_note = reason[:300]
        locked.save(update_fields=["caller_id_note", "updated_at"])
        e164 = number.e164
        transaction.on_commit(
            lambda: campaign_caller_id_removed.send(
                sender=Campaign, campaign_id=campaign_id, number=e164, reason=reason
            )
        )
    logger.warning("campaign %s: %s", campaign_id, reason)
    return e164


def campaigns_review_caller_ids(*, now: datetime | None = None) -> list[str]:
    running = Campaign.objects.filter(
        status=Campaign.Status.RUNNING, rotate_out_flagged_caller_ids=True
    ).values_list("pk", flat=True)
    removed = (campaign_review_caller_ids(campaign_id=pk, now=now) for pk in running)
    return [number for number in removed if number]
