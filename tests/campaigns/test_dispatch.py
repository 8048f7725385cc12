"""The dispatcher and the campaign lifecycle, in process, against the simulator."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, CampaignAttempt, CampaignContact, Contact, DoNotCall
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_pause,
    campaign_progress,
    campaign_record_call_outcome,
    campaign_resume,
    campaign_start,
    campaign_start_problems,
)
from campaigns.services.dispatch import dispatch, dispatch_campaign
from campaigns.states import WAITING_CONTACT_STATUSES
from telephony.models import Call, CallEvent, PhoneNumber
from telephony.services.calls import call_create, call_place, call_transition
from telephony.services.numbers import phone_number_delete
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status


def end_call(call: Call, status: str) -> None:
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if status == CallStatus.COMPLETED:  # only an answered call completes
            call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.POLL)
        assert call_transition(locked, status, source=CallEvent.Source.POLL, detail=status)
    campaign_record_call_outcome(call_id=call.pk)


def entries(campaign) -> dict[str, str]:
    return dict(campaign.contacts.values_list("contact__phone", "status"))


# -- starting ---------------------------------------------------------------------------------


def test_a_campaign_starts_enrols_its_contacts_and_calls_within_its_cap(make_campaign):
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 155)], max_concurrent_calls=2)
    campaign_start(campaign=campaign)
    assert campaign.contacts.count() == 5

    assert dispatch() == {campaign.pk: 2}
    assert dispatch() == {campaign.pk: 0}  # two calls queued: the campaign is full

    calls = Call.objects.filter(campaign_attempt__campaign=campaign)
    assert calls.count() == 2
    call = calls.first()
    assert call.labels == {"campaign_id": str(campaign.pk), "contact_id": call.labels["contact_id"]}
    assert call.variables["first_name"].startswith("Ada")
    assert CampaignAttempt.objects.filter(campaign=campaign).count() == 2
    assert list(campaign.contacts.values_list("status", flat=True)).count(CS.IN_PROGRESS) == 2


def test_a_dispatch_chunk_reads_what_the_rules_need_once(make_campaign, clock):
    """The claim's rule check and the building of its calls share one read of the do-not-call
    list and the caller IDs; the agent comes with the campaign; the calls' insert makes no
    savepoint of its own (the chunk's transaction is all or nothing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 155)])
    DoNotCall.objects.create(phone="+14155550152")
    campaign_start(campaign=campaign)

    with CaptureQueriesContext(connection) as queries:
        assert dispatch_campaign(campaign_id=campaign.pk, now=clock.now()) == 4

    statements = [query["sql"] for query in queries.captured_queries]
    assert sum('FROM "campaigns_donotcall"' in sql for sql in statements) == 1
    # the account's caller IDs (the destinations allowed), the campaign's
    assert sum('"telephony_phonenumber"."outbound"' in sql for sql in statements) == 2
    assert not any('FROM "telephony_agentprofile"' in sql for sql in statements)
    # the chunk's own transaction (a savepoint in a test's), none for the insert
    assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 1
    assert entries(campaign)["+14155550152"] == CS.DO_NOT_CALL


def test_the_account_cap_counts_every_campaign_and_single_calls(
    make_campaign, settings, imported_caller, agent_profile
):
    settings.AGORA_MAX_CONCURRENT_CALLS = 4
    single = call_create(
        to_number="+13125550150", caller_id=imported_caller, agent_profile=agent_profile,
        variables={"first_name": "Ada"},
    )  # fmt: skip
    first = make_campaign([f"+1415555{n:04d}" for n in range(150, 155)], name="A")
    second = make_campaign([f"+1212555{n:04d}" for n in range(150, 155)], name="B")
    campaign_start(campaign=first)
    campaign_start(campaign=second)

    created = dispatch()

    assert sum(created.values()) == 3  # the single call holds the fourth place
    occupying = Call.objects.filter(status__in=["queued", "dialing"])
    assert occupying.count() == 4 and single in occupying


def test_the_per_minute_budget_limits_new_calls(make_campaign):
    campaign = make_campaign(
        [f"+1415555{n:04d}" for n in range(150, 160)], max_calls_per_minute=3,
        max_concurrent_calls=10,
    )  # fmt: skip
    campaign_start(campaign=campaign)
    now = timezone.now()
    assert dispatch_campaign(campaign_id=campaign.pk, now=now) == 3
    assert dispatch_campaign(campaign_id=campaign.pk, now=now + timedelta(seconds=30)) == 0
    assert dispatch_campaign(campaign_id=campaign.pk, now=now + timedelta(seconds=61)) == 3


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.contact_lists.clear(), "no contacts"),
        (lambda c: c.caller_ids.clear(), "at least one caller ID"),
        (lambda c: PhoneNumber.objects.update(sync_state="error"), "not synced with Agora"),
        (lambda c: PhoneNumber.objects.update(outbound=False), "not enabled for outbound"),
        (lambda c: setattr(c, "weekdays", []), "at least one weekday"),
        (lambda c: setattr(c, "window_end", time(0, 0)), "must start before it ends"),
        (lambda c: setattr(c, "end_at", timezone.now() - timedelta(hours=1)), "already passed"),
        (lambda c: Contact.objects.update(first_name=""), "have no 'first_name'"),
    ],
)
def test_starting_checks_everything_and_says_what_is_wrong(make_campaign, change, problem):
    campaign = make_campaign()
    change(campaign)
    with pytest.raises(ValidationError) as error:
        campaign_start(campaign=campaign)
    assert any(problem in message for message in error.value.messages), error.value.messages
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_window_outside_the_guard_is_refused(make_campaign, settings):
    settings.CALLING_HOURS_GUARD_START = "08:00"
    settings.CALLING_HOURS_GUARD_END = "21:00"
    campaign = make_campaign(window_start=time(21, 30), window_end=time(23, 0))
    problems = campaign_start_problems(campaign)
    assert "lies outside the allowed calling hours 08:00-21:00" in problems[0]


