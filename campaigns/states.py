"""The campaign lifecycle as an explicit state machine.

    draft -> scheduled -> running <-> paused -> completed
    draft, scheduled, running, paused -> cancelled

Only `campaigns.services.campaigns` changes a campaign's status, and only along TRANSITIONS
(start, pause, resume, cancel, and completion by the dispatcher). Completed and cancelled are
final: a finished campaign is never called again. The statuses themselves are the model's
choices (`Campaign.Status`); each contact's own progress is `CampaignContact.Status`.
"""

from campaigns.models import Campaign, CampaignContact

S = Campaign.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    # Started: running at once, or scheduled when its start time is still ahead.
    S.DRAFT: frozenset({S.SCHEDULED, S.RUNNING, S.CANCELLED}),
    # The start time came (the dispatcher), or staff paused it before then.
    S.SCHEDULED: frozenset({S.RUNNING, S.PAUSED, S.CANCELLED}),
    # Completed: nothing left to call, or its end time passed.
    S.RUNNING: frozenset({S.PAUSED, S.COMPLETED, S.CANCELLED}),
    # Resumed: running, or scheduled again when its start time is still ahead.
    S.PAUSED: frozenset({S.RUNNING, S.SCHEDULED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Started and not finished: its caller IDs are in use (telephony may not delete them), and the
# dashboard and the progress pages follow it live.
ACTIVE_CAMPAIGN_STATUSES = frozenset({S.SCHEDULED, S.RUNNING, S.PAUSED})
FINAL_STATUSES = frozenset({S.COMPLETED, S.CANCELLED})


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS[current]


C = CampaignContact.Status
# A contact waiting for its next call: the dispatcher claims these once `next_attempt_at` is due.
WAITING_CONTACT_STATUSES = (C.PENDING, C.RETRY_SCHEDULED, C.CALLBACK_SCHEDULED)
# Still to be called or being called: a campaign with none left is complete.
OPEN_CONTACT_STATUSES = (*WAITING_CONTACT_STATUSES, C.IN_PROGRESS)
# Finished for a reason no callback can undo.
CLOSED_CONTACT_STATUSES = frozenset({C.DO_NOT_CALL, C.NO_CONSENT, C.INVALID, C.CANCELLED})
