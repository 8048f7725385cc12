"""Tracking calls to their end: polling, merging reports, hang-up, limits, transcripts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from telephony.models import Call, CallEvent
from telephony.services.calls import (
    AgoraReport,
    call_apply_report,
    call_create,
    call_fetch_agent_data,
    call_finalize_end,
    call_hangup,
    call_hangup_remote,
    call_place,
    calls_enforce_limits,
    calls_poll,
    calls_recover_stuck,
    snapshot_keep,
)
from telephony.services.voicemail import call_check_voicemail
from telephony.signals import call_ended
from telephony.states import CallStatus
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db


def poll_later(simulator, seconds: float) -> None:
    """Let `seconds` pass at Agora, then poll as beat would (every due call)."""
    simulator.advance(seconds)
    calls_poll(now=timezone.now() + timedelta(seconds=seconds + 3600))


def status_of(call: Call) -> str:
    call.refresh_from_db()
    return call.status


def test_an_answered_call_completes_by_polling_alone(place, simulator):
    call = place("+14155550150")  # answers after 4.5 s, talks 15 s

    poll_later(simulator, 6)
    assert status_of(call) == CallStatus.ANSWERED
    assert call.transcript[0]["content"].startswith("Hi Ada")  # snapshot while running

    poll_later(simulator, 20)
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.end_reason == "completed: the other party hung up"
    assert call.agora_reason == "hangup"
    assert call.answered_at and call.ended_at and call.duration_seconds is not None
    sources = set(call.events.values_list("source", flat=True))
    assert {"api", "poll"} <= sources


def test_a_short_call_answered_and_ended_between_two_polls_is_completed(place, simulator):
    call = place("+14155550010")  # answered at 4.5 s, the callee hangs up 1 s later
    poll_later(simulator, 10)  # the first poll sees only the end, with reason "hangup"
    assert status_of(call) == CallStatus.COMPLETED
    assert call.end_reason == "completed: the other party hung up"
    # it talked, so it was answered; the answer was never seen, so no talk time is made up
    assert call.answered_at == call.ended_at
    assert call.duration_seconds == 0


@pytest.mark.parametrize(
    ("callee", "seconds", "status"),
    [
        ("+14155550001", 30, CallStatus.NO_ANSWER),  # rang 20 s: long enough to be no answer
        ("+14155550003", 5, CallStatus.FAILED),
        ("+14155550002", 5, CallStatus.FAILED),  # busy looks like failed to polling alone
    ],
)
def test_unanswered_endings_by_polling(place, simulator, callee, seconds, status):
    call = place(callee)
    poll_later(simulator, seconds)
    assert status_of(call) == status
    assert call.agora_reason == "failed"


def webhook_reports(webhooks, agent_id):
    """The simulator's signed 202 notifications for one call, as the receiver will see them."""
    for envelope in webhooks.envelopes():
        payload = envelope["payload"]
        if envelope["eventType"] == 202 and payload["agent_id"] == agent_id:
            yield AgoraReport(state=payload["state"], report_ms=payload["report_ms"], raw=payload)


@pytest.mark.parametrize(
    ("callee", "status"),
    [
        ("+14155550150", CallStatus.COMPLETED),
        ("+14155550001", CallStatus.NO_ANSWER),
        ("+14155550002", CallStatus.BUSY),
        ("+14155550003", CallStatus.FAILED),
    ],
)
def test_webhook_states_distinguish_every_ending(place, simulator, webhooks, callee, status):
    call = place(callee)
    simulator.advance(60)

    for report in webhook_reports(webhooks, call.agent_id):
        call_apply_report(call_id=call.id, report=report, source=CallEvent.Source.WEBHOOK)
    call_finalize_end(call_id=call.id)  # the settle window for unanswered endings has passed

    assert status_of(call) == status


def test_reports_out_of_order_never_move_backwards(place, simulator, webhooks):
    call = place("+14155550150")
    simulator.advance(60)
    reports = {r.state: r for r in webhook_reports(webhooks, call.agent_id)}

    for state in ("ANSWERED", "HANGUP", "RINGING", "CALLING", "ANSWERED"):
        call_apply_report(call_id=call.id, report=reports[state], source=CallEvent.Source.WEBHOOK)

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    statuses = list(call.events.filter(kind="status").values_list("to_status", flat=True))
    assert statuses == ["queued", "dialing", "answered", "completed"]
    assert call.events.filter(kind="signal", source="webhook").count() == 5