def test_a_future_start_schedules_and_the_dispatcher_starts_it(make_campaign):
    campaign = make_campaign(start_at=timezone.now() + timedelta(hours=1))
    campaign = campaign_start(campaign=campaign)
    assert campaign.status == Campaign.Status.SCHEDULED
    assert dispatch() == {}
    dispatch(now=timezone.now() + timedelta(hours=1, seconds=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert Call.objects.count() == 1


def test_a_tick_calls_more_contacts_than_one_chunk_a_chunk_at_a_time(
    make_campaign, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.services import dispatch as dispatcher

    monkeypatch.setattr(dispatcher, "DISPATCH_CHUNK", 3)
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 158)], max_concurrent_calls=10)
    campaign_start(campaign=campaign)

    with django_capture_on_commit_callbacks() as placements:
        assert dispatch_campaign(campaign_id=campaign.pk, now=timezone.now()) == 8

    assert list(entries(campaign).values()) == [CS.IN_PROGRESS] * 8
    assert len(placements) == 3  # one transaction per chunk, each with its placement batch
    assert sorted(CampaignAttempt.objects.values_list("number", flat=True)) == [1] * 8


def test_a_chunks_queries_do_not_grow_with_its_contacts(make_campaign, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(contacts: int, area: str) -> int:
        phones = [f"+1{area}555{n:04d}" for n in range(150, 150 + contacts)]
        campaign = make_campaign(phones, max_concurrent_calls=50, name=area)
        campaign_start(campaign=campaign)
        with CaptureQueriesContext(connection) as captured:
            assert dispatch_campaign(campaign_id=campaign.pk, now=timezone.now()) == contacts
        return len(captured)

    settings.AGORA_MAX_CONCURRENT_CALLS = 100
    assert queries(20, "415") == queries(4, "212")


# -- do not call, windows, retries ------------------------------------------------------------


def test_do_not_call_numbers_are_never_dialed_even_on_retries(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_attempts=3,
                             retry_delay_failed=0)  # fmt: skip
    DoNotCall.objects.create(phone="+14155550150")
    campaign_start(campaign=campaign)

    dispatch()
    assert entries(campaign)["+14155550150"] == CS.DO_NOT_CALL
    first = Call.objects.get(to_number="+14155550250")
    end_call(first, CallStatus.FAILED)
    DoNotCall.objects.create(phone="+14155550250")  # asked not to be called, between attempts

    dispatch(now=timezone.now() + timedelta(seconds=1))

    assert entries(campaign)["+14155550250"] == CS.DO_NOT_CALL
    assert list(Call.objects.values_list("to_number", flat=True)) == ["+14155550250"]


def test_contacts_outside_their_local_window_are_deferred_to_the_opening(make_campaign, clock):
    campaign = make_campaign(
        ["+14155550150"], window_start=time(9, 0), window_end=time(17, 0), weekdays=[0, 1, 2, 3, 4]
    )
    # Wednesday 2026-11-25 15:00 UTC is 07:00 in San Francisco: two hours too early.
    clock.move_to(datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False)
    campaign_start(campaign=campaign)

    assert dispatch_campaign(campaign_id=campaign.pk, now=clock.now()) == 0

    entry = campaign.contacts.get()
    assert entry.status == CS.PENDING
    assert entry.next_attempt_at == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 09:00 local
    assert "outside its calling window" in entry.note
    assert dispatch_campaign(campaign_id=campaign.pk, now=entry.next_attempt_at) == 1


def test_a_contacts_own_time_zone_wins(make_campaign, clock):
    campaign = make_campaign(["+14155550150"], window_start=time(9, 0), window_end=time(17, 0))
    Contact.objects.update(timezone="Asia/Tokyo")
    # 01:00 UTC is 10:00 in Tokyo (and 17:00 the day before in San Francisco).
    clock.move_to(datetime(2026, 11, 25, 1, tzinfo=UTC), tick=False)
    campaign_start(campaign=campaign)

    assert dispatch_campaign(campaign_id=campaign.pk, now=clock.now()) == 1


def test_numbers_whose_zones_never_share_the_window_are_marked_invalid(make_campaign, clock):
    campaign = make_campaign(["+18005550150"], window_start=time(9, 0), window_end=time(17, 0))
    clock.move_to(datetime(2026, 11, 25, 1, tzinfo=UTC), tick=False)
    campaign_start(campaign=campaign)
    dispatch_campaign(campaign_id=campaign.pk, now=clock.now())
    entry = campaign.contacts.get()
    assert entry.status == CS.INVALID
    assert "never open at once in all" in entry.note
    assert "set the callee's time zone" in entry.note


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    zone=st.sampled_from(["America/New_York", "Europe/London", "Australia/Sydney",
                          "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham"]),
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                    timezones=st.just(UTC)),
    start_hour=st.integers(0, 22),
    days=st.frozensets(st.integers(0, 6), min_size=1),
)  # fmt: skip
def test_the_dispatcher_calls_only_inside_the_window(make_campaign, zone, at, start_hour, days):
    """The campaign's window, narrowed to the 08:00-21:00 guard, in the contact's local time."""
    window_start = time(start_hour, 0)
    window_end = time(start_hour + 1, 30) if start_hour < 22 else time(23, 59)
    opens, closes = max(window_start, time(8, 0)), min(window_end, time(21, 0))
    assume(opens < closes)  # a window wholly outside the guard cannot start (tested apart)
    with transaction.atomic():
        campaign = make_campaign(
            ["+14155550150"], window_start=window_start, window_end=window_end,
            weekdays=sorted(days),
        )  # fmt: skip
        Contact.objects.filter(contact_list__campaigns=campaign).update(timezone=zone)
        campaign_start(campaign=campaign, now=at)

        created = dispatch_campaign(campaign_id=campaign.pk, now=at)

        local = at.astimezone(ZoneInfo(zone))
        inside = local.weekday() in days and opens <= local.time() < closes
        assert created == (1 if inside else 0)
        if not inside:
            entry = campaign.contacts.get()
            opening = entry.next_attempt_at.astimezone(ZoneInfo(zone))
            assert entry.next_attempt_at > at
            assert opening.weekday() in days
            assert opens <= opening.time() < closes
        transaction.set_rollback(True)


