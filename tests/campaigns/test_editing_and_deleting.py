"""Editing and deleting campaigns, lists and contacts: one service each
(`campaign_update`, `campaign_delete`, `contact_list_delete`, `contact_delete`), which the
admin and the API both call, so both give the same answer."""

from datetime import time, timedelta

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignContact, Contact, ContactList
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_pause,
    campaign_start,
    campaign_update,
)
from campaigns.services.contacts import contact_delete, contact_list_delete
from contactcenter.models import ApiKey, ApiScope
from tests.support.factories import PhoneNumberFactory

pytestmark = pytest.mark.django_db


# -- campaign_update --------------------------------------------------------------------------


def test_a_draft_changes_only_the_settings_given(make_campaign, contact_list):
    draft = make_campaign(max_attempts=3)
    Campaign.objects.filter(pk=draft.pk).update(round_robin_position=7)  # the dispatcher's

    updated = campaign_update(
        campaign=draft, changes={"max_attempts": 5, "contact_lists": [contact_list]}
    )

    updated.refresh_from_db()
    assert (updated.max_attempts, updated.round_robin_position) == (5, 7)
    assert list(updated.contact_lists.all()) == [contact_list]


def test_a_started_campaign_keeps_its_settings_even_when_edited_from_a_stale_copy(make_campaign):
    campaign = make_campaign()
    stale = Campaign.objects.get(pk=campaign.pk)  # read while it was a draft
    campaign_start(campaign=campaign)

    with pytest.raises(
        ValidationError,
        match=r"only its name\s+and its analysis plan can change\..* \(sent: max_attempts\)",
    ):
        campaign_update(campaign=stale, changes={"name": "Renamed", "max_attempts": 9})
    campaign_update(campaign=stale, changes={"name": "Renamed"})

    campaign.refresh_from_db()
    assert (campaign.name, campaign.max_attempts, campaign.status) == (
        "Renamed",
        3,
        Campaign.Status.RUNNING,
    )


def test_settings_are_checked_against_what_the_campaign_already_has(make_campaign):
    draft = make_campaign(window_start=time(9), window_end=time(17))

    with pytest.raises(ValidationError) as refused:
        campaign_update(campaign=draft, changes={"window_start": time(18)})

    assert refused.value.message_dict == {
        "window_end": ["The daily window must end after it starts."]
    }
    draft.refresh_from_db()
    assert draft.window_start == time(9)


# -- deleting lists and contacts: the same answer from the admin and the API ------------------


@pytest.fixture
def api_client(db) -> APIClient:
    _, key = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def api_delete(api_client: APIClient, obj: ContactList | Contact) -> tuple[bool, str]:
    """(deleted?, the refusal's message) through the API."""
    resource = "contact-lists" if isinstance(obj, ContactList) else "contacts"
    response = api_client.delete(f"/api/v1/{resource}/{obj.pk}/")
    if response.status_code == 204:
        return True, ""
    assert response.status_code == 400, response.content
    return False, response.json()["error"]["message"]


