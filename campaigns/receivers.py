"""Signal receivers: what campaigns do when telephony says something happened to a call."""

from django.dispatch import receiver

from telephony.signals import call_ended


@receiver(call_ended, dispatch_uid="campaigns.record_call_outcome")
def on_call_ended(sender, call_id: str, status: str, labels=None, **kwargs) -> None:
    from campaigns.services.campaigns import campaign_call_ended

    campaign_call_ended(call_id=call_id, status=status, labels=labels or {})
