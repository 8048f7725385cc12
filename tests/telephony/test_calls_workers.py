"""Real Celery workers on Redis and PostgreSQL, placing calls at the simulator server."""

import httpx
import pytest

from telephony.models import Call, CallEvent
from telephony.services.calls import call_create, call_hangup
from telephony.states import TERMINAL_STATUSES, CallStatus
from telephony.tasks import place_call
from tests.support.clock import daytime_zone
from tests.support.e2e import import_caller, simulator_args, worker_env
from tests.support.processes import celery_beat, celery_worker, simulator_server, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


def test_one_task_delivered_twice_to_two_workers_places_one_call(
    tmp_path, redis_db, caller_number, agent_profile, clock
):
    # A slow place-call answer (3 s) keeps the first worker inside its request while the
    # second worker gets its copy of the task: the second must meet the lease and send nothing.
    args = simulator_args("--latency", "3", "--fault-operations", "place_call")
    with simulator_server(tmp_path, *args) as base_url:
        import_caller(base_url, caller_number)
        env = worker_env(base_url, CALL_PLACEMENT_LEASE_SECONDS="6")
        with (
            celery_worker(tmp_path, hostname="w1@test", queues="calls", **env) as first,
            celery_worker(tmp_path, hostname="w2@test", queues="calls", **env) as second,
        ):
            call = call_create(
                to_number="+14155550004",
                caller_id=caller_number,
                agent_profile=agent_profile,
                variables={"first_name": "Ada"},
                callee_timezone=daytime_zone(clock.now()),
            )  # committed: its own placement task is already on the queue
            place_call.delay(str(call.id))  # and the same task delivered a second time

            def both_tasks_done() -> bool:
                logs = first.log() + second.log()
                return "another worker is placing this call" in logs and "already placed" in logs

            wait_for(both_tasks_done, timeout=60, message="both deliveries to finish")
            ledger = httpx.get(f"{base_url}/_simulator/ledger").json()
            calls = httpx.get(f"{base_url}/_simulator/calls").json()

    call.refresh_from_db()
    assert ledger["requests"]["by_operation"]["place_call"] == 1  # one request, not a 409
    assert [c["name"] for c in calls] == [call.agora_name]
    assert call.agent_id == calls[0]["agent_id"]
    assert call.status == CallStatus.DIALING or call.status == CallStatus.ANSWERED
    assert "w1@test" in first.log() and "w2@test" in second.log()


def test_calls_end_by_polling_alone_with_webhooks_off(
    tmp_path, redis_db, caller_number, agent_profile, clock
):
    # No --webhook-url: the simulator sends nothing; only polling can see the calls end.
    with simulator_server(tmp_path, *simulator_args("--ring-timeout", "10")) as base_url:
        import_caller(base_url, caller_number)
        env = worker_env(base_url, CALL_POLL_AFTER_SECONDS="1")
        with (
            celery_worker(tmp_path, hostname="poller@test", concurrency=2, **env),
            celery_beat(tmp_path, **env),
        ):
            calls = {
                callee: call_create(
                    to_number=callee,
                    caller_id=caller_number,
                    agent_profile=agent_profile,
                    variables={"first_name": "Ada"},
                    callee_timezone=daytime_zone(clock.now()),
                )
                for callee in ("+14155550050", "+14155550001", "+14155550003", "+14155550004")
            }
            long_call = calls["+14155550004"]
            wait_for(
                lambda: Call.objects.get(pk=long_call.pk).status == CallStatus.ANSWERED,
                timeout=60,
                message="the long call to be answered",
            )
            call_hangup(call_id=long_call.id)
            wait_for(
                lambda: all(
                    Call.objects.get(pk=c.pk).status in TERMINAL_STATUSES for c in calls.values()
                ),
                timeout=90,
                message="every call to end",
            )

    outcome = {callee: Call.objects.get(pk=call.pk).status for callee, call in calls.items()}
    assert outcome == {
        "+14155550050": CallStatus.COMPLETED,
        "+14155550001": CallStatus.NO_ANSWER,
        "+14155550003": CallStatus.FAILED,
        "+14155550004": CallStatus.COMPLETED,
    }
    assert not CallEvent.objects.filter(source=CallEvent.Source.WEBHOOK).exists()
    assert CallEvent.objects.filter(source=CallEvent.Source.POLL).exists()
