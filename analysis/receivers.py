"""A call ended: its analysis is queued once its transcript has had time to arrive (Agora's
end-of-call history notification, or the last snapshot), and never holds up the dialer."""

from django.conf import settings
from django.dispatch import receiver

from contactcenter.batches import after_batch
from telephony.signals import call_ended
from telephony.states import ANSWERED_ENDINGS


@receiver(call_ended, dispatch_uid="analysis.analyze_ended_call")
def analyze_ended_call(sender, call_id, status, **kwargs) -> None:
    from analysis.tasks import analyze_call

    if not (settings.CALL_ANALYSIS and status in ANSWERED_ENDINGS):  # no conversation
        return

    def queue() -> None:
        analyze_call.apply_async((str(call_id),), countdown=settings.CALL_ANALYSIS_DELAY_SECONDS)

    # In a webhook drain's batch, after the refills of the places its hang-ups freed.
    after_batch(f"analysis:{call_id}", queue, late=True) or queue()
