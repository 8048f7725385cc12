"""A campaign call answers to the rules again right before it is dialed: a number put on
do-not-call, a window that closed or a campaign paused while the call waited in the queue stops
it (canceled, never sent to Agora), and its contact is moved on without using an attempt."""

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import CampaignContact, DoNotCall
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_pause,
    campaign_record_call_outcome,
    campaign_resume,
    campaign_start,
)
from campaigns.services.dispatch import dispatch
from telephony.models import Call
from telephony.rules import Rule
from telephony.services.calls import call_place, call_retry
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status


def place_requests(simulator) -> int:
    return simulator.ledger_summary()["requests"]["by_operation"].get("place_call", 0)


def dispatched(make_campaign, **fields):
    """A running campaign with one contact whose call is queued, not yet dialed."""
    campaign = make_campaign(["+14155550150"], **fields)
    campaign_start(campaign=campaign)
    dispatch()
    entry = campaign.contacts.get()
    assert (entry.status, entry.attempts) == (CS.IN_PROGRESS, 1)
    return campaign, entry, Call.objects.get()


def refused_and_recorded(call: Call) -> Call:
    assert call_place(call_id=call.pk) == "refused"
    campaign_record_call_outcome(call_id=call.pk)  # what the call_ended signal's task does
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED
    return call


def test_a_number_put_on_do_not_call_after_dispatch_is_not_dialed(make_campaign, simulator):
    _campaign, entry, call = dispatched(make_campaign)
    DoNotCall.objects.create(phone="+14155550150")

    call = refused_and_recorded(call)

    assert call.refused_by_rule == Rule.DO_NOT_CALL
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (CS.DO_NOT_CALL, 0)
    assert place_requests(simulator) == 0


def test_a_window_that_closed_while_queued_defers_the_contact_to_its_opening(
    make_campaign, simulator, clock
):
    # Wednesday 16:59:30 in San Francisco, the window closing at 17:00.
    clock.move_to(datetime(2026, 11, 26, 0, 59, 30, tzinfo=UTC), tick=False)
    campaign, entry, call = dispatched(make_campaign, window_start=time(9), window_end=time(17))
    clock.advance(45)  # the worker picks the call up at 17:00:15

    call = refused_and_recorded(call)

    assert call.refused_by_rule == Rule.CAMPAIGN_WINDOW
    assert "outside the campaign's calling window (09:00-17:00 local time)" in call.end_reason
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (CS.PENDING, 0)  # the attempt was given back
    assert entry.next_attempt_at == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 09:00 local
    assert place_requests(simulator) == 0
    clock.move_to(entry.next_attempt_at, tick=False)
    assert dispatch() == {campaign.pk: 1}
    assert campaign.contacts.get().attempts == 1


def test_a_campaign_paused_while_its_call_was_queued_calls_again_once_resumed(
    make_campaign, simulator
):
    campaign, entry, call = dispatched(make_campaign)
    campaign_pause(campaign=campaign)

    call = refused_and_recorded(call)

    assert call.refused_by_rule == Rule.CAMPAIGN_STATUS
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (CS.PENDING, 0)
    assert dispatch() == {}
    campaign_resume(campaign=campaign)
    assert dispatch() == {campaign.pk: 1}
    assert place_requests(simulator) == 0


def test_a_campaign_cancelled_while_its_call_was_queued_cancels_the_contact(
    make_campaign, simulator
):
    campaign, entry, call = dispatched(make_campaign)
    campaign_cancel(campaign=campaign)

    refused_and_recorded(call)

    entry.refresh_from_db()
    assert entry.status == CS.CANCELLED
    assert place_requests(simulator) == 0


def test_calls_the_rules_allow_are_dialed(make_campaign, simulator):
    _campaign, _entry, call = dispatched(make_campaign)
    assert call_place(call_id=call.pk) == "placed"
    assert place_requests(simulator) == 1


def test_a_campaign_call_is_retried_by_its_campaign_not_on_its_own(make_campaign):
    # A single call would escape the campaign's window, status and attempts.
    _campaign, _entry, call = dispatched(make_campaign)
    Call.objects.filter(pk=call.pk).update(status=CallStatus.FAILED)

    with pytest.raises(ValidationError, match="retried by its campaign"):
        call_retry(call_id=call.pk)
    assert Call.objects.count() == 1