def test_retries_wait_for_their_delay_per_outcome(make_campaign, clock):
    campaign = make_campaign(
        ["+14155550150"], max_attempts=3, retry_delay_no_answer=600, retry_delay_busy=60
    )
    clock.move_to(clock.now(), tick=False)  # the outcome is recorded at `now` exactly
    campaign_start(campaign=campaign)
    now = clock.now()
    dispatch(now=now)
    end_call(Call.objects.get(), CallStatus.NO_ANSWER)
    entry = campaign.contacts.get()
    assert entry.status == CS.RETRY_SCHEDULED
    assert entry.next_attempt_at == now + timedelta(seconds=600)

    assert dispatch(now=now + timedelta(seconds=599)) == {campaign.pk: 0}
    clock.advance(600)
    assert dispatch() == {campaign.pk: 1}
    second = Call.objects.filter(campaign_attempt__number=2).get()
    end_call(second, CallStatus.BUSY)
    entry.refresh_from_db()
    assert entry.attempts == 2
    assert entry.next_attempt_at == now + timedelta(seconds=600 + 60)


def test_attempts_run_out_and_success_completes(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_attempts=2,
                             retry_delay_failed=0)  # fmt: skip
    campaign_start(campaign=campaign)
    for _ in range(2):
        dispatch(now=timezone.now() + timedelta(seconds=1))
        for call in Call.objects.filter(status=CallStatus.QUEUED):
            outcome = CallStatus.COMPLETED if call.to_number.endswith("250") else CallStatus.FAILED
            end_call(call, outcome)

    assert entries(campaign) == {"+14155550150": CS.EXHAUSTED, "+14155550250": CS.COMPLETED}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED  # finished by itself
    progress = campaign_progress(campaign)
    assert (progress["contacts"], progress["done"], progress["remaining"]) == (2, 2, 0)
    assert progress["calls_by_status"] == {"failed": 2, "completed": 1}


