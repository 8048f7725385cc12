"""Caller-ID health: a number answered far less often than its peers is marked, and a campaign
that asks takes it out of rotation (keeping one) with the reason and a CRM event."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignAttempt, CampaignContact
from campaigns.services.caller_ids import campaign_review_caller_ids, campaigns_review_caller_ids
from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription
from telephony.models import Call
from telephony.services.caller_health import caller_health
from telephony.states import CallStatus
from tests.support.factories import (
    CallFactory,
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    PhoneNumberFactory,
)

pytestmark = pytest.mark.django_db
PHONES: list[str] = []  # contacts' numbers so far (each is new)


def calls_from(number, answered: int, unanswered: int, *, campaign=None, age=timedelta(hours=1)):
    made = [CallFactory(caller_id=number, status=CallStatus.COMPLETED) for _ in range(answered)]
    made += [CallFactory(caller_id=number, status=CallStatus.NO_ANSWER) for _ in range(unanswered)]
    Call.objects.filter(pk__in=[call.pk for call in made]).update(created_at=timezone.now() - age)
    if campaign is not None:
        contact_list = campaign.contact_lists.first()
        for call in made:
            contact = ContactFactory(contact_list=contact_list, phone=f"+1212555{len(PHONES):04d}")
            PHONES.append(contact.phone)
            entry = CampaignContact.objects.create(campaign=campaign, contact=contact)
            CampaignAttempt.objects.create(campaign_contact=entry, campaign=campaign, call=call,
                                           number=1)  # fmt: skip
    return made


@pytest.fixture
def numbers():
    return [PhoneNumberFactory(e164=f"+1415555010{index}", outbound=True) for index in range(3)]


def test_a_number_answered_far_less_than_its_peers_is_flagged(numbers):
    good, spam, new = numbers
    calls_from(good, 12, 18)  # 40%
    calls_from(spam, 2, 28)  # 7%
    calls_from(new, 0, 5)  # too few calls to say
    calls_from(spam, 30, 0, age=timedelta(days=8))  # older than the 7 days: not counted
    calls_from(good, 0, 0)
    CallFactory(caller_id=spam, status=CallStatus.FAILED)  # never rang: not counted

    health = caller_health(Call.objects.all(), now=timezone.now())

    assert (health[spam.pk].calls, health[spam.pk].answered) == (30, 2)
    assert health[spam.pk].flagged and not health[good.pk].flagged
    assert not health[new.pk].flagged
    assert health[spam.pk].describe() == "7% of 30 answered (others: 34%); likely flagged as spam"


def test_the_number_list_marks_it(admin_client, numbers):
    good, spam, _ = numbers
    calls_from(good, 12, 18)
    calls_from(spam, 2, 28)
    page = admin_client.get(reverse("admin:telephony_phonenumber_changelist")).content.decode()
    assert "7% ⚠ likely flagged as spam" in page and "40%" in page


def test_a_campaign_takes_it_out_of_rotation_once_keeping_one(
    numbers, admin_client, django_capture_on_commit_callbacks
):
    good, spam, worse = numbers
    WebhookSubscription.objects.create(name="CRM", url="https://crm.example/hook",
                                       event_types=["campaign.caller_id_removed"])  # fmt: skip
    campaign = CampaignFactory(contact_lists=[ContactListFactory()], caller_ids=numbers,
                               status=Campaign.Status.RUNNING,
                               rotate_out_flagged_caller_ids=True)  # fmt: skip
    calls_from(good, 20, 10, campaign=campaign)
    calls_from(spam, 3, 27, campaign=campaign)
    calls_from(worse, 1, 29, campaign=campaign)

    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_review_caller_ids() == [worse.e164]  # the worst first, one at a time
    campaign.refresh_from_db()
    assert set(campaign.caller_ids.all()) == {good, spam}
    assert campaign.caller_id_note.startswith(f"{worse.e164} taken out of rotation on ")
    delivery = WebhookDelivery.objects.get(event_type="campaign.caller_id_removed")
    assert delivery.payload["data"]["number"] == worse.e164

    assert campaign_review_caller_ids(campaign_id=campaign.pk) == spam.e164
    assert campaign_review_caller_ids(campaign_id=campaign.pk) is None  # never the last one
    assert list(campaign.caller_ids.all()) == [good]

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    html = page.content.decode()
    assert f'data-flagged="{worse.e164}"' in html and f'data-flagged="{good.e164}"' not in html
    assert "Caller IDs, last 7 days" in html and "taken out of rotation" in html


def test_without_the_setting_nothing_is_removed(numbers):
    good, spam, _ = numbers
    campaign = CampaignFactory(contact_lists=[ContactListFactory()], caller_ids=[good, spam],
                               status=Campaign.Status.RUNNING)  # fmt: skip
    calls_from(good, 20, 10, campaign=campaign)
    calls_from(spam, 1, 29, campaign=campaign)
    assert campaigns_review_caller_ids() == []
    assert campaign.caller_ids.count() == 2
