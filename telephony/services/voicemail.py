"""A voicemail box answered: detect it, then hang up, leave the call's message, or carry on.

Two detectors, either one decides: the agent's own tool (`voicemail_detected`, or `end_call`
with reason "voicemail") and ours, which reads the agent's history a few times in the first
seconds after the answer (VOICEMAIL_DETECTION_POLL_SECONDS: a bounded number of requests per
answered call) with `telephony.voicemail.detect_voicemail`. The first detection acts; the call
then ends `voicemail` (call_transition), and its campaign retries it after its own delay.

With `leave_message` the message is spoken once (Agora's speak at priority INTERRUPT, not
interruptible), and the call is hung up when it has had time to be heard."""

import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from telephony.agora import AgoraError
from telephony.clients import agora_client
from telephony.models import Call, CallEvent, VoicemailPolicy
from telephony.services.agents import MissingTemplateVariables, render_template
from telephony.services.calls import _event, call_hangup, snapshot_keep
from telephony.states import CallStatus
from telephony.voicemail import detect_voicemail

logger = logging.getLogger(__name__)

# Speaking pace for the hang-up after a left message: words per second, plus a margin.
WORDS_PER_SECOND = 2.5
MESSAGE_MARGIN_SECONDS = 2.0
LEFT_MESSAGE = "voicemail message"


def poll_delays() -> list[float]:
    return [float(part) for part in settings.VOICEMAIL_DETECTION_POLL_SECONDS if part]


def call_voicemail_detected(
    *, call_id: uuid.UUID | str, by: str, evidence: str = "", source: str = CallEvent.Source.SYSTEM
) -> str:
    """Record that a machine answered and act on the call's policy; once per call."""
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if call.is_terminal:
            return "already ended"
        if call.voicemail_detected_at:
            return "already detected"
        call.voicemail_detected_at = timezone.now()
        call.voicemail_detected_by = by
        call.save(update_fields=["voicemail_detected_at", "voicemail_detected_by", "updated_at"])
        detail = f"voicemail detected by the {by}" + (f": {evidence}" if evidence else "")
        _event(call, source=source, kind=CallEvent.Kind.NOTE, detail=detail[:500],
               payload={"voicemail": by, "policy": call.voicemail_policy})  # fmt: skip
        policy = call.voicemail_policy
        if policy == VoicemailPolicy.CONTINUE:
            return "noted: the call carries on"
        if policy == VoicemailPolicy.LEAVE_MESSAGE and call.voicemail_message.strip():
            from telephony.tasks import leave_voicemail

            leave_voicemail.delay_on_commit(str(call.pk))
            return "leaving the message"
    call_hangup(call_id=call.pk, source=source, reason="voicemail")
    return "hanging up"


def call_leave_voicemail(*, call_id: uuid.UUID | str) -> str:
    """Speak the call's message once, then hang up when it has been heard."""
    from telephony.tasks import hangup_call

    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if call.is_terminal or not call.agent_id:
            return "already ended"
        if call.events.filter(kind=CallEvent.Kind.NOTE, payload__action=LEFT_MESSAGE).exists():
            return "already left"
        problem = ""
        try:
            text = render_template(call.voicemail_message, call.variables)
        except MissingTemplateVariables as error:
            text = ""
            problem = str(error)
        # Claimed before the request: a second run of this task never speaks it again.
        _event(call, source=CallEvent.Source.SYSTEM, kind=CallEvent.Kind.NOTE,
               detail=f"leaving the voicemail message: {text!r}"[:500],
               payload={"action": LEFT_MESSAGE, "text": text})  # fmt: skip
    if not text:
        logger.warning("call %s: voicemail message not left: %s", call_id, problem)
        call_hangup(call_id=call_id, source=CallEvent.Source.SYSTEM, reason="voicemail")
        return "hung up: the message could not be filled"
    try:
        agora_client().speak(call.agent_id, text=text, priority="INTERRUPT", interruptable=False)
    except (AgoraError, ValueError) as error:
        _event(call, source=CallEvent.Source.SYSTEM, kind=CallEvent.Kind.ERROR,
               detail=f"the voicemail message could not be spoken: {error}"[:500])  # fmt: skip
        call_hangup(call_id=call_id, source=CallEvent.Source.SYSTEM, reason="voicemail")
        return "hung up: the message could not be spoken"
    heard_after = len(text.split()) / WORDS_PER_SECOND + MESSAGE_MARGIN_SECONDS
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call_id)
        if not locked.is_terminal and locked.hangup_requested_at is None:
            locked.hangup_requested_at = timezone.now()
            locked.save(update_fields=["hangup_requested_at", "updated_at"])
            detail = f"hang-up requested: voicemail message left ({heard_after:.0f} s)"
            _event(locked, source=CallEvent.Source.SYSTEM, kind=CallEvent.Kind.NOTE, detail=detail)
    hangup_call.apply_async_on_commit((str(call_id),), countdown=heard_after)
    return "left"


def call_check_voicemail(*, call_id: uuid.UUID | str, poll: int = 0) -> str:
    """One look at the answered call's first turns (our detector); schedules the next look."""
    call = Call.objects.get(pk=call_id)
    if call.status != CallStatus.ANSWERED or not call.agent_id or call.voicemail_detected_at:
        return "not needed"
    try:
        history = agora_client().get_agent_history(call.agent_id)
    except AgoraError as error:
        logger.info("call %s: no history for the voicemail check: %s", call.id, error)
        return _next_look(call, poll, "no history yet")
    contents = [{"role": m.role, "content": m.content} for m in history.contents]
    snapshot_keep(call, contents, now=timezone.now())  # this look is also the transcript's snapshot
    verdict = detect_voicemail(contents)
    if verdict.machine:
        call_voicemail_detected(
            call_id=call.pk, by="transcript", evidence="; ".join(verdict.reasons)
        )
        return "voicemail"
    callee_turns = sum(1 for m in contents if m["role"].lower() in ("user", "callee", "human"))
    if callee_turns >= 2:
        return "a person"  # two turns and no machine greeting: no further look is needed
    return _next_look(call, poll, "undecided")


def _next_look(call: Call, poll: int, said: str) -> str:
    from telephony.tasks import check_voicemail

    delays = poll_delays()
    if poll + 1 < len(delays):
        check_voicemail.apply_async_on_commit(
            (str(call.pk), poll + 1), countdown=max(0.0, delays[poll + 1] - delays[poll])
        )
    return said


def last_check_delay(call: Call) -> float | None:
    """Seconds from the answer to our detector's last possible look at the call's history, or
    None when it will not look (detection off, or not an outbound call)."""
    delays = poll_delays()
    if not settings.VOICEMAIL_DETECTION or not delays or call.direction != Call.Direction.OUTBOUND:
        return None
    return max(delays)


def start_voicemail_checks(call: Call) -> None:
    """Called when an outbound call is answered (inside its transaction)."""
    delays = poll_delays()
    if last_check_delay(call) is None:
        return
    from telephony.tasks import check_voicemail

    check_voicemail.apply_async_on_commit((str(call.pk), 0), countdown=delays[0])
