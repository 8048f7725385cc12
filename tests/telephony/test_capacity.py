"""The account cap's two counts (telephony.services.capacity): booked for the dispatcher, live
for placement."""

import pytest
from django.utils import timezone

from telephony.models import Call
from telephony.services.calls import PlacementDeferred, call_create, call_place
from telephony.services.capacity import booked_call_count, live_call_count
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


def new_call(caller, profile, to: str):
    return call_create(
        to_number=to, caller_id=caller, agent_profile=profile, variables={"first_name": "Ada"}
    )


def test_queued_calls_are_booked_but_not_live(imported_caller, agent_profile, simulator):
    queued = new_call(imported_caller, agent_profile, "+14155550150")
    placed = new_call(imported_caller, agent_profile, "+14155550151")
    ended = new_call(imported_caller, agent_profile, "+14155550152")
    call_place(call_id=placed.id)
    ended.status, ended.answered_at = CallStatus.COMPLETED, timezone.now()
    ended.save()

    assert live_call_count() == 1
    assert booked_call_count() == 2
    assert booked_call_count(Call.objects.filter(pk=queued.pk)) == 1
    assert booked_call_count(Call.objects.filter(pk=ended.pk)) == 0


def test_placement_dials_a_queue_as_long_as_the_cap(
    imported_caller, agent_profile, simulator, settings
):
    # Every place is booked by a queued call: placement counts only live calls, so each of
    # them is dialed (counting queued ones would make them wait for each other forever).
    settings.AGORA_MAX_CONCURRENT_CALLS = 2
    calls = [new_call(imported_caller, agent_profile, f"+1415555015{n}") for n in range(2)]
    assert booked_call_count() == 2

    assert [call_place(call_id=call.id) for call in calls] == ["placed", "placed"]

    third = new_call(imported_caller, agent_profile, "+14155550159")
    with pytest.raises(PlacementDeferred, match="cap"):
        call_place(call_id=third.id)
    assert live_call_count() == 2