def test_a_report_and_the_step_it_makes_are_stored_in_one_insert(place, simulator, webhooks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call = place("+14155550150")
    simulator.advance(60)
    reports = {r.state: r for r in webhook_reports(webhooks, call.agent_id)}

    with CaptureQueriesContext(connection) as captured:
        call_apply_report(call_id=call.id, report=reports["ANSWERED"], source="webhook")
    inserts = [
        q["sql"] for q in captured if q["sql"].startswith('INSERT INTO "telephony_callevent"')
    ]
    assert len(inserts) == 1  # the signal and the status change together

    call_apply_report(call_id=call.id, report=reports["ANSWERED"], source="webhook")  # no step
    events = list(call.events.filter(source="webhook").values_list("kind", "to_status"))
    assert events == [("signal", ""), ("status", CallStatus.ANSWERED), ("signal", "")]


def test_hangup_delivered_before_ringing_still_ends_as_no_answer(
    place, simulator, webhooks, django_capture_on_commit_callbacks
):
    call = place("+14155550001")
    simulator.advance(60)
    reports = {r.state: r for r in webhook_reports(webhooks, call.agent_id)}

    with django_capture_on_commit_callbacks() as finalize:
        call_apply_report(call_id=call.id, report=reports["HANGUP"], source="webhook")
    assert status_of(call) == CallStatus.DIALING  # settling: an earlier state may follow
    assert len(finalize) == 1  # the end is decided after CALL_END_SETTLE_SECONDS
    call_apply_report(call_id=call.id, report=reports["RINGING"], source="webhook")
    call_finalize_end(call_id=call.id)

    assert status_of(call) == CallStatus.NO_ANSWER
    assert call.ended_at is not None


def test_an_answered_call_ends_at_once_and_a_late_straggler_changes_nothing(
    place, simulator, webhooks
):
    call = place("+14155550150")
    simulator.advance(60)
    reports = {r.state: r for r in webhook_reports(webhooks, call.agent_id)}
    for state in ("ANSWERED", "HANGUP"):
        call_apply_report(call_id=call.id, report=reports[state], source="webhook")
    assert status_of(call) == CallStatus.COMPLETED
    call_apply_report(call_id=call.id, report=reports["RINGING"], source="webhook")
    call_finalize_end(call_id=call.id)
    assert status_of(call) == CallStatus.COMPLETED


def test_a_pending_end_whose_finalize_task_was_lost_is_finished_by_the_sweeper(
    place, simulator, webhooks
):
    call = place("+14155550003")
    simulator.advance(10)
    reports = {r.state: r for r in webhook_reports(webhooks, call.agent_id)}
    call_apply_report(call_id=call.id, report=reports["HANGUP"], source="webhook")
    assert status_of(call) == CallStatus.DIALING

    calls_recover_stuck(now=timezone.now() + timedelta(minutes=2))

    assert status_of(call) == CallStatus.FAILED


def test_hangup_of_a_live_call(place, simulator, django_capture_on_commit_callbacks):
    call = place("+14155550004")  # never hangs up by itself
    poll_later(simulator, 10)

    with django_capture_on_commit_callbacks() as callbacks:
        assert call_hangup(call_id=call.id) == "hanging up"
    assert len(callbacks) == 1  # the hang-up task, enqueued on commit
    assert call_hangup_remote(call_id=call.id) == "hung up"

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.end_reason == "completed: we hung up"
    assert simulator.ledger_calls()[0]["reason"] == "request"
    assert call_hangup(call_id=call.id) == "already ended"
    assert call_hangup_remote(call_id=call.id) == "already ended"


@pytest.mark.parametrize(("retry_after", "countdown"), [(45, 45), (None, 2)])
def test_the_hangup_task_retries_after_agoras_retry_after(
    place, simulator, monkeypatch, retry_after, countdown
):
    from telephony.tasks import hangup_call

    call = place("+14155550004")
    poll_later(simulator, 10)
    if retry_after:  # longer than the client waits inline: it is the task's to wait
        simulator.inject_fault("rate_limit", operation="hangup_call", retry_after=retry_after)
    else:
        simulator.inject_fault("error", operation="hangup_call", status=503, times=4)
    retried = []

    class Retried(Exception):
        pass

    def fake_retry(*, countdown):
        retried.append(countdown)
        return Retried()

    monkeypatch.setattr(hangup_call, "retry", fake_retry)
    with pytest.raises(Retried):
        hangup_call(str(call.id))

    assert retried == [countdown]
    assert hangup_call(str(call.id)) == "hung up"


def test_hanging_up_a_ringing_call_cancels_it(place, simulator):
    call = place("+14155550150")
    simulator.advance(2)
    call_hangup(call_id=call.id)
    call_hangup_remote(call_id=call.id)
    assert status_of(call) == CallStatus.CANCELED


def test_hanging_up_before_placement_cancels_without_dialing(
    imported_caller, agent_profile, simulator
):
    call = call_create(
        to_number="+14155550150",
        caller_id=imported_caller,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
    )
    assert call_hangup(call_id=call.id) == "canceled"
    assert call_place(call_id=call.id) == "already ended"
    assert simulator.ledger.calls == []


def test_hangup_requested_while_placing_is_sent_once_placed(
    imported_caller, agent_profile, simulator, django_capture_on_commit_callbacks
):
    call = call_create(
        to_number="+14155550004",
        caller_id=imported_caller,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
    )
    Call.objects.filter(pk=call.pk).update(status=CallStatus.DIALING)  # a worker is placing it
    assert call_hangup(call_id=call.id) == "will hang up as soon as it is placed"
    Call.objects.filter(pk=call.pk).update(hangup_requested_at=None)
    call_hangup(call_id=call.id)
    with django_capture_on_commit_callbacks() as callbacks:
        call_place(call_id=call.id)
    assert len(callbacks) == 1  # hang-up enqueued right after the placement was recorded


def test_max_call_duration_is_enforced_by_hanging_up(place, simulator, settings):
    settings.CALL_MAX_DURATION_SECONDS = 60
    call = place("+14155550004")
    poll_later(simulator, 10)
    assert status_of(call) == CallStatus.ANSWERED

    assert calls_enforce_limits(now=timezone.now() + timedelta(seconds=30)) == 0
    assert calls_enforce_limits(now=timezone.now() + timedelta(seconds=61)) == 1
    call_hangup_remote(call_id=call.id)

    assert status_of(call) == CallStatus.COMPLETED
    assert call.end_reason == "completed: we hung up"


def test_max_ring_time_is_enforced(place, simulator, settings):
    settings.CALL_MAX_RING_SECONDS = 10
    call = place("+14155550001")  # would ring for 20 s
    simulator.advance(5)
    assert calls_enforce_limits(now=timezone.now() + timedelta(seconds=11)) == 1
    call_hangup_remote(call_id=call.id)
    assert status_of(call) == CallStatus.CANCELED


def test_polls_back_off_while_nothing_changes(place, simulator, settings):
    settings.CALL_POLL_AFTER_SECONDS = 10
    call = place("+14155550004")
    poll_later(simulator, 10)  # answered: a change
    now = timezone.now() + timedelta(hours=2)
    gaps = []
    for _ in range(4):
        calls_poll(now=now)
        call.refresh_from_db()
        gaps.append((call.next_poll_at - now).total_seconds())
        now = call.next_poll_at
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert gaps[-1] <= settings.CALL_POLL_MAX_INTERVAL_SECONDS


def test_a_poll_due_just_after_a_tick_is_taken_at_that_tick(place, simulator, settings):
    """Due times are set one tick ahead and land a few ms after the next tick: those calls are
    polled at it, not a whole tick later; calls due later than half a tick wait."""
    settings.CALL_POLL_INTERVAL = 2.0
    soon, later = place("+14155550004"), place("+14155551004")
    tick = timezone.now() + timedelta(hours=1)
    Call.objects.filter(pk=soon.pk).update(next_poll_at=tick + timedelta(milliseconds=30))
    Call.objects.filter(pk=later.pk).update(next_poll_at=tick + timedelta(seconds=1.5))

    assert calls_poll(now=tick) == 1
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.next_poll_at > tick + timedelta(seconds=1)  # polled, next one scheduled
    assert later.next_poll_at == tick + timedelta(seconds=1.5)  # untouched


def test_many_due_calls_are_polled_with_the_list_endpoint(place, simulator, settings):
    settings.CALL_POLL_LIST_THRESHOLD = 3
    calls = [place(f"+141555{n:04d}4") for n in range(6)]
    simulator.advance(10)
    before_get = simulator.ledger.request_counts["get_call"]

    assert calls_poll(now=timezone.now() + timedelta(hours=1)) == 6

    assert simulator.ledger.request_counts["list_calls"] >= 1
    assert simulator.ledger.request_counts["get_call"] == before_get
    assert {status_of(call) for call in calls} == {CallStatus.ANSWERED}


def test_transcript_and_turn_metrics_are_kept_after_the_end(place, simulator):
    call = place("+14155550450")  # talks 45 s
    poll_later(simulator, 30)
    poll_later(simulator, 60)
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED

    call_fetch_agent_data(call_id=call.id)

    call.refresh_from_db()
    assert len(call.transcript) >= 3  # kept from polls: history is gone after the end
    assert {m["role"] for m in call.transcript} == {"assistant", "user"}
    assert call.turn_metrics["turns"] >= 2
    assert call.turn_metrics["avg_e2e_latency_ms"] > 0
    assert call.agent_data_fetched_at is not None
    assert call.transcript_final_at is None  # what the snapshots kept, not Agora's whole history


def test_the_end_is_signalled_once_after_commit(place, simulator, redis_db):
    seen = []

    def receiver(sender, call_id, status, **kwargs):
        seen.append((call_id, status))

    call_ended.connect(receiver)
    try:
        call = place("+14155550003")
        simulator.advance(5)
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            calls_poll(now=timezone.now() + timedelta(hours=1))
            calls_poll(now=timezone.now() + timedelta(hours=2))
    finally:
        call_ended.disconnect(receiver)
    assert seen == [(str(call.id), CallStatus.FAILED)]


def test_an_ended_calls_agent_data_is_fetched_a_moment_after_the_end(
    place, simulator, settings, django_capture_on_commit_callbacks
):
    from unittest import mock

    from telephony.tasks import fetch_call_agent_data

    settings.CALL_AGENT_DATA_DELAY_SECONDS = 2.5
    call = place("+14155550010")  # answered at 4.5 s, the callee hangs up 1 s later
    simulator.advance(10)
    with mock.patch.object(fetch_call_agent_data, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            calls_poll(now=timezone.now() + timedelta(hours=1))
        assert status_of(call) == CallStatus.COMPLETED
        assert not queued.called  # nothing before the commit
        for callback in callbacks:
            callback()
    # post-call work, out of the way of the refill of the place the call freed
    queued.assert_called_once_with((str(call.id),), countdown=2.5)


def test_stuck_placements_are_enqueued_again(
    imported_caller, agent_profile, simulator, django_capture_on_commit_callbacks
):
    call = call_create(
        to_number="+14155550150",
        caller_id=imported_caller,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
    )
    # A worker recorded its intent and died before Agora answered.
    Call.objects.filter(pk=call.pk).update(status=CallStatus.DIALING, placement_attempts=1)

    with django_capture_on_commit_callbacks() as callbacks:
        assert calls_recover_stuck(now=timezone.now() + timedelta(seconds=30)) == 0
        assert calls_recover_stuck(now=timezone.now() + timedelta(minutes=5)) == 1
    assert len(callbacks) == 1
    assert call_place(call_id=call.id) == "placed"
    assert len(simulator.ledger.calls) == 1


def test_short_calls_seen_ended_in_a_list_poll_are_asked_about_their_reason(
    place, simulator, settings
):
    settings.CALL_POLL_LIST_THRESHOLD = 3
    calls = [place(f"+1415{200 + n}0010") for n in range(5)]  # each talks 1 s
    poll_later(simulator, 10)  # one list request shows them all ended, without reasons

    assert {status_of(call) for call in calls} == {CallStatus.COMPLETED}
    assert simulator.ledger.request_counts["list_calls"] >= 1
    assert simulator.ledger.request_counts["get_call"] >= 5


# -- transcript snapshots without webhooks ------------------------------------------------------


def history_requests(simulator) -> int:
    return simulator.ledger.request_counts["get_agent_history"]


def test_snapshots_come_soon_while_the_conversation_grows_and_ever_later_while_it_does_not(
    db, settings
):
    # given: an answered call (no Agora needed: the policy alone)
    settings.CALL_SNAPSHOT_MIN_SECONDS, settings.CALL_SNAPSHOT_MAX_SECONDS = 30, 600
    answered = timezone.now()
    call = CallFactory(status=CallStatus.ANSWERED, answered_at=answered, agent_id="A1")
    turn = {"role": "user", "content": "hello"}

    def keep(turns: int, after: int) -> int:
        snapshot_keep(call, [turn] * turns, now=answered + timedelta(seconds=after))
        call.refresh_from_db()
        assert call.next_snapshot_at == answered + timedelta(
            seconds=after + call.snapshot_gap_seconds
        )
        return call.snapshot_gap_seconds

    # then: the minimum early on, the call's age later, doubling while nothing new is said
    assert keep(turns=2, after=10) == 30
    assert keep(turns=4, after=200) == 200
    assert len(call.transcript) == 4
    assert [keep(turns=4, after=300 + n) for n in range(4)] == [400, 600, 600, 600]
    assert keep(turns=5, after=400) == 400  # something new: back to following it
    assert len(call.transcript) == 5


def test_a_snapshot_never_replaces_a_longer_transcript_stored_meanwhile(db):
    # Agora's end-of-call history (a webhook) may land between our request and our write.
    answered = timezone.now()
    call = CallFactory(status=CallStatus.ANSWERED, answered_at=answered, agent_id="A2")
    whole = [{"role": "user", "content": str(index)} for index in range(6)]
    Call.objects.filter(pk=call.pk).update(transcript=whole)

    snapshot_keep(call, whole[:3], now=answered + timedelta(seconds=40))

    call.refresh_from_db()
    assert call.transcript == whole


def test_a_poll_asks_for_the_history_only_when_a_snapshot_is_due(place, simulator, settings):
    settings.VOICEMAIL_DETECTION = False
    call = place("+14152000004")  # a person who talks until hung up
    poll_later(simulator, 10)
    call.refresh_from_db()
    assert call.status == CallStatus.ANSWERED
    assert history_requests(simulator) == 1 and call.transcript

    # when: polled again before the snapshot is due, then after
    Call.objects.filter(pk=call.pk).update(next_snapshot_at=timezone.now() + timedelta(days=1))
    poll_later(simulator, 10)
    assert history_requests(simulator) == 1
    past = timezone.now() - timedelta(days=1)
    Call.objects.filter(pk=call.pk).update(next_snapshot_at=past, next_poll_at=past)
    poll_later(simulator, 10)
    assert history_requests(simulator) == 2


def test_the_voicemail_detectors_look_is_an_answered_calls_first_snapshot(
    place, simulator, settings
):
    """With detection on, the poll that learns of the answer leaves the first look to the
    detector (a look of its own would cost every answered call one request more)."""
    settings.VOICEMAIL_DETECTION_POLL_SECONDS = ["3", "7", "12"]
    settings.CALL_POLL_AFTER_SECONDS = 2
    call = place("+14152000004")  # a person who talks until hung up
    simulator.advance(10)
    calls_poll(now=timezone.now() + timedelta(seconds=6))
    call.refresh_from_db()
    assert call.status == CallStatus.ANSWERED
    assert history_requests(simulator) == 0
    # due after the detector's last look (12 s)
    assert call.next_snapshot_at >= timezone.now() + timedelta(seconds=12)

    # when: the detector looks (its task), then a poll comes once that look's gap has passed
    assert call_check_voicemail(call_id=call.pk) in ("undecided", "a person")
    call.refresh_from_db()
    assert history_requests(simulator) == 1 and call.transcript
    assert call.next_snapshot_at >= timezone.now() + timedelta(seconds=55)  # a snapshot's gap


def test_our_hang_up_takes_one_last_snapshot_so_the_transcript_is_complete(
    place, simulator, settings
):
    # given: an answered call whose last snapshot is far behind the conversation
    settings.VOICEMAIL_DETECTION = False
    call = place("+14152000004")
    poll_later(simulator, 10)
    Call.objects.filter(pk=call.pk).update(next_snapshot_at=timezone.now() + timedelta(days=1))
    simulator.advance(120)
    spoken = simulator.agent_history(call.agent_id)["contents"]
    call.refresh_from_db()
    assert len(call.transcript) < len(spoken)

    # when
    assert call_hangup_remote(call_id=call.pk) == "hung up"

    # then: every turn said before the hang-up is kept
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.transcript == [{"role": m["role"], "content": m["content"]} for m in spoken]


def test_a_conversation_longer_than_agoras_history_window_is_kept_whole_by_polling(
    place, simulator, agent_profile, settings
):
    """Agora's history holds only the newest llm.max_history messages: the snapshots come often
    enough at the conversation's pace, and each is merged into what is kept."""
    settings.CALL_POLL_AFTER_SECONDS, settings.CALL_SNAPSHOT_MIN_SECONDS = 2, 5
    properties = dict(agent_profile.properties or {})
    properties["llm"] = {**properties.get("llm", {}), "max_history": 4}
    agent_profile.properties = properties
    agent_profile.save()
    call = place("+14155550450")  # talks 45 s: nine messages, a new one every 5.6 s
    started = timezone.now()
    for elapsed in range(2, 80, 2):
        simulator.advance(2)
        calls_poll(now=started + timedelta(seconds=elapsed))
    call_fetch_agent_data(call_id=call.id)  # the history is gone after the end

    call.refresh_from_db()
    spoken = simulator.ledger.calls[-1].messages
    assert call.status == CallStatus.COMPLETED
    # more than the window, nothing lost between looks, nothing doubled (with webhooks off, what
    # the callee said after the last look ends with the agent: see the README)
    assert len(call.transcript) > 4
    assert call.transcript == spoken[: len(call.transcript)]
    assert history_requests(simulator) < len(spoken)  # not a look per message
