"""Callbacks (campaigns.services.callbacks): asked for in a call or set by staff, kept inside the
calling window, not using up attempts, at most `max_callbacks` per contact."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns.models import CampaignContact, DoNotCall
from campaigns.services.callbacks import callback_cancel, callback_schedule, parse_when
from campaigns.services.campaigns import campaign_record_call_outcome, campaign_start
from campaigns.services.dispatch import dispatch
from campaigns.services.dnc import dnc_add
from telephony.models import Call, CallEvent
from telephony.services.calls import call_transition
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status
LA = ZoneInfo("America/Los_Angeles")  # +1415... numbers; the pinned clock reads 10:00 there


def end(call: Call, status: str = CallStatus.COMPLETED) -> None:
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if status == CallStatus.COMPLETED:
            call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.POLL)
        call_transition(locked, status, source=CallEvent.Source.POLL, detail=status)
    campaign_record_call_outcome(call_id=call.pk)


def started(make_campaign, **fields):
    campaign = make_campaign(["+14155550150"], **fields)
    campaign_start(campaign=campaign)
    return campaign, campaign.contacts.get()


def on_a_call(campaign, entry) -> Call:
    assert dispatch() == {campaign.pk: 1}
    entry.refresh_from_db()
    assert entry.status == CS.IN_PROGRESS
    return entry.last_call


def test_words_are_read_in_the_callees_zone(clock):
    now = clock.now()  # Wednesday 10:00 in Los Angeles
    assert parse_when("tomorrow at 3 pm", zone=LA, now=now) == datetime(
        2026, 11, 26, 15, 0, tzinfo=LA
    )
    assert parse_when("2026-11-27T09:30", zone=LA, now=now) == datetime(
        2026, 11, 27, 9, 30, tzinfo=LA
    )
    assert parse_when("2026-11-27T09:30:00+00:00", zone=LA, now=now) == datetime(
        2026, 11, 27, 9, 30, tzinfo=UTC
    )
    with pytest.raises(ValidationError, match="not a time I can read"):
        parse_when("when the cows come home", zone=LA, now=now)


def test_a_callback_asked_for_in_a_call_is_placed_at_that_time_without_using_an_attempt(
    make_campaign, clock
):
    campaign, entry = started(make_campaign, max_attempts=1)
    call = on_a_call(campaign, entry)

    scheduled = callback_schedule(entry_id=entry.pk, when="tomorrow at 3 pm", note="busy now")
    asked = datetime(2026, 11, 26, 15, 0, tzinfo=LA)
    assert scheduled.at == asked and not scheduled.moved
    entry.refresh_from_db()
    assert entry.status == CS.IN_PROGRESS  # the live call is not doubled
    end(call, CallStatus.COMPLETED)

    entry.refresh_from_db()
    assert (entry.status, entry.next_attempt_at, entry.callbacks) == (
        CS.CALLBACK_SCHEDULED,
        asked,
        1,
    )
    assert dispatch() == {campaign.pk: 0}  # not before the time asked for
    clock.move_to(asked)
    assert dispatch() == {campaign.pk: 1}
    entry.refresh_from_db()
    assert entry.status == CS.IN_PROGRESS and entry.callback_at is None
    # max_attempts=1 and this is the second call: the callback did not use the attempt up.
    assert entry.attempts == 2


def test_after_the_callback_the_retry_budget_is_what_it_was(make_campaign, clock):
    campaign, entry = started(make_campaign, max_attempts=2, retry_delay_no_answer=60)
    end(on_a_call(campaign, entry), CallStatus.NO_ANSWER)  # attempt 1 of 2
    callback_schedule(entry_id=entry.pk, when=clock.now() + timedelta(minutes=5))
    clock.advance(minutes=5)
    end(on_a_call(campaign, entry), CallStatus.NO_ANSWER)  # the callback: free
    entry.refresh_from_db()
    assert entry.status == CS.RETRY_SCHEDULED  # one attempt left
    clock.advance(minutes=2)
    end(on_a_call(campaign, entry), CallStatus.NO_ANSWER)
    entry.refresh_from_db()
    assert entry.status == CS.EXHAUSTED


def test_a_time_outside_the_window_moves_to_its_next_opening(make_campaign, clock):
    _, entry = started(make_campaign)  # 08:00-21:00 every day
    scheduled = callback_schedule(entry_id=entry.pk, when="today at 11 pm")
    assert scheduled.moved
    assert scheduled.at == datetime(2026, 11, 26, 8, 0, tzinfo=LA)
    assert "outside the calling hours" in scheduled.describe()
    entry.refresh_from_db()
    assert (entry.status, entry.next_attempt_at) == (CS.CALLBACK_SCHEDULED, scheduled.at)


def test_at_most_max_callbacks_and_moving_one_is_not_another(make_campaign, clock):
    campaign, entry = started(make_campaign, max_callbacks=1)
    callback_schedule(entry_id=entry.pk, when="tomorrow at 9 am")
    moved = callback_schedule(entry_id=entry.pk, when="tomorrow at 10 am")
    assert moved.at == datetime(2026, 11, 26, 10, 0, tzinfo=LA)
    entry.refresh_from_db()
    assert entry.callbacks == 1
    callback_cancel(entry_id=entry.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.callbacks, entry.callback_at) == (CS.PENDING, 0, None)
    callback_schedule(entry_id=entry.pk, when="tomorrow at 9 am")
    clock.move_to(datetime(2026, 11, 26, 9, 0, tzinfo=LA))
    call = on_a_call(campaign, entry)
    with pytest.raises(ValidationError, match="already had 1 callback, the campaign's maximum"):
        callback_schedule(entry_id=entry.pk, when="tomorrow at 9 am")
    end(call)
    entry.refresh_from_db()
    assert entry.status == CS.COMPLETED


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("yesterday at 9 am", "is in the past"),
        ("2027-06-01T10:00", "at most 90 days ahead"),
        ("", "Say when to call back"),
    ],
)
def test_bad_times_are_refused_saying_why(make_campaign, when, message):
    _, entry = started(make_campaign)
    with pytest.raises(ValidationError, match=message):
        callback_schedule(entry_id=entry.pk, when=when)
    entry.refresh_from_db()
    assert (entry.status, entry.callbacks) == (CS.PENDING, 0)


def test_no_callback_to_a_blocked_number_or_after_the_campaigns_end(make_campaign, clock):
    _, entry = started(make_campaign, end_at=clock.now() + timedelta(hours=2))
    with pytest.raises(ValidationError, match="after the campaign's end"):
        callback_schedule(entry_id=entry.pk, when="tomorrow at 9 am")
    dnc_add(phone="+14155550150")
    with pytest.raises(ValidationError, match="do not call in this campaign"):
        callback_schedule(entry_id=entry.pk, when="in an hour")


def test_an_opt_out_during_the_call_finishes_the_contact_when_the_call_ends(make_campaign):
    campaign, entry = started(make_campaign)
    call = on_a_call(campaign, entry)
    callback_schedule(entry_id=entry.pk, when="tomorrow at 9 am")
    dnc_add(phone="+14155550150", reason="stop calling me", source=DoNotCall.Source.CALL, call=call)
    end(call)
    entry.refresh_from_db()
    assert entry.status == CS.DO_NOT_CALL  # the opt-out wins over the callback
    blocked = DoNotCall.objects.get(phone="+14155550150")
    assert (blocked.source, blocked.call_id, blocked.reason) == ("call", call.pk, "stop calling me")
