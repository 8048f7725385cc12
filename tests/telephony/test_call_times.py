"""A call's times, duration and outcome are what happened at Agora, checked against the
simulator's own record of each call: however late or out of order the reports are processed."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from telephony.models import Call, CallEvent, WebhookEvent
from telephony.services.calls import (
    AgoraReport,
    call_apply_report,
    call_finalize_end,
    call_poll_one,
)
from telephony.services.stats import call_summary
from telephony.services.webhooks import webhook_process
from telephony.states import CallStatus
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db
URL = "/webhooks/agora/"


def deliver(webhooks, *, order=None) -> list[WebhookEvent]:
    """Hand the simulator's signed notifications to the receiver (stored, not processed)."""
    client = Client()
    received = list(webhooks.received)
    webhooks.received.clear()
    for item in order(received) if order else received:
        headers = {
            "HTTP_AGORA_SIGNATURE": item["headers"]["Agora-Signature"],
            "HTTP_AGORA_SIGNATURE_V2": item["headers"]["Agora-Signature-V2"],
        }
        response = client.post(URL, data=item["body"], content_type="application/json", **headers)
        assert response.status_code == 200
    return list(WebhookEvent.objects.filter(status="received").order_by("id"))


def process(events) -> None:
    for event in events:
        webhook_process(event_id=event.id)


def sim_time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def record_of(simulator, call: Call) -> dict:
    [record] = [entry for entry in simulator.ledger_calls() if entry["agent_id"] == call.agent_id]
    return record


def state_of(event: WebhookEvent) -> str:
    return event.body["payload"].get("state", "")


def assert_times_match_the_record(call: Call, record: dict) -> None:
    call.refresh_from_db()
    assert call.answered_at == sim_time(record["answered_at"])
    assert call.ended_at == sim_time(record["ended_at"])
    assert call.duration_seconds == round(record["ended_at"] - record["answered_at"])


def test_webhooks_processed_minutes_late_give_agoras_times_not_ours(
    place, simulator, webhooks, clock
):
    call = place("+14155550180")  # answered after 4.5 s, talks 18 s
    simulator.advance(60)
    events = deliver(webhooks)
    clock.advance(minutes=5)  # a busy worker gets to them five minutes later

    process(events)

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == 18
    assert_times_match_the_record(call, record_of(simulator, call))
    assert call.ringing_at < call.answered_at < call.ended_at
    # our own processing time stays beside it, in the event log
    ended = call.events.get(kind=CallEvent.Kind.STATUS, to_status=CallStatus.COMPLETED)
    assert ended.created_at - call.ended_at > timedelta(minutes=4)


def test_the_end_processed_before_the_answer_still_gives_the_true_duration(
    place, simulator, webhooks, clock
):
    call = place("+14155550100")  # talks 10 s
    simulator.advance(60)

    def hangup_first(items):
        return sorted(items, key=lambda item: b'"state":"HANGUP"' not in item["body"])

    process(deliver(webhooks, order=hangup_first))
    clock.advance(seconds=20)  # the settle time runs out later
    call_finalize_end(call_id=call.id)

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == 10
    assert_times_match_the_record(call, record_of(simulator, call))


def test_an_answer_seen_late_by_a_poll_is_corrected_by_agoras_answered_report(
    place, simulator, webhooks, clock
):
    call = place("+14155550150")  # answered after 4.5 s, talks 15 s
    simulator.advance(12)
    clock.advance(seconds=12)
    call_poll_one(call_id=call.id)  # a poll sees it answered, 7.5 s after the fact
    call.refresh_from_db()
    assert call.status == CallStatus.ANSWERED
    polled_answer = call.answered_at

    simulator.advance(60)
    process(deliver(webhooks))

    call.refresh_from_db()
    record = record_of(simulator, call)
    assert call.answered_at < polled_answer
    assert_times_match_the_record(call, record)
    assert call.events.filter(detail="times corrected by Agora's ANSWERED report").exists()


def test_a_ringing_notice_still_waiting_for_a_worker_counts_when_the_end_is_settled(
    place, simulator, webhooks
):
    call = place("+14155550001")  # rings, nobody answers
    simulator.advance(60)
    events = deliver(webhooks)
    # a stalled worker holds the RINGING notice: everything else is processed
    process(event for event in events if state_of(event) != "RINGING")
    call.refresh_from_db()
    assert call.end_pending_since is not None
    assert "RINGING" not in call.seen_states

    call_finalize_end(call_id=call.id)

    call.refresh_from_db()
    assert call.status == CallStatus.NO_ANSWER  # not "busy": it rang
    assert call.ringing_at == sim_time(
        next(at for state, at in simulator._calls[call.agent_id].states if state == "RINGING")
    )
    assert call.ended_at == sim_time(record_of(simulator, call)["ended_at"])


def test_durations_and_the_answer_rate_match_the_simulators_record_in_any_order(
    place, simulator, webhooks, clock
):
    callees = [
        "+14155550100",  # talks 10 s
        "+14155550150",  # talks 15 s
        "+14155550180",  # talks 18 s
        "+14155550250",  # talks 25 s
        "+14155550001",  # never answered
        "+14155550002",  # busy
    ]
    calls = [place(callee) for callee in callees]
    simulator.advance(120)
    shuffle = random.Random(7).shuffle

    def any_order(items):
        shuffle(items)
        return items

    process(deliver(webhooks, order=any_order))
    clock.advance(seconds=30)
    for call in calls:
        call_finalize_end(call_id=call.id)

    records = [record_of(simulator, call) for call in calls]
    answered = [
        (call, record) for call, record in zip(calls, records, strict=True) if record["answered_at"]
    ]
    assert len(answered) == 4
    for call, record in answered:
        assert_times_match_the_record(call, record)
    summary = call_summary(Call.objects.all())
    assert summary.answer_rate == len(answered) / len(records)
    talk = [record["ended_at"] - record["answered_at"] for _, record in answered]
    assert summary.average_talk_seconds == pytest.approx(sum(talk) / len(talk), abs=0.5)


def test_a_completed_call_without_an_answer_time_cannot_be_stored(caller_number, agent_profile):
    with pytest.raises(IntegrityError), transaction.atomic():
        CallFactory(status=CallStatus.COMPLETED, answered_at=None, ended_at=timezone.now())


def test_a_later_poll_in_whole_seconds_does_not_override_the_webhooks_end_time(
    place, simulator, webhooks
):
    call = place("+14155550150")
    simulator.advance(60)
    process(deliver(webhooks))
    call.refresh_from_db()
    ended, duration = call.ended_at, call.duration_seconds

    stop_ts = int(ended.timestamp()) - 1  # a record's stop_ts: whole seconds
    call_apply_report(
        call_id=call.id,
        report=AgoraReport(state="HANGUP", reason="hangup", stop_ts=stop_ts),
        source=CallEvent.Source.POLL,
    )

    call.refresh_from_db()
    assert (call.ended_at, call.duration_seconds) == (ended, duration)