def admin_delete(admin_client, obj: ContactList | Contact) -> tuple[bool, str]:
    """(deleted?, the refusal's message) through the admin's delete page."""
    name = obj._meta.model_name
    response = admin_client.post(
        reverse(f"admin:campaigns_{name}_delete", args=[obj.pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]
    if errors:
        assert response.redirect_chain[-1][0] == reverse(
            f"admin:campaigns_{name}_change", args=[obj.pk]
        )
        return False, " ".join(errors)
    return True, ""


ENTRY_POINTS = {"api": api_delete, "admin": admin_delete}


@pytest.fixture
def started(make_campaign) -> Campaign:
    """A campaign that was started, its contacts enrolled, then cancelled."""
    campaign = make_campaign(["+14155550150", "+14155550151"], name="Spring reminders")
    campaign_start(campaign=campaign)
    return campaign_cancel(campaign=campaign)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
@pytest.mark.parametrize(
    "status", [Campaign.Status.CANCELLED, Campaign.Status.COMPLETED, Campaign.Status.PAUSED]
)
def test_a_list_a_started_campaign_used_is_kept_whatever_the_entry_point(
    entry_point, status, make_campaign, api_client, admin_client
):
    campaign = make_campaign(["+14155550150", "+14155550151"], name="Spring reminders")
    campaign_start(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    contact_list = campaign.contact_lists.get()

    deleted, message = ENTRY_POINTS[entry_point](
        api_client if entry_point == "api" else admin_client, contact_list
    )

    assert not deleted
    assert message == (
        f"The list '{contact_list.name}' belongs to started campaign(s) Spring reminders: a "
        "campaign keeps its contacts, their attempts and calls, so every call stays accounted "
        "for. It cannot be deleted."
    )
    assert Contact.objects.filter(contact_list=contact_list).count() == 2
    assert campaign.contacts.count() == 2  # the campaign's record is whole


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_a_contact_a_campaign_enrolled_is_kept_whatever_the_entry_point(
    entry_point, started, api_client, admin_client
):
    contact = Contact.objects.get(phone="+14155550150")

    deleted, message = ENTRY_POINTS[entry_point](
        api_client if entry_point == "api" else admin_client, contact
    )

    assert not deleted
    assert message == (
        f"{contact} is enrolled in campaign(s) Spring reminders: a campaign keeps its contacts, "
        "their attempts and calls, so every call stays accounted for. It cannot be deleted; to "
        "stop calling the number, add it to the do-not-call list."
    )
    assert started.contacts.filter(contact=contact).exists()


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_a_list_only_drafts_use_and_a_contact_never_enrolled_can_be_deleted(
    entry_point, make_campaign, api_client, admin_client
):
    draft = make_campaign(["+14155550150", "+14155550151"])
    contact_list = draft.contact_lists.get()
    client = api_client if entry_point == "api" else admin_client

    assert ENTRY_POINTS[entry_point](client, contact_list.contacts.first()) == (True, "")
    assert ENTRY_POINTS[entry_point](client, contact_list) == (True, "")

    assert not ContactList.objects.filter(pk=contact_list.pk).exists()
    assert not Contact.objects.exists()
    assert not draft.contact_lists.exists()


def test_the_admins_bulk_delete_lists_the_refusals_and_deletes_nothing(admin_client, started):
    kept = Contact.objects.get(phone="+14155550150")
    free = Contact.objects.create(contact_list=kept.contact_list, phone="+14155550199")
    data = {"action": "delete_selected", "_selected_action": [kept.pk, free.pk]}
    changelist = reverse("admin:campaigns_contact_changelist")

    shown = admin_client.post(changelist, data)
    confirmed = admin_client.post(changelist, {**data, "post": "yes"})

    for response in (shown, confirmed):
        assert response.status_code == 200
        assert "is enrolled in campaign(s) Spring reminders" in response.content.decode()
    assert Contact.objects.filter(pk__in=[kept.pk, free.pk]).count() == 2


def test_the_services_refuse_whoever_calls_them(started):
    contact_list = started.contact_lists.get()
    with pytest.raises(ValidationError, match="belongs to started campaign"):
        contact_list_delete(contact_list=contact_list)
    with pytest.raises(ValidationError, match="is enrolled in campaign"):
        contact_delete(contact=contact_list.contacts.first())


# -- a paused campaign ------------------------------------------------------------------------


@pytest.fixture
def paused(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550151"], max_attempts=3)
    campaign_start(campaign=campaign)
    return campaign_pause(campaign=campaign)


def api_client_with_write_scope() -> APIClient:
    _, key = ApiKey.issue(name="CRM", scopes=[ApiScope.CAMPAIGNS_WRITE, ApiScope.CAMPAIGNS_READ])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_a_paused_campaigns_schedule_pacing_retries_and_callers_change_in_admin_and_api(
    paused, admin_client, caller_number
):
    second = PhoneNumberFactory(e164="+14155550199")
    api = api_client_with_write_scope()

    changes = {"window_end": "19:00", "max_concurrent_calls": 3}
    changes["caller_ids"] = [caller_number.pk, second.pk]
    response = api.patch(f"/api/v1/campaigns/{paused.pk}/", changes, format="json")
    assert response.status_code == 200, response.content
    paused.refresh_from_db()
    assert (paused.window_end, paused.max_concurrent_calls) == (time(19), 3)
    assert set(paused.caller_ids.all()) == {caller_number, second}

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[paused.pk]))
    html = page.content.decode()
    assert 'id="campaign-locked"' in html and "This campaign is paused" in html
    assert 'name="max_attempts"' in html and 'name="weekdays"' in html  # editable
    assert 'name="contact_lists"' not in html and 'name="agent_profile"' not in html


def test_a_paused_campaign_keeps_its_lists_and_agent_whatever_the_entry_point(paused, contact_list):
    with pytest.raises(ValidationError, match=r"not its contact lists or its agent.*contact_lists"):
        campaign_update(campaign=paused, changes={"contact_lists": [contact_list]})
    response = api_client_with_write_scope().patch(
        f"/api/v1/campaigns/{paused.pk}/", {"contact_lists": [contact_list.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "not its contact lists" in response.json()["error"]["message"]
    # the same lists, sent back unchanged, are not a change
    campaign_update(campaign=paused, changes={"contact_lists": list(paused.contact_lists.all())})


def test_a_window_change_has_deferred_contacts_looked_at_again(paused, clock):
    later = clock.now() + timedelta(hours=14)
    paused.contacts.update(
        next_attempt_at=later, note="outside its calling window; next opening tomorrow"
    )
    paused.contacts.filter(contact__phone="+14155550151").update(note="no answer")

    campaign_update(campaign=paused, changes={"window_start": time(9)})

    window_deferred = paused.contacts.get(contact__phone="+14155550150")
    assert window_deferred.next_attempt_at <= clock.now()
    assert window_deferred.note == "calling window changed"
    assert paused.contacts.get(contact__phone="+14155550151").next_attempt_at == later


def test_fewer_attempts_exhaust_the_contacts_that_had_them_all(paused):
    paused.contacts.filter(contact__phone="+14155550150").update(
        status=CampaignContact.Status.RETRY_SCHEDULED, attempts=2
    )

    campaign_update(campaign=paused, changes={"max_attempts": 2})

    done = paused.contacts.get(contact__phone="+14155550150")
    assert done.status == CampaignContact.Status.EXHAUSTED
    assert done.note == "no attempt left: the maximum became 2"
    pending = paused.contacts.get(contact__phone="+14155550151")
    assert pending.status == CampaignContact.Status.PENDING


def test_a_running_campaign_says_to_pause_it_first(make_campaign):
    campaign = make_campaign()
    campaign_start(campaign=campaign)

    with pytest.raises(ValidationError, match="pause it first"):
        campaign_update(campaign=campaign, changes={"window_start": time(9)})


# -- duplicating ------------------------------------------------------------------------------


def test_duplicate_copies_every_setting_into_a_new_draft_from_admin_and_api(paused, admin_client):
    response = admin_client.post(reverse("admin:campaigns_campaign_duplicate", args=[paused.pk]))

    copy = Campaign.objects.exclude(pk=paused.pk).get()
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[copy.pk])
    assert (copy.name, copy.status) == ("Copy of Reminders", Campaign.Status.DRAFT)
    for name in Campaign.SETTINGS_FIELDS:
        if name in ("name", "caller_ids", "contact_lists"):
            continue
        assert getattr(copy, name) == getattr(paused, name), name
    assert set(copy.caller_ids.all()) == set(paused.caller_ids.all())
    assert set(copy.contact_lists.all()) == set(paused.contact_lists.all())
    assert not copy.contacts.exists()  # enrolled when it starts

    answer = api_client_with_write_scope().post(f"/api/v1/campaigns/{paused.pk}/duplicate/")
    assert answer.status_code == 201
    assert answer.json()["name"] == "Copy of Reminders" and answer.json()["status"] == "draft"
    assert (
        admin_client.get(
            reverse("admin:campaigns_campaign_duplicate", args=[paused.pk])
        ).status_code
        == 405
    )
