"""The circuit breaker: a running campaign whose calls keep failing with none answered in between
pauses itself, says why (its page, the API, the waiting explanation) and tells CRMs, instead of
burning its list."""

import pytest
from django.db import transaction

from campaigns.models import Campaign, CampaignContact
from campaigns.services.campaigns import (
    campaign_failures,
    campaign_record_call_outcome,
    campaign_resume,
    campaign_start,
)
from campaigns.services.dispatch import dispatch
from campaigns.services.waiting import campaigns_waiting
from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription
from telephony.models import Call, CallEvent
from telephony.services.calls import call_transition
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
S = Campaign.Status
PHONES = [f"+1415555{index:04d}" for index in range(150, 158)]  # Los Angeles: 10:00 there


def end(call: Call, status: str, reason: str = "") -> None:
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if status == CallStatus.COMPLETED:
            call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.POLL)
        call_transition(locked, status, source=CallEvent.Source.POLL, detail=reason or status)
        if reason:
            Call.objects.filter(pk=call.pk).update(end_reason=reason)
    campaign_record_call_outcome(call_id=call.pk, refill=False)


def live_calls(campaign: Campaign) -> list[Call]:
    dispatch()
    entries = campaign.contacts.filter(status=CampaignContact.Status.IN_PROGRESS)
    return [entry.last_call for entry in entries.select_related("last_call").order_by("id")]


@pytest.fixture
def running(make_campaign):
    WebhookSubscription.objects.create(name="CRM", url="https://crm.example/hook",
                                       event_types=["campaign.paused"])  # fmt: skip
    campaign = make_campaign(PHONES, max_concurrent_calls=8, pause_after_failures=3)
    campaign_start(campaign=campaign)
    return campaign


def test_failures_in_a_row_with_none_answered_pause_the_campaign_with_the_reason(
    running, django_capture_on_commit_callbacks, clock
):
    calls = live_calls(running)
    assert len(calls) == 8
    end(calls[0], CallStatus.FAILED, "agent start failed")
    end(calls[1], CallStatus.FAILED, "agent start failed")
    clock.advance(1)
    end(calls[2], CallStatus.COMPLETED)  # an answer: the run starts again
    clock.advance(1)
    end(calls[3], CallStatus.FAILED, "agent start failed")
    end(calls[4], CallStatus.FAILED, "agent start failed")
    running.refresh_from_db()
    assert running.status == S.RUNNING  # 4 failed, but 2 since the answer
    end(calls[5], CallStatus.FAILED, "caller ID refused")
    running.refresh_from_db()
    assert running.status == S.RUNNING  # 3 since the answer, but within a minute: not a run yet

    clock.advance(61)
    with django_capture_on_commit_callbacks(execute=True):
        end(calls[6], CallStatus.FAILED, "agent start failed")
    running.refresh_from_db()
    assert running.status == S.PAUSED
    assert running.paused_reason.startswith(
        "Paused by itself: 4 calls failed in a row, none answered (most often: agent start failed)."
    )
    assert running.paused_reason in campaigns_waiting([running])[running.pk]
    delivery = WebhookDelivery.objects.get(event_type="campaign.paused")
    assert delivery.payload["data"]["automatic"] is True
    assert delivery.payload["data"]["reason"] == running.paused_reason
    assert delivery.payload["data"]["campaign"]["status"] == "paused"

    # The calls still live end as they would; the campaign stays paused and places nothing.
    end(calls[7], CallStatus.FAILED)
    running.refresh_from_db()
    assert running.status == S.PAUSED and dispatch() == {}


def test_after_a_resume_the_breaker_counts_afresh(running, clock):
    calls = live_calls(running)
    for call in calls[:3]:
        end(call, CallStatus.FAILED)
        clock.advance(31)
    running.refresh_from_db()
    assert running.status == S.PAUSED
    campaign_resume(campaign=running)
    running.refresh_from_db()
    assert (running.status, running.paused_reason) == (S.RUNNING, "")
    end(calls[3], CallStatus.FAILED)  # placed before the resume: not counted
    running.refresh_from_db()
    assert running.status == S.RUNNING
    assert campaign_failures(running)[0] == 0


def test_calls_a_rule_stopped_and_a_breaker_set_to_zero_do_not_pause(running):
    calls = live_calls(running)
    Call.objects.filter(pk__in=[call.pk for call in calls[:3]]).update(refused_by_rule="window")
    for call in calls[:3]:
        end(call, CallStatus.FAILED)
    running.refresh_from_db()
    assert running.status == S.RUNNING

    Campaign.objects.filter(pk=running.pk).update(pause_after_failures=0)
    for call in calls[3:7]:
        end(call, CallStatus.FAILED)
    running.refresh_from_db()
    assert running.status == S.RUNNING


def test_staff_pausing_is_said_as_before_and_crms_hear_it_too(
    running, django_capture_on_commit_callbacks
):
    from campaigns.services.campaigns import campaign_pause

    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign=running)
    delivery = WebhookDelivery.objects.get(event_type="campaign.paused")
    assert (delivery.payload["data"]["automatic"], delivery.payload["data"]["reason"]) == (
        False, "",
    )  # fmt: skip
    running.refresh_from_db()
    said = campaigns_waiting([running])[running.pk]
    assert "Paused: no new calls until it is resumed." in said
