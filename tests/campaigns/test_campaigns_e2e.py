"""Campaigns end to end: real dispatchers, Celery workers and beat on PostgreSQL and Redis,
placing calls at the simulator server; the simulator's ledger proves the cap held."""

import sys
from contextlib import ExitStack

import httpx
import pytest

from campaigns.models import Campaign, CampaignContact, Contact, ContactList
from campaigns.services.campaigns import campaign_start
from tests.support.clock import daytime_zone
from tests.support.e2e import app_env, import_caller, simulator_args
from tests.support.factories import EVERY_DAY
from tests.support.processes import (
    ManagedProcess,
    celery_beat,
    celery_worker,
    process_env,
    simulator_server,
    wait_for,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

OPEN = {CampaignContact.Status.PENDING, CampaignContact.Status.RETRY_SCHEDULED,
        CampaignContact.Status.IN_PROGRESS}  # fmt: skip
FINAL = {CampaignContact.Status.COMPLETED, CampaignContact.Status.EXHAUSTED}
# (two talk-time digits, outcome digit) for the simulator's rules: talks 1 s, fails, busy,
# no answer.
OUTCOMES = [("01", "0"), ("00", "3"), ("00", "2"), ("00", "1")]


def contact_numbers(count: int) -> list[str]:
    numbers = []
    for index in range(count):
        talk, outcome = OUTCOMES[index % len(OUTCOMES)]
        numbers.append(f"+1415{200 + index // 10}{index % 10}{talk}{outcome}")
    return numbers


def make_campaign(caller, profile, count: int, *, now, **fields) -> Campaign:
    """Contacts whose local time is midday `now` (the real clock: workers share it), so the
    campaign's window and the calling-hours guard both stay on."""
    contact_list = ContactList.objects.create(name=f"e2e-{count}")
    Contact.objects.bulk_create(
        Contact(contact_list=contact_list, consent=True, phone=phone, first_name="Ada",
                timezone=daytime_zone(now))
        for phone in contact_numbers(count)
    )  # fmt: skip
    campaign = Campaign.objects.create(
        name=f"e2e {count}", agent_profile=profile, max_attempts=1, max_calls_per_minute=10_000,
        **EVERY_DAY, **fields,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


def open_contacts(campaign: Campaign) -> int:
    return campaign.contacts.filter(status__in=OPEN).count()


def start_dispatchers(stack: ExitStack, tmp_path, env: dict, count: int) -> list[ManagedProcess]:
    """`count` extra dispatcher processes ticking every 0.2 s, stopped with `stack`."""
    dispatchers = []
    for index in range(count):
        dispatcher = ManagedProcess(
            f"dispatcher-{index}",
            [sys.executable, "manage.py", "run_dispatcher", "--interval", "0.2"],
            env=process_env(**env),
            log_path=tmp_path / f"dispatcher-{index}.log",
        )
        stack.callback(dispatcher.stop)
        dispatcher.wait_for_log("dispatcher running")
        dispatchers.append(dispatcher)
    return dispatchers


def assert_each_call_once_under_the_cap(ledger: dict, *, placed: int, cap: int) -> None:
    """The simulator's record: every call placed once, never over the app's cap."""
    assert ledger["calls"]["placed"] == placed
    assert ledger["calls"]["peak_live"] <= cap
    assert ledger["calls"]["refused_over_cap"] == 0
    assert ledger["calls"]["duplicate_channels"] == {}


def test_three_dispatchers_and_two_workers_never_exceed_the_cap(
    tmp_path, redis_db, caller_number, agent_profile, clock
):
    cap = 6
    campaign = make_campaign(
        caller_number, agent_profile, 60, now=clock.now(), max_concurrent_calls=10
    )
    # Agora's cap is above the app's: a breach of the app's own cap would be accepted and seen.
    args = simulator_args("--max-concurrent-calls", str(cap + 4), "--ring-timeout", "2")
    with simulator_server(tmp_path, *args) as base_url:
        import_caller(base_url, caller_number)
        env = app_env(base_url, cap)
        with ExitStack() as stack:
            for name in ("w1", "w2"):
                stack.enter_context(
                    celery_worker(tmp_path, hostname=f"{name}@test", concurrency=3, **env)
                )
            stack.enter_context(celery_beat(tmp_path, **env))
            dispatchers = start_dispatchers(stack, tmp_path, env, 3)
            campaign_start(campaign=campaign)
            wait_for(lambda: open_contacts(campaign) == 0, timeout=180,
                     message="every contact to reach a final status")  # fmt: skip
            ledger = httpx.get(f"{base_url}/_simulator/ledger").json()

    assert_each_call_once_under_the_cap(ledger, placed=60, cap=cap)
    assert set(campaign.contacts.values_list("status", flat=True)) <= FINAL
    # The extra dispatchers did claim work (beside beat's own dispatcher task).
    assert any("dispatched" in dispatcher.log() for dispatcher in dispatchers)


def test_workers_bound_to_different_queues_and_two_dispatchers_keep_the_invariants(
    tmp_path, redis_db, caller_number, agent_profile, clock
):
    """The scale-out of the README's deployment section, on one machine: one worker for the
    dialer's queues (calls, dispatch), another for the rest (tracking, webhooks, default,
    analysis), beat once, two dispatcher processes. Every call is placed once, never over the
    cap, and each worker ran only its own queues' tasks."""
    cap = 5
    campaign = make_campaign(
        caller_number, agent_profile, 30, now=clock.now(), max_concurrent_calls=10
    )
    args = simulator_args("--max-concurrent-calls", str(cap + 4), "--ring-timeout", "2")
    with simulator_server(tmp_path, *args) as base_url:
        import_caller(base_url, caller_number)
        env = app_env(base_url, cap)
        with ExitStack() as stack:
            dialer = stack.enter_context(celery_worker(
                tmp_path, hostname="dialer@test", queues="calls,dispatch", concurrency=3, **env
            ))  # fmt: skip
            tracker = stack.enter_context(celery_worker(
                tmp_path, hostname="tracker@test", queues="tracking,webhooks,default,analysis",
                concurrency=2, **env,
            ))  # fmt: skip
            stack.enter_context(celery_beat(tmp_path, **env))
            start_dispatchers(stack, tmp_path, env, 2)
            campaign_start(campaign=campaign)
            wait_for(lambda: open_contacts(campaign) == 0, timeout=180,
                     message="every contact to reach a final status")  # fmt: skip
            ledger = httpx.get(f"{base_url}/_simulator/ledger").json()
            dialer_log, tracker_log = dialer.log(), tracker.log()

    assert_each_call_once_under_the_cap(ledger, placed=30, cap=cap)
    assert set(campaign.contacts.values_list("status", flat=True)) <= FINAL
    assert "Task telephony.place_calls[" in dialer_log
    assert "Task telephony.poll_calls[" in tracker_log
    assert "Task telephony.place_call" not in tracker_log  # never the dialer's work
    assert "Task telephony.poll_calls[" not in dialer_log


def test_a_thousand_contact_campaign_runs_to_completion(
    tmp_path, redis_db, caller_number, agent_profile, clock
):
    cap = 50
    campaign = make_campaign(
        caller_number, agent_profile, 1000, now=clock.now(), max_concurrent_calls=cap
    )
    args = simulator_args("--max-concurrent-calls", str(cap + 10), "--ring-timeout", "2")
    with simulator_server(tmp_path, *args) as base_url:
        import_caller(base_url, caller_number)
        env = app_env(base_url, cap)
        with (
            celery_worker(tmp_path, hostname="dialer@test", concurrency=4, **env),
            celery_beat(tmp_path, **env),
        ):
            campaign_start(campaign=campaign)
            wait_for(lambda: open_contacts(campaign) == 0, timeout=600,
                     message="every contact to reach a final status")  # fmt: skip
            ledger = httpx.get(f"{base_url}/_simulator/ledger").json()

    campaign.refresh_from_db()
    assert set(campaign.contacts.values_list("status", flat=True)) <= FINAL
    assert campaign.contacts.count() == 1000
    assert campaign.status == Campaign.Status.COMPLETED
    assert_each_call_once_under_the_cap(ledger, placed=1000, cap=cap)
    completed = campaign.contacts.filter(status=CampaignContact.Status.COMPLETED).count()
    assert completed == 250  # every fourth number answers
