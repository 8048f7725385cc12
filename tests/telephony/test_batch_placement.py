"""Placing calls a batch at a time (services.calls.calls_place), against the in-process simulator:
the same promises as one at a time (exactly once, the cap, the rules right before dialing),
with a cost per batch that does not grow with its size."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from campaigns.models import DoNotCall
from telephony import tasks
from telephony.models import Call, CallEvent
from telephony.services.calls import (
    NewCall,
    PlacementDeferred,
    call_create,
    call_hangup,
    call_place,
    calls_create,
    calls_place,
)
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


def queue_calls(caller, profile, count: int, *, first: int = 200) -> list[Call]:
    return [
        call_create(
            to_number=f"+1415555{first + index:04d}",
            caller_id=caller,
            agent_profile=profile,
            variables={"first_name": "Ada"},
        )
        for index in range(count)
    ]


def ids(calls: list[Call]) -> list[str]:
    return [str(call.pk) for call in calls]


def placed_channels(simulator) -> list[str]:
    return [call.channel for call in simulator.ledger.calls]


def test_a_batch_sends_one_request_per_call_and_records_each(
    imported_caller, agent_profile, simulator
):
    calls = queue_calls(imported_caller, agent_profile, 6)

    outcomes = calls_place(ids(calls))

    assert outcomes == dict.fromkeys(ids(calls), "placed")
    assert sorted(placed_channels(simulator)) == sorted(call.channel for call in calls)
    for call in calls:
        call.refresh_from_db()
        assert call.status == CallStatus.DIALING
        assert call.agent_id and call.placement_attempts == 1
        assert call.placement_lease_until is None
        kinds = list(call.events.values_list("kind", "to_status"))
        assert kinds == [
            (CallEvent.Kind.STATUS, CallStatus.QUEUED),
            (CallEvent.Kind.STATUS, CallStatus.DIALING),
            (CallEvent.Kind.SIGNAL, ""),
        ]


def test_a_batchs_database_work_does_not_grow_with_its_size(
    imported_caller, agent_profile, simulator, django_capture_on_commit_callbacks
):
    small = queue_calls(imported_caller, agent_profile, 2, first=200)
    large = queue_calls(imported_caller, agent_profile, 12, first=300)

    def queries(calls) -> int:
        with (
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert set(calls_place(ids(calls)).values()) == {"placed"}
        return len(captured)

    assert queries(large) == queries(small)


def test_a_batch_takes_only_the_places_left_under_the_cap(
    imported_caller, agent_profile, simulator, settings
):
    settings.AGORA_MAX_CONCURRENT_CALLS = 3
    [live] = queue_calls(imported_caller, agent_profile, 1, first=100)
    call_place(call_id=live.pk)
    batch = queue_calls(imported_caller, agent_profile, 4)

    outcomes = calls_place(ids(batch))

    words = [outcome if isinstance(outcome, str) else "deferred" for outcome in outcomes.values()]
    assert sorted(words) == ["deferred", "deferred", "placed", "placed"]
    for call in batch:
        call.refresh_from_db()
        outcome = outcomes[str(call.pk)]
        if isinstance(outcome, PlacementDeferred):
            assert "cap" in outcome.reason and outcome.countdown == 5
            assert (call.status, call.placement_attempts) == (CallStatus.QUEUED, 0)
    assert len(simulator.ledger.calls) == 3


def test_each_call_of_a_batch_ends_its_own_way(imported_caller, agent_profile, simulator):
    blocked, hung_up, placed_before, first, second = queue_calls(imported_caller, agent_profile, 5)
    DoNotCall.objects.create(phone=blocked.to_number, reason="asked by text")
    call_hangup(call_id=hung_up.pk)
    call_place(call_id=placed_before.pk)
    simulator.inject_fault("error", operation="place_call", times=1, status=503)

    outcomes = calls_place(ids([blocked, hung_up, placed_before, first, second]))

    assert outcomes[str(blocked.pk)] == "refused"
    assert outcomes[str(hung_up.pk)] == "already ended"
    assert outcomes[str(placed_before.pk)] == "already placed"
    # One of the two got the 503 (the requests go out at once): deferred, sent again later.
    pair = [outcomes[str(first.pk)], outcomes[str(second.pk)]]
    deferred = [outcome for outcome in pair if isinstance(outcome, PlacementDeferred)]
    assert "placed" in pair and len(deferred) == 1
    assert deferred[0].countdown > 0
    blocked.refresh_from_db()
    assert (blocked.status, blocked.refused_by_rule) == (CallStatus.CANCELED, "do_not_call")
    unplaced = Call.objects.get(agent_id__isnull=True, pk__in=[first.pk, second.pk])
    assert unplaced.last_error and unplaced.placement_lease_until is None
    # Asked again, the deferred one is placed; nothing is placed twice.
    assert call_place(call_id=unplaced.pk) == "placed"
    assert len(simulator.ledger.calls) == 3
    assert len(set(placed_channels(simulator))) == 3


def test_a_missing_call_in_a_batch_is_reported_not_fatal(imported_caller, agent_profile, simulator):
    [call] = queue_calls(imported_caller, agent_profile, 1)
    gone = "00000000-0000-4000-8000-000000000000"

    assert calls_place([str(call.pk), gone]) == {str(call.pk): "placed", gone: "missing"}
    with pytest.raises(Call.DoesNotExist):
        call_place(call_id=gone)


@pytest.mark.django_db(transaction=True)
def test_two_workers_placing_overlapping_batches_place_each_call_once(
    imported_caller, agent_profile, simulator
):
    calls = queue_calls(imported_caller, agent_profile, 8)
    batches = [ids(calls[:6]), ids(calls[2:])]
    outcomes: list[dict] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(batch):
        try:
            start.wait(5)
            outcomes.append(calls_place(batch))
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert sorted(placed_channels(simulator)) == sorted(call.channel for call in calls)
    for call in calls:
        call.refresh_from_db()
        assert call.agent_id
    placed = [key for result in outcomes for key, word in result.items() if word == "placed"]
    assert sorted(placed) == sorted(ids(calls))  # each placed by exactly one of the two


def test_the_batch_task_sends_the_deferred_again_together(
    imported_caller, agent_profile, simulator, settings, monkeypatch
):
    settings.AGORA_MAX_CONCURRENT_CALLS = 1
    calls = queue_calls(imported_caller, agent_profile, 3)
    sent_again = []
    monkeypatch.setattr(
        tasks.place_calls,
        "apply_async",
        lambda args, countdown: sent_again.append((sorted(args[0]), countdown)),
    )

    counts = tasks.place_calls(ids(calls))

    assert counts == {"placed": 1, "deferred": 2}
    unplaced = sorted(str(call.pk) for call in Call.objects.filter(agent_id__isnull=True))
    assert sent_again == [(unplaced, 5)]


def test_calls_created_together_are_checked_one_by_one_and_queued_in_batches(
    imported_caller, agent_profile, settings, django_capture_on_commit_callbacks
):
    settings.CALL_PLACEMENT_BATCH_SIZE = 2
    DoNotCall.objects.create(phone="+14155550202", reason="asked by letter")
    new_calls = [
        NewCall(
            to_number=f"+1415555{200 + index:04d}",
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
        )
        for index in range(5)
    ]
    new_calls[3].to_number = "not a number"

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        answers = calls_create(new_calls, source=CallEvent.Source.SYSTEM)

    assert [type(answer).__name__ for answer in answers] == [
        "Call", "Call", "CallRefused", "ValidationError", "Call",
    ]  # fmt: skip
    assert "do-not-call" in answers[2].messages[0]
    assert "to_number" in answers[3].message_dict
    queued = Call.objects.filter(status=CallStatus.QUEUED)
    assert sorted(queued.values_list("to_number", flat=True)) == [
        "+14155550200", "+14155550201", "+14155550204",
    ]  # fmt: skip
    assert CallEvent.objects.filter(to_status=CallStatus.QUEUED).count() == 3
    assert len(callbacks) == 2  # a task of 2 and a task of 1


def test_calls_placed_here_after_commit_go_to_a_worker_should_that_fail(
    imported_caller, agent_profile, simulator, monkeypatch, django_capture_on_commit_callbacks
):
    from telephony.services import calls as call_services

    new_calls = [
        NewCall(to_number=f"+1415555{number:04d}", caller_id=imported_caller,
                agent_profile=agent_profile, variables={"first_name": "Ada"})
        for number in (200, 201)
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        placed = calls_create(new_calls[:1], source=CallEvent.Source.SYSTEM, place_here=True)
    placed[0].refresh_from_db()
    assert placed[0].agent_id and len(simulator.ledger.calls) == 1  # no task: placed here

    def lost_connection(call_ids):
        raise RuntimeError("database connection lost")

    queued = []
    monkeypatch.setattr(call_services, "calls_place", lost_connection)
    monkeypatch.setattr(tasks.place_call, "delay_on_commit", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        [call] = calls_create(new_calls[1:], source=CallEvent.Source.SYSTEM, place_here=True)
    assert queued == [str(call.pk)]