def test_a_large_campaigns_progress_is_counted_at_most_every_few_seconds(
    make_campaign, settings, redis_db
):
    # given: campaigns over and under the size whose counts are reused
    settings.PROGRESS_CACHE_ABOVE, settings.PROGRESS_CACHE_SECONDS = 2, 60
    large = make_campaign(["+14155550150", "+14155550250", "+14155550350"])
    small = make_campaign(["+14155550450"])
    for campaign in (large, small):
        campaign_start(campaign=campaign)
    assert campaign_progress(large)["remaining"] == 3

    # when: a contact of each is done
    for campaign in (large, small):
        campaign.contacts.filter(pk=campaign.contacts.first().pk).update(status=CS.COMPLETED)

    # then: the large one shows its counts of a moment ago, unless asked afresh
    assert campaign_progress(large)["remaining"] == 3
    assert campaign_progress(large, fresh=True)["remaining"] == 2
    assert campaign_progress(small)["remaining"] == 0


def test_the_claim_index_holds_exactly_the_waiting_contacts():
    # The dispatcher's claim reads a partial index: its condition must name these statuses.
    index = next(i for i in CampaignContact._meta.indexes if i.name == "campaign_contact_due")
    assert set(dict(index.condition.children)["status__in"]) == set(WAITING_CONTACT_STATUSES)


def test_pause_stops_new_calls_at_once_and_live_calls_finish(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_concurrent_calls=1,
                             retry_delay_failed=0, max_attempts=2)  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    campaign_pause(campaign=campaign)
    live = Call.objects.get()
    end_call(live, CallStatus.FAILED)  # the live call ends normally while paused

    assert dispatch(now=timezone.now() + timedelta(seconds=5)) == {}
    assert Call.objects.count() == 1
    assert campaign.contacts.filter(status=CS.RETRY_SCHEDULED).count() == 1

    campaign_resume(campaign=campaign)
    assert dispatch(now=timezone.now() + timedelta(seconds=5)) == {campaign.pk: 1}


def test_the_end_time_stops_the_campaign(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_concurrent_calls=1,
                             end_at=timezone.now() + timedelta(minutes=5))  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    end_call(Call.objects.get(), CallStatus.FAILED)

    dispatch(now=timezone.now() + timedelta(minutes=6))

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert Call.objects.count() == 1
    # The failed one was waiting for its retry, the other for its first call: both cancelled.
    assert set(entries(campaign).values()) == {CS.CANCELLED}


