"""Placing calls exactly once, against the in-process simulator (invariant 1)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from telephony.models import Call, CallEvent
from telephony.rules import CallRefused
from telephony.services.calls import (
    PlacementDeferred,
    call_create,
    call_identity,
    call_place,
    call_transition,
    calls_place_scheduled,
)
from telephony.services.capacity import booked_call_count
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


def new_call(caller, profile, to="+14155550150", **variables) -> Call:
    return call_create(
        to_number=to,
        caller_id=caller,
        agent_profile=profile,
        variables={"first_name": "Ada", **variables},
    )


def test_create_queues_the_call_and_enqueues_placement_after_commit(
    imported_caller, agent_profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        call = new_call(imported_caller, agent_profile, to="(415) 555-0150")

    assert call.status == CallStatus.QUEUED
    assert call.to_number == "+14155550150"  # national input, default region US
    assert (call.agora_name, call.channel) == call_identity(call.id)
    assert len(callbacks) == 1
    event = call.events.get()
    assert (event.source, event.kind, event.to_status) == ("api", "status", "queued")


def test_call_ids_are_time_ordered_so_new_rows_land_at_the_end_of_their_indexes(
    imported_caller, agent_profile
):
    from telephony.services.calls import NewCall, calls_create

    first = new_call(imported_caller, agent_profile)
    batch = calls_create(
        [NewCall(to_number=f"+1415555{n:02d}50", caller_id=imported_caller,
                 agent_profile=agent_profile, variables={"first_name": "Ada"})
         for n in range(10, 13)],
        source=CallEvent.Source.SYSTEM,
    )  # fmt: skip
    ids = [first.id, *(call.id for call in batch)]
    assert {call_id.version for call_id in ids} == {7}
    assert ids == sorted(ids)  # made one after another: in order, as PostgreSQL sorts them
    assert list(Call.objects.order_by("id").values_list("id", flat=True)) == ids
    assert call_identity(first.id) == (first.agora_name, first.channel)


def test_placement_sends_one_call_with_our_id_in_the_labels(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)

    assert call_place(call_id=call.id) == "placed"

    call.refresh_from_db()
    assert call.status == CallStatus.DIALING
    assert call.agent_id and call.dialed_at and call.placement_attempts == 1
    placed = simulator.ledger.calls
    assert [(c.name, c.channel, c.to_number) for c in placed] == [
        (call.agora_name, call.channel, "+14155550150")
    ]
    assert placed[0].labels["call_id"] == str(call.id)
    assert placed[0].greeting == "Hi Ada, this is Acme calling about your appointment."
    # The simulator verified both RTC tokens against the app certificate.
    assert call_place(call_id=call.id) == "already placed"
    assert len(simulator.ledger.calls) == 1


def test_a_409_is_recovered_by_finding_the_existing_call(imported_caller, agent_profile, simulator):
    call = new_call(imported_caller, agent_profile)
    # An earlier attempt reached Agora but its answer never came back.
    simulator.inject_fault("lost_response", operation="place_call", times=4)

    assert call_place(call_id=call.id) == "found after a lost answer"

    call.refresh_from_db()
    assert call.agent_id == simulator.ledger.calls[0].agent_id
    assert len(simulator.ledger.calls) == 1
    assert simulator.ledger.request_counts["list_calls"] >= 1


def test_a_lost_answer_finds_the_call_by_channel(imported_caller, agent_profile, simulator):
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("lost_response", operation="place_call", times=1)

    assert call_place(call_id=call.id) == "found after a lost answer"

    call.refresh_from_db()
    assert call.agent_id == simulator.ledger.calls[0].agent_id
    assert len(simulator.ledger.calls) == 1


def test_a_409_on_the_next_try_finds_the_call_by_channel(imported_caller, agent_profile, simulator):
    # The answer is lost and the call cannot be listed yet: the placement is deferred; the next
    # try sends the same name again, Agora answers 409, and the call is found by its channel.
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("lost_response", operation="place_call", times=1)
    simulator.inject_fault("error", operation="list_calls", status=500, times=1)
    with pytest.raises(PlacementDeferred):
        call_place(call_id=call.id)

    assert call_place(call_id=call.id) == "found after 409"

    call.refresh_from_db()
    assert call.agent_id == simulator.ledger.calls[0].agent_id
    assert len(simulator.ledger.calls) == 1
    assert "found after 409" in call.events.last().detail


def test_a_5xx_is_deferred_and_sent_again_on_the_next_try(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("error", operation="place_call", status=503, times=1)
    with pytest.raises(PlacementDeferred) as deferred:
        call_place(call_id=call.id)  # one request: no retry inside the client
    call.refresh_from_db()
    assert call.status == CallStatus.DIALING  # holds its slot: it may exist at Agora
    assert "503" in call.last_error
    assert deferred.value.countdown > 0
    assert call_place(call_id=call.id) == "placed"
    assert len(simulator.ledger.calls) == 1
    assert simulator.ledger_summary()["requests"]["by_operation"]["place_call"] == 2


def test_a_500_is_deferred_not_failed_because_placing_again_is_safe(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("error", operation="place_call", status=500)
    with pytest.raises(PlacementDeferred):
        call_place(call_id=call.id)
    assert call_place(call_id=call.id) == "placed"


def test_429_waits_for_retry_after(imported_caller, agent_profile, simulator, settings):
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("rate_limit", operation="place_call", retry_after=120)
    with pytest.raises(PlacementDeferred) as deferred:
        call_place(call_id=call.id)
    assert deferred.value.countdown == 120
    assert call_place(call_id=call.id) == "placed"


def test_a_retry_after_of_a_day_waits_ten_minutes_at_most(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    simulator.inject_fault("rate_limit", operation="place_call", retry_after=86_400)
    with pytest.raises(PlacementDeferred) as deferred:
        call_place(call_id=call.id)
    assert deferred.value.countdown == 600


def test_5xx_without_retry_after_back_off_exponentially_per_attempt(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    countdowns = []
    for _ in range(3):
        simulator.inject_fault("error", operation="place_call", status=502)
        Call.objects.filter(pk=call.pk).update(placement_lease_until=None)
        with pytest.raises(PlacementDeferred) as deferred:
            call_place(call_id=call.id)
        countdowns.append(deferred.value.countdown)
    assert countdowns == [2, 4, 8]


def test_a_non_retryable_refusal_fails_the_call_with_the_reason(
    agora, caller_number, agent_profile
):
    # The caller number was never imported into Agora: Agora answers 422.
    call = new_call(caller_number, agent_profile)

    assert call_place(call_id=call.id) == "failed"

    call.refresh_from_db()
    assert call.status == CallStatus.FAILED
    assert "not an imported number" in call.last_error
    assert "not an imported number" in call.end_reason
    assert call.agent_id is None


def test_placement_waits_while_the_account_is_at_its_cap(
    imported_caller, agent_profile, simulator, settings
):
    settings.AGORA_MAX_CONCURRENT_CALLS = 1
    first = new_call(imported_caller, agent_profile, to="+14155550004")
    call_place(call_id=first.id)
    second = new_call(imported_caller, agent_profile, to="+14155550250")

    with pytest.raises(PlacementDeferred, match="cap"):
        call_place(call_id=second.id)

    second.refresh_from_db()
    assert second.status == CallStatus.QUEUED
    assert second.placement_attempts == 0
    assert len(simulator.ledger.calls) == 1


def test_another_workers_lease_defers_a_duplicate_task(imported_caller, agent_profile, simulator):
    from datetime import timedelta

    from django.utils import timezone

    call = new_call(imported_caller, agent_profile)
    Call.objects.filter(pk=call.pk).update(
        placement_lease_until=timezone.now() + timedelta(seconds=30)
    )
    with pytest.raises(PlacementDeferred, match="another worker"):
        call_place(call_id=call.id)
    assert simulator.ledger.calls == []


def test_repeated_failures_give_up_after_the_attempt_limit(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    for _ in range(8):
        simulator.inject_fault("error", operation="place_call", status=503, times=4)
        with pytest.raises(PlacementDeferred):
            call_place(call_id=call.id)
    assert call_place(call_id=call.id) == "failed"
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED
    assert "not placed after 8 attempts" in call.end_reason


def test_missing_template_variables_are_refused_at_creation(imported_caller, agent_profile):
    with pytest.raises(ValidationError) as error:
        call_create(
            to_number="+14155550150", caller_id=imported_caller, agent_profile=agent_profile
        )
    assert "first_name" in str(error.value)
    assert not Call.objects.exists()


def test_missing_variables_at_call_time_fail_the_call_without_dialing(
    imported_caller, agent_profile, simulator
):
    call = new_call(imported_caller, agent_profile)
    agent_profile.greeting_template = "Hello {{nickname}}"
    agent_profile.save()

    assert call_place(call_id=call.id) == "failed"
    call.refresh_from_db()
    assert "nickname" in call.end_reason
    assert simulator.ledger.calls == []


def test_bad_input_is_refused_with_field_errors(imported_caller, agent_profile):
    with pytest.raises(ValidationError) as error:
        new_call(imported_caller, agent_profile, to="12")
    assert "to_number" in error.value.message_dict
    imported_caller.outbound = False
    with pytest.raises(ValidationError) as error:
        new_call(imported_caller, agent_profile)
    assert "not enabled for outbound" in str(error.value)


def test_transitions_only_move_forward(imported_caller, agent_profile):
    call = new_call(imported_caller, agent_profile)
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        assert call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.WEBHOOK)
        assert not call_transition(locked, CallStatus.RINGING, source=CallEvent.Source.WEBHOOK)
        assert not call_transition(locked, CallStatus.NO_ANSWER, source=CallEvent.Source.POLL)
        assert call_transition(locked, CallStatus.COMPLETED, source=CallEvent.Source.POLL)
        assert not call_transition(locked, CallStatus.FAILED, source=CallEvent.Source.POLL)
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.dialed_at and call.answered_at and call.ended_at
    assert list(call.events.values_list("to_status", flat=True)) == [
        "queued", "answered", "completed",
    ]  # fmt: skip


def test_tasks_for_calls_that_no_longer_exist_finish_quietly(caplog):
    from telephony.tasks import (
        fetch_call_agent_data,
        hangup_call,
        place_call,
        process_webhook_event,
    )

    missing = "00000000-0000-0000-0000-000000000000"
    assert place_call.apply(args=[missing]).get() == "missing"
    assert hangup_call.apply(args=[missing]).get() == "missing"
    assert fetch_call_agent_data.apply(args=[missing]).get() is None
    assert process_webhook_event.apply(args=[424242]).get() == "missing"
    assert "gone before it was placed" in caplog.text


# -- a single call scheduled for later ------------------------------------------------------------


def test_a_call_scheduled_for_later_is_placed_at_its_time_not_before(
    imported_caller, agent_profile, simulator, clock, django_capture_on_commit_callbacks
):
    later = clock.now() + timedelta(hours=2)  # noon in San Francisco: inside the hours
    with django_capture_on_commit_callbacks() as queued:
        call = call_create(
            to_number="+14155550150", caller_id=imported_caller, agent_profile=agent_profile,
            variables={"first_name": "Ada"}, scheduled_for=later,
        )  # fmt: skip
    assert queued == []  # nothing sent to a worker yet
    assert call.scheduled_for == later
    assert call.events.get().detail.endswith(f"for {later:%Y-%m-%d %H:%M} UTC")
    assert booked_call_count() == 0  # it holds no place under the cap before its time
    assert call_place(call_id=call.pk) == "not due yet"  # an early task does nothing
    assert calls_place_scheduled() == 0

    clock.move_to(later)
    with django_capture_on_commit_callbacks() as queued:
        assert calls_place_scheduled() == 1
    assert len(queued) == 1
    assert calls_place_scheduled() == 0  # sent once
    assert call_place(call_id=call.pk) == "placed"
    assert len(simulator.ledger.calls) == 1


def test_a_scheduled_call_answers_to_the_rules_at_its_time(imported_caller, agent_profile, clock):
    tonight = clock.now() + timedelta(hours=12)  # 22:00 in San Francisco
    with pytest.raises(CallRefused, match="outside the calling hours"):
        call_create(
            to_number="+14155550150", caller_id=imported_caller, agent_profile=agent_profile,
            variables={"first_name": "Ada"}, scheduled_for=tonight,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="At most 90 days ahead"):
        call_create(
            to_number="+14155550150", caller_id=imported_caller, agent_profile=agent_profile,
            variables={"first_name": "Ada"}, scheduled_for=clock.now() + timedelta(days=91),
        )  # fmt: skip
    assert not Call.objects.exists()


def test_the_api_schedules_a_call(api_client, imported_caller, agent_profile, clock):
    later = (clock.now() + timedelta(hours=1)).isoformat()
    answer = api_client.post(
        "/api/v1/calls/",
        {"to_number": "+14155550150", "caller_id": imported_caller.e164,
         "agent": agent_profile.name, "variables": {"first_name": "Ada"},
         "scheduled_for": later},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.json()
    assert answer.json()["scheduled_for"] == later.replace("+00:00", "Z")
