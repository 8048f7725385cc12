"""Signal receivers: what campaigns do when telephony says something happened to a call."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from telephony.signals import call_ended


@receiver(call_ended, dispatch_uid="campaigns.record_call_outcome")
def on_call_ended(sender, call_id: str, status: str, labels=None, **kwargs) -> None:
    from campaigns.services.campaigns import campaign_call_ended

    campaign_call_ended(call_id=call_id, status=status, labels=labels or {})


@receiver(post_save, sender="campaigns.CallingHoursRule", dispatch_uid="campaigns.rule_saved")
@receiver(post_delete, sender="campaigns.CallingHoursRule", dispatch_uid="campaigns.rule_deleted")
@receiver(post_save, sender="campaigns.BlackoutDate", dispatch_uid="campaigns.blackout_saved")
@receiver(post_delete, sender="campaigns.BlackoutDate", dispatch_uid="campaigns.blackout_deleted")
def on_calling_calendar_changed(sender, **kwargs) -> None:
    """Contacts deferred to a window's opening follow the new calendar at the next dispatch
    (an opening that came sooner, or went later)."""
    from campaigns.services.campaigns import contacts_reconsider_windows

    transaction.on_commit(lambda: contacts_reconsider_windows(reason="calling calendar changed"))