def test_cancel_with_hang_up_ends_everything(make_campaign, django_capture_on_commit_callbacks):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_concurrent_calls=1)
    campaign_start(campaign=campaign)
    dispatch()
    live = Call.objects.get()

    with django_capture_on_commit_callbacks() as queued:
        campaign_cancel(campaign=campaign, hang_up=True)
    assert len(queued) == 1  # the hang-up task

    from campaigns.services.campaigns import campaign_hang_up_live_calls

    assert campaign_hang_up_live_calls(campaign_id=campaign.pk) == 1
    live.refresh_from_db()
    assert live.status == CallStatus.CANCELED  # never placed: canceled without dialing
    campaign_record_call_outcome(call_id=live.pk)
    assert set(entries(campaign).values()) == {CS.CANCELLED}
    with pytest.raises(ValidationError):
        campaign_resume(campaign=campaign)


def test_a_lost_outcome_signal_is_swept_by_the_dispatcher(make_campaign):
    campaign = make_campaign(["+14155550150"], max_attempts=1)
    campaign_start(campaign=campaign)
    dispatch()
    with transaction.atomic():
        call = Call.objects.select_for_update().get()
        call_transition(call, CallStatus.ANSWERED, source="poll")
        call_transition(call, CallStatus.COMPLETED, source="poll")  # the signal never arrives

    dispatch()

    assert entries(campaign) == {"+14155550150": CS.COMPLETED}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


# -- caller IDs and numbers -------------------------------------------------------------------


def make_number(e164: str) -> PhoneNumber:
    return PhoneNumber.objects.create(e164=e164, label=e164, outbound_address="sip.example",
                                      sync_state="synced")  # fmt: skip


def test_round_robin_rotates_caller_ids(make_campaign, imported_caller):
    other = make_number("+12125550199")
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 154)],
                             callers=[imported_caller, other], max_concurrent_calls=4,
                             caller_id_strategy="round_robin")  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    used = list(Call.objects.order_by("created_at").values_list("from_number", flat=True))
    assert sorted(used) == sorted([imported_caller.e164, other.e164] * 2)


def test_local_presence_picks_the_callees_area_code(make_campaign, imported_caller):
    new_york = make_number("+12125550199")
    london = make_number("+442071838750")
    campaign = make_campaign(["+12125550150", "+14155550150", "+442079460150"],
                             callers=[imported_caller, new_york, london], max_concurrent_calls=5,
                             caller_id_strategy="local_presence")  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    pairs = dict(Call.objects.values_list("to_number", "from_number"))
    assert pairs == {
        "+12125550150": new_york.e164,
        "+14155550150": imported_caller.e164,
        "+442079460150": london.e164,
    }


def test_a_number_an_active_campaign_uses_cannot_be_deleted(make_campaign, imported_caller):
    campaign = make_campaign()
    campaign_start(campaign=campaign)
    with pytest.raises(ValidationError) as error:
        phone_number_delete(number=imported_caller)
    assert f"caller ID of active campaign(s): {campaign.name}" in str(error.value)


def test_dispatched_calls_are_placed_at_the_simulator(make_campaign, simulator):
    campaign = make_campaign(["+14155550150"])
    campaign_start(campaign=campaign)
    dispatch()
    call = Call.objects.get()
    assert call_place(call_id=call.id) == "placed"
    assert simulator.ledger.calls[0].labels["campaign_id"] == str(campaign.pk)


def _queued_tasks(redis_db, queue: str) -> list[tuple[str, str]]:
    """(task name, its arguments) of each message waiting on a Celery queue in Redis."""
    import json

    messages = [json.loads(raw) for raw in redis_db.lrange(queue, 0, -1)]
    return [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]


def _started_and_first_call_ended(make_campaign, phones, status, **fields):
    """A running campaign whose first call has just ended, its outcome not yet recorded."""
    campaign = make_campaign(phones, **fields)
    campaign_start(campaign=campaign)
    dispatch()
    live = Call.objects.get()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=live.pk)
        call_transition(locked, status, source=CallEvent.Source.POLL)
    return campaign, live


