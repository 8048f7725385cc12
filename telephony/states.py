"""The call lifecycle as an explicit state machine, and how Agora's signals map onto it.

    queued -> dialing -> ringing -> answered -> completed
    terminal alternatives: voicemail (answered by a machine), no_answer, busy, failed, canceled

Only `telephony.services.calls.call_transition` changes a status, and only along TRANSITIONS.
States never move backwards: every allowed transition goes up in RANK.
"""

from django.db import models


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DIALING = "dialing", "Dialing"
    RINGING = "ringing", "Ringing"
    ANSWERED = "answered", "Answered"
    COMPLETED = "completed", "Completed"
    VOICEMAIL = "voicemail", "Voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


LIVE_STATUSES = frozenset({CallStatus.DIALING, CallStatus.RINGING, CallStatus.ANSWERED})
TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.VOICEMAIL,
        CallStatus.NO_ANSWER,
        CallStatus.BUSY,
        CallStatus.FAILED,
        CallStatus.CANCELED,
    }
)
# Answered: by a person (completed) or by a machine (voicemail, detected after the answer).
ANSWERED_ENDINGS = frozenset({CallStatus.COMPLETED, CallStatus.VOICEMAIL})
# Rang through to an ending someone could have answered (not failed, not canceled): the
# denominator of answer rates; a person answered the `completed` ones.
REACHABLE_ENDINGS = frozenset(
    {CallStatus.COMPLETED, CallStatus.VOICEMAIL, CallStatus.NO_ANSWER, CallStatus.BUSY}
)

RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.DIALING: 1,
    CallStatus.RINGING: 2,
    CallStatus.ANSWERED: 3,
    **dict.fromkeys(TERMINAL_STATUSES, 4),
}

_UNANSWERED_ENDINGS = {
    CallStatus.NO_ANSWER,
    CallStatus.BUSY,
    CallStatus.FAILED,
    CallStatus.CANCELED,
}

# Webhooks can overtake the place-call answer, so a queued call may jump ahead; and a call may
# complete without its answer ever being seen (polling: answered and ended between two polls).
TRANSITIONS: dict[str, frozenset[str]] = {
    CallStatus.QUEUED: frozenset(
        {
            CallStatus.DIALING,
            CallStatus.RINGING,
            CallStatus.ANSWERED,
            *ANSWERED_ENDINGS,
            *_UNANSWERED_ENDINGS,
        }
    ),
    CallStatus.DIALING: frozenset(
        {CallStatus.RINGING, CallStatus.ANSWERED, *ANSWERED_ENDINGS, *_UNANSWERED_ENDINGS}
    ),
    CallStatus.RINGING: frozenset(
        {
            CallStatus.ANSWERED,
            *ANSWERED_ENDINGS,
            CallStatus.NO_ANSWER,
            CallStatus.FAILED,
            CallStatus.CANCELED,
        }
    ),
    CallStatus.ANSWERED: frozenset({*ANSWERED_ENDINGS, CallStatus.FAILED}),
    **{status: frozenset() for status in TERMINAL_STATUSES},
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS[current] and RANK[target] > RANK[current]


# Agora's webhook call states (202 outbound, 201 inbound) before the end.
AGORA_LIVE_STATE_TO_STATUS = {
    "START": CallStatus.DIALING,
    "CALLING": CallStatus.DIALING,
    "RINGING": CallStatus.RINGING,
    "ANSWERED": CallStatus.ANSWERED,
    "TRANSFERED": CallStatus.ANSWERED,  # (sic) an inbound call handed on after answering
}
INBOUND_LIVE_STATE_TO_STATUS = {**AGORA_LIVE_STATE_TO_STATUS, "START": CallStatus.RINGING}

# An unanswered call that lasted at least this long rang out (no answer); shorter ones failed.
# Only used when no webhook told us it rang (polling alone cannot see RINGING).
NO_ANSWER_MIN_SECONDS = 8


def ended_status(
    *,
    answered: bool,
    agora_reason: str | None,
    hangup_requested: bool,
    seen_states: set[str],
    lasted_seconds: float | None = None,
) -> tuple[str, str]:
    """The terminal status of a call Agora reports as ended, and why (documented in README).

    - answered, then anyone hung up                -> completed
    - Agora's reason is "hangup" (the other party hung up: so it was connected), even when
      no answer was seen (a short call can start and end between two polls) -> completed
    - not answered, and we asked to hang up        -> canceled
    - not answered, it rang (RINGING seen)         -> no_answer
    - not answered, CALLING seen but never rang    -> busy
    - not answered, polling only, lasted >= 8 s    -> no_answer
    - otherwise                                    -> failed
    """
    if answered or agora_reason == "hangup":
        who = {"request": "we hung up", "hangup": "the other party hung up"}.get(
            agora_reason or "", "the call ended"
        )
        return CallStatus.COMPLETED, f"completed: {who}"
    if hangup_requested or agora_reason == "request":
        return CallStatus.CANCELED, "canceled: hung up before it was answered"
    if "RINGING" in seen_states:
        return CallStatus.NO_ANSWER, "no answer: it rang and nobody picked up"
    if "CALLING" in seen_states:
        return CallStatus.BUSY, "busy: the callee's line never rang"
    if lasted_seconds is not None and lasted_seconds >= NO_ANSWER_MIN_SECONDS:
        return CallStatus.NO_ANSWER, "no answer: unanswered after ringing (seen by polling)"
    return CallStatus.FAILED, "failed: the call could not be connected"
