"""The transition table can always take the ending Agora reports: no call is left live."""

import itertools

from telephony.states import (
    RANK,
    TERMINAL_STATUSES,
    TRANSITIONS,
    CallStatus,
    can_transition,
    ended_status,
)

STATES_SEEN = ["START", "CALLING", "RINGING", "ANSWERED"]


def test_every_reported_ending_is_reachable_from_every_consistent_live_status():
    for current in (CallStatus.QUEUED, CallStatus.DIALING, CallStatus.RINGING, CallStatus.ANSWERED):
        for size in range(len(STATES_SEEN) + 1):
            for seen in itertools.combinations(STATES_SEEN, size):
                seen = set(seen) | ({"RINGING"} if current == CallStatus.RINGING else set())
                answered = current == CallStatus.ANSWERED or "ANSWERED" in seen
                for reason, requested, lasted in itertools.product(
                    [None, "request", "hangup", "failed"], [False, True], [None, 2, 30]
                ):
                    target, _ = ended_status(
                        answered=answered,
                        agora_reason=reason,
                        hangup_requested=requested,
                        seen_states=seen,
                        lasted_seconds=lasted,
                    )
                    assert can_transition(current, target), (current, target, seen, reason)


def test_transitions_only_go_up_and_terminal_statuses_are_final():
    for source, targets in TRANSITIONS.items():
        assert all(RANK[target] > RANK[source] for target in targets)
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
    assert not can_transition(CallStatus.ANSWERED, CallStatus.RINGING)
    assert not can_transition(CallStatus.COMPLETED, CallStatus.FAILED)