def test_a_call_ending_dispatches_its_campaign_at_once(
    make_campaign, redis_db, django_capture_on_commit_callbacks
):
    _, live = _started_and_first_call_ended(
        make_campaign, ["+14155550150", "+14155550250"], CallStatus.FAILED,
        max_concurrent_calls=1,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        campaign_record_call_outcome(call_id=live.pk)

    # The refill is the campaign's dispatch, run there and then, and its call placed there
    # too (no task's trip through the broker): the next contact takes the freed place.
    assert _queued_tasks(redis_db, "dispatch") == []
    assert _queued_tasks(redis_db, "calls") == []
    refill = Call.objects.exclude(pk=live.pk).get()
    assert refill.status == CallStatus.DIALING and refill.agent_id


def test_the_end_of_a_call_moves_its_contact_on_where_it_ended_or_else_in_a_task(
    make_campaign, redis_db, django_capture_on_commit_callbacks, monkeypatch
):
    from campaigns import receivers

    # given: two campaigns whose first call just ended (the call_ended signal's receiver)
    _, first = _started_and_first_call_ended(
        make_campaign, ["+14155550150", "+14155550250"], CallStatus.FAILED,
        max_concurrent_calls=1, max_attempts=1,
    )  # fmt: skip

    # when: the receiver runs in the worker that saw the end
    with django_capture_on_commit_callbacks(execute=True):
        receivers.on_call_ended(sender=Call, call_id=str(first.pk), status=first.status)

    # then: the contact moved on and its place was refilled there and then, with no task
    assert CampaignContact.objects.get(last_call=first).status == CS.EXHAUSTED
    assert Call.objects.filter(status=CallStatus.DIALING, agent_id__isnull=False).count() == 1
    assert _queued_tasks(redis_db, "dispatch") == []
    assert _queued_tasks(redis_db, "calls") == []

    # when: recording fails (the database went away a moment): a task tries again
    def fail(**kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr("campaigns.services.campaigns.campaign_record_call_outcome", fail)
    receivers.on_call_ended(sender=Call, call_id=str(first.pk), status=first.status)
    assert _queued_tasks(redis_db, "dispatch") == [
        ("campaigns.record_call_outcome", f"('{first.pk}',)")
    ]


def test_in_a_webhook_batch_places_are_refilled_before_the_contacts_outcomes_are_recorded(
    make_campaign, redis_db, django_capture_on_commit_callbacks, monkeypatch
):
    """A drain's hang-ups: the refill of their places goes first, once, and their contacts'
    outcomes after it; a failed call's outcome still goes first (it may pause the campaign)."""
    from campaigns.services import campaigns as campaigns_module
    from campaigns.services import dispatch as dispatch_module
    from contactcenter.batches import within_batch
    from telephony.signals import call_status_changed
    from telephony.states import TERMINAL_STATUSES

    campaign = make_campaign([f"+1415555{n:02d}50" for n in range(10, 16)],
                             max_concurrent_calls=3, max_attempts=1)  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    first = list(Call.objects.order_by("created_at", "id"))
    assert len(first) == 3
    done = []
    real_dispatch = dispatch_module.dispatch_campaign
    real_outcome = campaigns_module.campaign_record_call_outcome

    def dispatched(**kwargs):
        done.append("refill")
        return real_dispatch(**kwargs)

    def recorded(*, call_id, **kwargs):
        status = real_outcome(call_id=call_id, **kwargs)
        done.append(f"{Call.objects.get(pk=call_id).to_number} {status}")
        return status

    def told(sender, *, call_ids, status, **kwargs):  # what CRM webhooks hear of the ends
        ended = {str(call.pk): call.to_number for call in first}
        if status in TERMINAL_STATUSES:
            done.extend(f"{ended[id_]} told {status}" for id_ in call_ids if id_ in ended)

    monkeypatch.setattr(dispatch_module, "dispatch_campaign", dispatched)
    monkeypatch.setattr(campaigns_module, "campaign_record_call_outcome", recorded)
    call_status_changed.connect(told)

    with within_batch():
        for call, ending in zip(first, (CallStatus.COMPLETED, CallStatus.FAILED,
                                        CallStatus.NO_ANSWER), strict=True):  # fmt: skip
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                locked = Call.objects.select_for_update().get(pk=call.pk)
                if ending == CallStatus.COMPLETED:
                    call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.WEBHOOK)
                call_transition(locked, ending, source=CallEvent.Source.WEBHOOK)
        # the failed call's outcome, at once (what CRM webhooks hear of an end waits)
        assert done == [f"{first[1].to_number} {CS.EXHAUSTED}"]
    call_status_changed.disconnect(told)

    assert done == [
        f"{first[1].to_number} {CS.EXHAUSTED}",
        "refill",
        f"{first[0].to_number} told {CallStatus.COMPLETED}",
        f"{first[0].to_number} {CS.COMPLETED}",
        f"{first[1].to_number} told {CallStatus.FAILED}",
        f"{first[2].to_number} told {CallStatus.NO_ANSWER}",
        f"{first[2].to_number} {CS.EXHAUSTED}",
    ]
    assert Call.objects.exclude(pk__in=[c.pk for c in first]).count() == 3  # one dispatch
    assert entries(campaign) == {
        first[0].to_number: CS.COMPLETED,
        first[1].to_number: CS.EXHAUSTED,
        first[2].to_number: CS.EXHAUSTED,
        **{c.to_number: CS.IN_PROGRESS for c in Call.objects.exclude(pk__in=[c.pk for c in first])},
    }


def test_the_dispatchers_own_sweep_of_ended_calls_queues_no_refill(
    make_campaign, redis_db, django_capture_on_commit_callbacks
):
    _started_and_first_call_ended(
        make_campaign, ["+14155550150", "+14155550250"], CallStatus.FAILED,
        max_concurrent_calls=1,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        dispatch()  # sweeps the ended call's contact, then claims the next one itself

    assert _queued_tasks(redis_db, "dispatch") == []
    assert Call.objects.filter(status=CallStatus.QUEUED).count() == 1


def test_the_outcome_task_records_the_outcome_given_the_id_as_a_string(make_campaign, redis_db):
    # Celery passes the call id as text: the task once compared it with a UUID, never matched,
    # and left every contact to the dispatcher's sweep a tick later.
    from campaigns.tasks import record_call_outcome

    campaign, live = _started_and_first_call_ended(
        make_campaign, ["+14155550150"], CallStatus.BUSY, max_attempts=1
    )

    assert record_call_outcome.run(str(live.pk)) == CS.EXHAUSTED
    assert entries(campaign) == {"+14155550150": CS.EXHAUSTED}


def test_hang_ups_in_one_webhook_batch_refill_their_places_with_one_dispatch(
    make_campaign, redis_db, django_capture_on_commit_callbacks, monkeypatch
):
    """A drain applies a batch of notifications; the places its hang-ups free are refilled once,
    after the batch: one claim and one batch placement, not one per hang-up."""
    from campaigns.services import dispatch as dispatch_module
    from contactcenter.batches import within_batch

    campaign = make_campaign([f"+1415555{n:02d}50" for n in range(10, 16)],
                             max_concurrent_calls=3, max_attempts=1)  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()
    first = list(Call.objects.all())
    assert len(first) == 3
    with transaction.atomic():
        for call in Call.objects.select_for_update().filter(pk__in=[c.pk for c in first]):
            call_transition(call, CallStatus.FAILED, source=CallEvent.Source.WEBHOOK)
    dispatches = []
    real_dispatch = dispatch_module.dispatch_campaign

    def counted(**kwargs):
        dispatches.append(kwargs["campaign_id"])
        return real_dispatch(**kwargs)

    monkeypatch.setattr(dispatch_module, "dispatch_campaign", counted)

    with within_batch():
        with django_capture_on_commit_callbacks(execute=True):  # as each commit in a drain
            for call in first:
                campaign_record_call_outcome(call_id=call.pk)
        assert dispatches == []  # not while the batch is being applied

    assert dispatches == [campaign.pk]
    refills = Call.objects.exclude(pk__in=[c.pk for c in first])
    assert refills.count() == 3
    # placed by this process after the dispatch's commit, together (no task per call)
    assert _queued_tasks(redis_db, "calls") == []
