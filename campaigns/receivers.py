"""Signal receivers: what campaigns do when telephony says something happened to a call."""

from django.dispatch import receiver

from telephony.signals import call_ended


@receiver(call_ended, dispatch_uid="campaigns.record_call_outcome")
def on_call_ended(sender, call_id: str, status: str, **kwargs) -> None:
    # Sent after the call's end committed; the contact is moved on by a task (and, should
    # that be lost, by the dispatcher's sweep of finished calls).
    from campaigns.tasks import record_call_outcome

    record_call_outcome.delay(call_id)
