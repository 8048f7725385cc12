"""A voicemail box answers a call: detected by our transcript check or by the agent's tool, the
call's policy decides (hang up, leave the message once, carry on), and it ends `voicemail`."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contactcenter.agent_tools.services import tool_call
from telephony import tools
from telephony.models import Call, CallEvent, VoicemailPolicy
from telephony.services.calls import (
    AgoraReport,
    call_apply_report,
    call_create,
    call_hangup_remote,
    call_place,
    calls_poll,
)
from telephony.services.voicemail import (
    call_check_voicemail,
    call_leave_voicemail,
    call_voicemail_detected,
)
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db

VOICEMAIL_BOX = "+14155555004"  # the simulator's voicemail box (callees.py), never hangs up
PERSON = "+14155550004"  # a person who talks until hung up


@pytest.fixture
def answered(imported_caller, agent_profile, simulator, agora):
    def answered(to_number: str, **fields) -> Call:
        call = call_create(
            to_number=to_number,
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
            **fields,
        )
        call_place(call_id=call.id)
        simulator.advance(5)  # dialled, rang and answered
        calls_poll(now=timezone.now() + timedelta(hours=1))
        call.refresh_from_db()
        assert call.status == CallStatus.ANSWERED
        return call

    return answered


def hang_up_now(call: Call) -> Call:
    call_hangup_remote(call_id=call.pk)
    call.refresh_from_db()
    return call


def test_our_detector_hears_the_machine_greeting_and_the_call_ends_voicemail(answered, simulator):
    call = answered(VOICEMAIL_BOX)
    assert call_check_voicemail(call_id=call.pk) == "undecided"  # the greeting is not said yet
    simulator.advance(25)  # the box has played its greeting and the beep
    assert call_check_voicemail(call_id=call.pk, poll=1) == "voicemail"
    call.refresh_from_db()
    assert (call.voicemail_detected_by, call.hangup_requested_at is not None) == (
        "transcript",
        True,
    )
    note = call.events.get(payload__voicemail="transcript")
    assert "en: 'leave a message'" in note.detail

    call = hang_up_now(call)
    assert call.status == CallStatus.VOICEMAIL
    assert call.answered_at is not None and call.end_reason.startswith("voicemail (transcript)")


def test_a_person_is_not_taken_for_a_machine(answered, simulator):
    call = answered(PERSON)
    simulator.advance(25)
    assert call_check_voicemail(call_id=call.pk) == "a person"
    call = hang_up_now(call)
    assert call.status == CallStatus.COMPLETED and call.voicemail_detected_at is None


def test_leave_message_speaks_it_once_not_interruptible_then_hangs_up(answered, simulator):
    call = answered(
        VOICEMAIL_BOX,
        voicemail_policy=VoicemailPolicy.LEAVE_MESSAGE,
        voicemail_message="Hi {{first_name}}, this is Acme. Please call us back.",
    )
    # The agent's tool decides first; a later transcript detection changes nothing.
    assert tool_call(call=call, tool=tools.VOICEMAIL_DETECTED, arguments={}) == {
        "ok": True,
        "result": "leaving the message",
    }
    assert call_voicemail_detected(call_id=call.pk, by="transcript") == "already detected"

    assert call_leave_voicemail(call_id=call.pk) == "left"
    assert call_leave_voicemail(call_id=call.pk) == "already left"  # a repeated task
    spoken = [c for c in simulator.ledger.calls[-1].controls if c["action"] == "speak"]
    assert [(c["text"], c["priority"], c["interruptable"]) for c in spoken] == [
        ("Hi Ada, this is Acme. Please call us back.", "INTERRUPT", False)
    ]
    call.refresh_from_db()
    assert call.hangup_requested_at is not None
    call = hang_up_now(call)  # the hang-up task, once the message has been heard
    assert (call.status, call.voicemail_detected_by) == (CallStatus.VOICEMAIL, "agent")


def test_continue_only_notes_it_and_the_call_carries_on(answered):
    call = answered(VOICEMAIL_BOX, voicemail_policy=VoicemailPolicy.CONTINUE)
    assert call_voicemail_detected(call_id=call.pk, by="agent") == "noted: the call carries on"
    call.refresh_from_db()
    assert call.hangup_requested_at is None and call.status == CallStatus.ANSWERED


def test_end_call_with_reason_voicemail_is_the_same_as_the_voicemail_tool(answered):
    call = answered(VOICEMAIL_BOX)
    result = tool_call(call=call, tool=tools.END_CALL, arguments={"reason": "voicemail"})
    assert result == {"ok": True, "result": "hanging up"}
    call.refresh_from_db()
    assert call.voicemail_detected_by == "agent"


def test_leave_message_needs_a_message(imported_caller, agent_profile):
    with pytest.raises(ValidationError, match="Say what to leave"):
        call_create(
            to_number=PERSON,
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
            voicemail_policy=VoicemailPolicy.LEAVE_MESSAGE,
        )


def test_a_hang_up_report_after_detection_ends_voicemail_even_without_an_answer_seen(
    imported_caller, agent_profile, agora
):
    call = call_create(
        to_number=PERSON,
        caller_id=imported_caller,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
    )
    with transaction.atomic():
        Call.objects.filter(pk=call.pk).update(
            status=CallStatus.DIALING, agent_id="AGENT1", voicemail_detected_at=timezone.now(),
            voicemail_detected_by="agent",
        )  # fmt: skip
    call_apply_report(
        call_id=call.pk,
        report=AgoraReport(state="HANGUP", reason="hangup", raw={}),
        source=CallEvent.Source.POLL,
    )
    call.refresh_from_db()
    assert call.status == CallStatus.VOICEMAIL and call.answered_at is not None


def test_our_detector_reads_the_history_a_bounded_number_of_times(
    answered, simulator, settings, django_capture_on_commit_callbacks
):
    settings.VOICEMAIL_DETECTION_POLL_SECONDS = ["3", "7", "12"]
    call = answered("+14155559004")  # says nothing a detector could use for a long while
    simulator.advance(0.1)
    before = simulator.ledger.request_counts["get_agent_history"]
    poll, looks = 0, 0
    while True:
        with django_capture_on_commit_callbacks(execute=False) as next_looks:
            call_check_voicemail(call_id=call.pk, poll=poll)
        looks += 1
        if not next_looks:
            break
        poll += 1
    assert looks == 3  # one per configured delay, then no more
    assert simulator.ledger.request_counts["get_agent_history"] - before == 3
