"""The audit of what the dialing rules held back: each campaign contact keeps the rule that last
kept it from being called (`held_by`) until it is called; staff filter the contacts by it and the
campaign page counts them by rule. The suite's clock is pinned at Wednesday 18:00 UTC: 10:00 in
San Francisco (+1415 numbers), 03:00 on Thursday in Tokyo."""

from datetime import timedelta

import pytest
from django.urls import reverse

from campaigns.models import CampaignContact, Contact
from campaigns.services.campaigns import campaign_record_call_outcome, campaign_start
from campaigns.services.dispatch import dispatch
from campaigns.services.dnc import dnc_add
from telephony.rules import Rule
from telephony.services.calls import call_create, call_place

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status


def held(campaign) -> dict[str, str]:
    return dict(campaign.contacts.values_list("contact__phone", "held_by"))


@pytest.fixture
def held_campaign(make_campaign, clock, imported_caller, agent_profile):
    """Four contacts: one called, one over its number's call limits, one asleep in Tokyo, one
    put on the do-not-call list (which takes it out of every campaign at once)."""
    clock.move_to(clock.now(), tick=False)
    for _ in range(3):
        call_create(to_number="+14155550151", caller_id=imported_caller,
                    agent_profile=agent_profile, variables={"first_name": "Ada"})  # fmt: skip
    campaign = make_campaign(["+14155550150", "+14155550151", "+14155550152", "+14155550153"])
    Contact.objects.filter(phone="+14155550152").update(timezone="Asia/Tokyo")
    campaign_start(campaign=campaign)
    dnc_add(phone="+14155550153", reason="asked by email")
    assert dispatch() == {campaign.pk: 1}
    return campaign


def test_each_contact_keeps_the_rule_that_held_it_back(held_campaign):
    assert held(held_campaign) == {
        "+14155550150": "",
        "+14155550151": Rule.CALL_FREQUENCY,
        "+14155550152": Rule.CAMPAIGN_WINDOW,
        "+14155550153": Rule.DO_NOT_CALL,
    }


def test_a_contact_called_at_last_is_no_longer_held(held_campaign, clock):
    clock.advance(hours=24, minutes=1)  # the limits allow; 03:01 in Tokyo, still asleep

    dispatch()

    assert held(held_campaign)["+14155550151"] == ""
    assert held(held_campaign)["+14155550152"] == Rule.CAMPAIGN_WINDOW


def test_a_call_stopped_right_before_dialing_holds_its_contact_by_that_rule(
    make_campaign, agora, simulator
):
    campaign = make_campaign(["+14155550150"])
    campaign_start(campaign=campaign)
    dispatch()
    entry = campaign.contacts.get()
    # while its call waits to be placed
    dnc_add(phone="+14155550150", reason="asked by text message")

    assert call_place(call_id=entry.last_call_id) == "refused"
    campaign_record_call_outcome(call_id=entry.last_call_id)

    entry.refresh_from_db()
    assert (entry.status, entry.held_by) == (CS.DO_NOT_CALL, Rule.DO_NOT_CALL)
    assert entry.attempts == 0


def test_staff_filter_contacts_by_the_rule_and_the_campaign_page_counts_them(
    held_campaign, admin_client
):
    contacts = reverse("admin:campaigns_campaigncontact_changelist")

    listed = admin_client.get(contacts, {"held_by__exact": Rule.CALL_FREQUENCY}).content.decode()
    page = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[held_campaign.pk])
    ).content.decode()

    assert "+14155550151" in listed
    assert "+14155550150" not in listed and "+14155550152" not in listed
    assert "Held back by a dialing rule" in page
    for key, label in [
        (Rule.DO_NOT_CALL, "Do-not-call list"),
        (Rule.CALL_FREQUENCY, "Call limits per number"),
        (Rule.CAMPAIGN_WINDOW, "Campaign&#x27;s calling window"),
    ]:
        assert f'<tr><td>{label}</td><td class="n" data-breakdown="{key}">1</td></tr>' in page, key


def test_the_window_hold_moves_on_when_it_opens(held_campaign, clock):
    tokyo = held_campaign.contacts.get(contact__phone="+14155550152")
    clock.move_to(tokyo.next_attempt_at + timedelta(minutes=1))

    dispatch()

    tokyo.refresh_from_db()
    assert (tokyo.status, tokyo.held_by) == (CS.IN_PROGRESS, "")
