"""The campaigns REST API: contact lists, contacts (bulk upsert), do-not-call, campaigns."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.api.contacts import BULK_MAX_ROWS
from campaigns.models import Campaign, CampaignContact, Contact, ContactList, DoNotCall
from telephony.models import PhoneNumber
from tests.support.factories import EVERY_DAY

API = "/api/v1"


@pytest.fixture
def contact_list(db) -> ContactList:
    return ContactList.objects.create(name="Patients")


def make_campaign(agent_profile, caller, contact_list=None, **fields) -> Campaign:
    campaign = Campaign.objects.create(
        name=fields.pop("name", "Reminders"), agent_profile=agent_profile, **{**EVERY_DAY, **fields}
    )
    if caller is not None:
        campaign.caller_ids.add(caller)
    if contact_list is not None:
        campaign.contact_lists.add(contact_list)
    return campaign


@pytest.fixture
def startable(contact_list, agent_profile, imported_caller) -> Campaign:
    for index, phone in enumerate(("+14155550150", "+14155550151")):
        Contact.objects.create(contact_list=contact_list, phone=phone, first_name=f"Ada{index}")
    return make_campaign(agent_profile, imported_caller, contact_list)


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/contact-lists/"),
        ("post", "/contact-lists/"),
        ("get", "/contacts/"),
        ("post", "/contact-lists/1/contacts/bulk/"),
        ("get", "/do-not-call/"),
        ("get", "/do-not-call/check/?phone=+14155550100"),
        ("delete", "/do-not-call/+14155550100/"),
        ("get", "/campaigns/"),
        ("post", "/campaigns/1/start/"),
        ("get", "/campaigns/1/stats/"),
    ],
)
def test_anonymous_requests_are_refused(anonymous_client, db, method, path):
    response = getattr(anonymous_client, method)(API + path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_wrong_key_is_refused(anonymous_client, db):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Api-Key cc_abcd1234_nope")
    assert anonymous_client.get(f"{API}/campaigns/").status_code == 401


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/contact-lists/999999/"),
        ("delete", "/contact-lists/999999/"),
        ("post", "/contact-lists/999999/contacts/bulk/"),
        ("get", "/contacts/999999/"),
        ("delete", "/contacts/999999/"),
        ("get", "/campaigns/999999/"),
        ("patch", "/campaigns/999999/"),
        ("post", "/campaigns/999999/start/"),
        ("post", "/campaigns/999999/pause/"),
        ("post", "/campaigns/999999/resume/"),
        ("post", "/campaigns/999999/cancel/"),
        ("get", "/campaigns/999999/stats/"),
    ],
)
def test_unknown_ids_are_404(api_client, method, path):
    response = getattr(api_client, method)(API + path, {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["message"]


# -- contact lists ----------------------------------------------------------------------------


def test_contact_list_crud(api_client):
    created = api_client.post(
        f"{API}/contact-lists/", {"name": "Leads", "description": "From the CRM"}, format="json"
    )
    assert created.status_code == 201
    list_id = created.json()["id"]
    assert created.json()["contact_count"] == 0
    Contact.objects.create(contact_list_id=list_id, phone="+14155550150")

    shown = api_client.get(f"{API}/contact-lists/{list_id}/").json()
    assert shown["name"] == "Leads" and shown["contact_count"] == 1

    patched = api_client.patch(
        f"{API}/contact-lists/{list_id}/", {"name": "Hot leads"}, format="json"
    )
    assert patched.status_code == 200
    assert ContactList.objects.get(pk=list_id).name == "Hot leads"

    listed = api_client.get(f"{API}/contact-lists/").json()
    assert [row["name"] for row in listed["results"]] == ["Hot leads"]

    assert api_client.delete(f"{API}/contact-lists/{list_id}/").status_code == 204
    assert not ContactList.objects.filter(pk=list_id).exists()
    assert not Contact.objects.filter(contact_list_id=list_id).exists()


def test_contact_list_bad_input_names_the_fields(api_client, contact_list):
    response = api_client.post(f"{API}/contact-lists/", {"name": "Patients"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    response = api_client.post(f"{API}/contact-lists/", {}, format="json")
    assert response.json()["error"]["fields"]["name"]


def test_a_list_a_started_campaign_uses_cannot_be_deleted(
    api_client, contact_list, agent_profile, caller_number
):
    campaign = make_campaign(
        agent_profile, caller_number, contact_list, status=Campaign.Status.PAUSED
    )
    response = api_client.delete(f"{API}/contact-lists/{contact_list.pk}/")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "belongs to started campaign(s)" in message and campaign.name in message
    assert ContactList.objects.filter(pk=contact_list.pk).exists()

    # Finished, the campaign still keeps its lists (tests/campaigns/test_editing_and_deleting.py).
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    assert api_client.delete(f"{API}/contact-lists/{contact_list.pk}/").status_code == 400
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.DRAFT)
    assert api_client.delete(f"{API}/contact-lists/{contact_list.pk}/").status_code == 204


# -- contacts ---------------------------------------------------------------------------------


def test_contacts_list_filter_retrieve_delete(api_client, contact_list):
    other = ContactList.objects.create(name="Other")
    ada = Contact.objects.create(contact_list=contact_list, phone="+14155550150", first_name="Ada")
    Contact.objects.create(contact_list=other, phone="+14155550151")

    listed = api_client.get(f"{API}/contacts/", {"contact_list": contact_list.pk}).json()
    assert [row["phone"] for row in listed["results"]] == ["+14155550150"]
    assert len(api_client.get(f"{API}/contacts/").json()["results"]) == 2
    bad = api_client.get(f"{API}/contacts/", {"contact_list": "x"})
    assert bad.status_code == 400 and "contact_list" in bad.json()["error"]["fields"]

    shown = api_client.get(f"{API}/contacts/{ada.pk}/").json()
    assert shown["first_name"] == "Ada" and shown["contact_list"] == contact_list.pk

    assert api_client.delete(f"{API}/contacts/{ada.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=ada.pk).exists()


def test_a_contact_enrolled_in_a_campaign_cannot_be_deleted(
    api_client, contact_list, agent_profile, caller_number
):
    contact = Contact.objects.create(contact_list=contact_list, phone="+14155550150")
    campaign = make_campaign(
        agent_profile, caller_number, contact_list, status=Campaign.Status.RUNNING
    )
    CampaignContact.objects.create(campaign=campaign, contact=contact)
    response = api_client.delete(f"{API}/contacts/{contact.pk}/")
    assert response.status_code == 400
    assert "is enrolled in campaign(s) Reminders" in response.json()["error"]["message"]
    assert Contact.objects.filter(pk=contact.pk).exists()


# -- bulk upsert ------------------------------------------------------------------------------


def bulk_url(contact_list: ContactList) -> str:
    return f"{API}/contact-lists/{contact_list.pk}/contacts/bulk/"


def test_bulk_json_saves_valid_rows_and_reports_invalid_ones(api_client, contact_list):
    Contact.objects.create(contact_list=contact_list, phone="+14155550150", first_name="Old")
    body = {
        "contacts": [
            {"phone": "(415) 555-0150", "first_name": "Ada", "variables": {"plan": "gold"}},
            {"phone": "+14155550151", "last_name": "Lovelace", "timezone": "america/new_york"},
            {"phone": "not a number"},
            {"phone": "+14155550152", "timezone": "Mars/Olympus"},
            {"first_name": "No phone"},
            "not an object",
            {"phone": "+14155550153", "variables": ["not", "an", "object"]},
        ]
    }
    response = api_client.post(bulk_url(contact_list), body, format="json")
    assert response.status_code == 200
    result = response.json()
    assert (result["created"], result["updated"], result["invalid"]) == (1, 1, 5)
    by_row = {error["row"]: error for error in result["errors"]}
    assert set(by_row) == {3, 4, 5, 6, 7}
    assert by_row[3]["field"] == "phone" and "not a number" in by_row[3]["message"]
    assert by_row[4]["field"] == "timezone" and "mars/olympus" in by_row[4]["message"].lower()
    assert by_row[5]["field"] == "phone"
    assert by_row[6]["message"]
    assert by_row[7]["field"] == "variables"
    assert "line" not in by_row[3]

    contacts = {c.phone: c for c in Contact.objects.filter(contact_list=contact_list)}
    assert set(contacts) == {"+14155550150", "+14155550151"}
    assert contacts["+14155550150"].first_name == "Ada"
    assert contacts["+14155550150"].variables == {"plan": "gold"}
    assert contacts["+14155550151"].timezone == "America/New_York"


def test_bulk_upsert_by_external_id_updates_instead_of_duplicating(api_client, contact_list):
    first = api_client.post(
        bulk_url(contact_list),
        {"contacts": [{"phone": "+14155550150", "external_id": "crm-1", "first_name": "Ada"}]},
        format="json",
    ).json()
    assert first["created"] == 1
    again = api_client.post(
        bulk_url(contact_list),
        {"contacts": [{"phone": "+14155550199", "external_id": "crm-1", "last_name": "L"}]},
        format="json",
    ).json()
    assert (again["created"], again["updated"], again["invalid"]) == (0, 1, 0)
    contact = Contact.objects.get(contact_list=contact_list)
    assert (contact.phone, contact.first_name, contact.last_name) == ("+14155550199", "Ada", "L")


def test_bulk_same_number_twice_in_one_request_is_one_contact(api_client, contact_list):
    result = api_client.post(
        bulk_url(contact_list),
        {"contacts": [{"phone": "+14155550150"}, {"phone": "415 555 0150", "first_name": "A"}]},
        format="json",
    ).json()
    assert (result["created"], result["updated"]) == (1, 1)
    assert Contact.objects.filter(contact_list=contact_list).count() == 1


def test_bulk_csv_with_variables_and_line_numbers(api_client, contact_list):
    csv_body = (
        "Phone,First Name,External ID,Appointment Date\n"
        "+14155550150,Ada,crm-1,2030-01-02\n"
        "garbage,Bob,crm-2,2030-01-03\n"
        "\n"
        "4155550151,Cy,,\n"
        "+14155550152,Too,many,cells,here\n"
    )
    response = api_client.generic(
        "POST", bulk_url(contact_list), csv_body.encode(), content_type="text/csv"
    )
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["created"], result["updated"], result["invalid"]) == (2, 0, 2)
    errors = sorted(result["errors"], key=lambda e: e["row"])
    assert (errors[0]["row"], errors[0]["line"], errors[0]["field"]) == (2, 3, "phone")
    assert (errors[1]["row"], errors[1]["line"]) == (4, 6)
    assert "cells" in errors[1]["message"]
    ada = Contact.objects.get(contact_list=contact_list, external_id="crm-1")
    assert ada.variables == {"appointment_date": "2030-01-02"}
    assert Contact.objects.filter(contact_list=contact_list, phone="+14155550151").exists()


def test_bulk_csv_without_a_phone_column_is_refused(api_client, contact_list):
    response = api_client.generic(
        "POST", bulk_url(contact_list), b"name,email\nAda,a@example.com\n", content_type="text/csv"
    )
    assert response.status_code == 400
    assert "no 'phone' column" in response.json()["error"]["message"]
    assert not Contact.objects.exists()


def test_bulk_body_of_the_wrong_shape_is_400(api_client, contact_list):
    response = api_client.post(bulk_url(contact_list), {"rows": []}, format="json")
    assert response.status_code == 400
    assert "contacts" in response.json()["error"]["fields"]
    response = api_client.generic(
        "POST", bulk_url(contact_list), b"<xml/>", content_type="application/xml"
    )
    assert response.status_code == 415


def test_bulk_over_the_row_limit_is_refused(api_client, contact_list):
    rows = [{"phone": "+14155550150"}] * (BULK_MAX_ROWS + 1)
    response = api_client.post(bulk_url(contact_list), {"contacts": rows}, format="json")
    assert response.status_code == 413
    assert str(BULK_MAX_ROWS) in response.json()["error"]["message"]
    csv_body = "phone\n" + "+14155550150\n" * (BULK_MAX_ROWS + 1)
    response = api_client.generic(
        "POST", bulk_url(contact_list), csv_body.encode(), content_type="text/csv"
    )
    assert response.status_code == 413
    assert not Contact.objects.exists()


# -- do-not-call ------------------------------------------------------------------------------


def test_dnc_add_list_check_remove(api_client, db):
    added = api_client.post(
        f"{API}/do-not-call/", {"phone": "(415) 555-0150", "reason": "asked"}, format="json"
    )
    assert added.status_code == 201
    assert added.json()["phone"] == "+14155550150" and added.json()["source"] == "api"
    again = api_client.post(f"{API}/do-not-call/", {"phone": "+14155550150"}, format="json")
    assert again.status_code == 200
    assert DoNotCall.objects.get().reason == "asked"

    listed = api_client.get(f"{API}/do-not-call/").json()
    assert [row["phone"] for row in listed["results"]] == ["+14155550150"]

    check = api_client.get(f"{API}/do-not-call/check/", {"phone": "415-555-0150"}).json()
    assert check == {"phone": "+14155550150", "blocked": True}
    check = api_client.get(f"{API}/do-not-call/check/", {"phone": "+14155550151"}).json()
    assert check == {"phone": "+14155550151", "blocked": False}

    assert api_client.delete(f"{API}/do-not-call/415%20555%200150/").status_code == 204
    assert not DoNotCall.objects.exists()
    missing = api_client.delete(f"{API}/do-not-call/+14155550150/")
    assert missing.status_code == 404
    assert "+14155550150" in missing.json()["error"]["message"]


def test_dnc_add_e164_and_remove_e164(api_client, db):
    assert (
        api_client.post(f"{API}/do-not-call/", {"phone": "+14155550150"}, format="json").status_code
        == 201
    )
    assert api_client.delete(f"{API}/do-not-call/+14155550150/").status_code == 204


def test_dnc_add_takes_waiting_contacts_out_of_campaigns(
    api_client, contact_list, agent_profile, caller_number
):
    contact = Contact.objects.create(contact_list=contact_list, phone="+14155550150")
    campaign = make_campaign(
        agent_profile, caller_number, contact_list, status=Campaign.Status.RUNNING
    )
    entry = CampaignContact.objects.create(campaign=campaign, contact=contact)
    api_client.post(f"{API}/do-not-call/", {"phone": "+14155550150"}, format="json")
    entry.refresh_from_db()
    assert entry.status == CampaignContact.Status.DO_NOT_CALL


def test_dnc_bad_input(api_client, db):
    response = api_client.post(f"{API}/do-not-call/", {"phone": "12"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["error"]["fields"]
    response = api_client.get(f"{API}/do-not-call/check/")
    assert response.status_code == 400
    assert "phone" in response.json()["error"]["fields"]
    response = api_client.delete(f"{API}/do-not-call/banana/")
    assert response.status_code == 400
    assert "phone" in response.json()["error"]["fields"]


# -- campaigns: create, update, delete --------------------------------------------------------


def campaign_body(profile, caller, contact_list, **fields) -> dict:
    return {
        "name": "Reminders",
        "agent_profile": profile.pk,
        "caller_ids": [caller.pk],
        "contact_lists": [contact_list.pk],
        "weekdays": [4, 0, 0],
        "window_start": "09:00",
        "window_end": "17:00",
        **fields,
    }


def test_campaign_create_update_delete(api_client, agent_profile, caller_number, contact_list):
    created = api_client.post(
        f"{API}/campaigns/",
        campaign_body(agent_profile, caller_number, contact_list),
        format="json",
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["status"] == "draft" and data["weekdays"] == [0, 4]
    assert data["caller_ids"] == [caller_number.pk]
    assert data["contact_lists"] == [contact_list.pk]
    campaign_id = data["id"]

    patched = api_client.patch(
        f"{API}/campaigns/{campaign_id}/",
        {"max_concurrent_calls": 2, "contact_lists": []},
        format="json",
    )
    assert patched.status_code == 200
    campaign = Campaign.objects.get(pk=campaign_id)
    assert campaign.max_concurrent_calls == 2
    assert not campaign.contact_lists.exists()

    shown = api_client.get(f"{API}/campaigns/{campaign_id}/").json()
    assert shown["max_concurrent_calls"] == 2
    listed = api_client.get(f"{API}/campaigns/", {"status": "draft"}).json()
    assert [row["id"] for row in listed["results"]] == [campaign_id]

    assert api_client.delete(f"{API}/campaigns/{campaign_id}/").status_code == 204
    assert not Campaign.objects.filter(pk=campaign_id).exists()


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"window_start": "18:00", "window_end": "09:00"}, "window_end"),
        ({"weekdays": [0, 7]}, "weekdays"),
        ({"weekdays": "monday"}, "weekdays"),
        ({"caller_ids": [999999]}, "caller_ids"),
        ({"agent_profile": None}, "agent_profile"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
        ({"caller_id_strategy": "random"}, "caller_id_strategy"),
        (
            {"start_at": "2030-01-02T10:00:00Z", "end_at": "2030-01-01T10:00:00Z"},
            "end_at",
        ),
    ],
)
def test_campaign_create_bad_input(
    api_client, agent_profile, caller_number, contact_list, fields, field
):
    response = api_client.post(
        f"{API}/campaigns/",
        campaign_body(agent_profile, caller_number, contact_list, **fields),
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()
    assert not Campaign.objects.exists()


def test_campaign_caller_ids_must_be_outbound(
    api_client, agent_profile, caller_number, contact_list
):
    PhoneNumber.objects.filter(pk=caller_number.pk).update(outbound=False)
    response = api_client.post(
        f"{API}/campaigns/",
        campaign_body(agent_profile, caller_number, contact_list),
        format="json",
    )
    assert response.status_code == 400
    assert "+14155550100" in response.json()["error"]["fields"]["caller_ids"][0]


def test_a_started_campaign_only_changes_its_name(
    api_client, agent_profile, caller_number, contact_list
):
    campaign = make_campaign(
        agent_profile, caller_number, contact_list, status=Campaign.Status.RUNNING
    )
    refused = api_client.patch(
        f"{API}/campaigns/{campaign.pk}/", {"name": "New", "max_attempts": 9}, format="json"
    )
    assert refused.status_code == 400
    assert "only its name" in refused.json()["error"]["message"]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.max_attempts) == ("Reminders", 3)

    renamed = api_client.patch(f"{API}/campaigns/{campaign.pk}/", {"name": "New"}, format="json")
    assert renamed.status_code == 200
    campaign.refresh_from_db()
    assert campaign.name == "New" and campaign.status == Campaign.Status.RUNNING

    deleted = api_client.delete(f"{API}/campaigns/{campaign.pk}/")
    assert deleted.status_code == 400
    assert "draft" in deleted.json()["error"]["message"]
    assert Campaign.objects.filter(pk=campaign.pk).exists()


# -- campaigns: controls and stats ------------------------------------------------------------


def test_start_refused_lists_every_problem(api_client, agent_profile, contact_list):
    campaign = make_campaign(agent_profile, None, contact_list, weekdays=[])
    response = api_client.post(f"{API}/campaigns/{campaign.pk}/start/")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "It has no contacts: add a contact list that has contacts."
    assert "Choose at least one caller ID number." in error["messages"]
    assert "Choose at least one weekday for calls." in error["messages"]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_start_refused_for_a_caller_not_synced(
    api_client, agent_profile, caller_number, contact_list
):
    Contact.objects.create(contact_list=contact_list, phone="+14155550150", first_name="Ada")
    PhoneNumber.objects.filter(pk=caller_number.pk).update(sync_state=PhoneNumber.SyncState.PENDING)
    campaign = make_campaign(agent_profile, caller_number, contact_list)
    response = api_client.post(f"{API}/campaigns/{campaign.pk}/start/")
    assert response.status_code == 400
    assert "not synced with Agora" in response.json()["error"]["message"]


def test_start_pause_resume_cancel(api_client, startable, django_capture_on_commit_callbacks):
    url = f"{API}/campaigns/{startable.pk}"
    started = api_client.post(f"{url}/start/")
    assert started.status_code == 200, started.json()
    assert started.json()["status"] == "running"
    assert startable.contacts.count() == 2

    again = api_client.post(f"{url}/start/")
    assert again.status_code == 400
    assert "cannot become" in again.json()["error"]["message"]

    assert api_client.post(f"{url}/pause/").json()["status"] == "paused"
    assert api_client.post(f"{url}/pause/").status_code == 400
    assert api_client.post(f"{url}/resume/").json()["status"] == "running"

    with django_capture_on_commit_callbacks() as callbacks:
        cancelled = api_client.post(f"{url}/cancel/", {"hang_up": False}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert callbacks == []
    assert set(startable.contacts.values_list("status", flat=True)) == {"cancelled"}
    assert api_client.post(f"{url}/resume/").status_code == 400


def test_cancel_with_hang_up_queues_the_hang_up(
    api_client, startable, django_capture_on_commit_callbacks, monkeypatch
):
    from campaigns import tasks

    queued = []
    monkeypatch.setattr(tasks.hang_up_campaign_calls, "delay", queued.append)
    api_client.post(f"{API}/campaigns/{startable.pk}/start/")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"{API}/campaigns/{startable.pk}/cancel/", {"hang_up": True}, format="json"
        )
    assert response.status_code == 200
    assert queued == [startable.pk]
    bad = api_client.post(
        f"{API}/campaigns/{startable.pk}/cancel/", {"hang_up": "maybe"}, format="json"
    )
    assert bad.status_code == 400 and "hang_up" in bad.json()["error"]["fields"]


def test_start_in_the_future_schedules(api_client, startable):
    Campaign.objects.filter(pk=startable.pk).update(start_at=timezone.now() + timedelta(hours=1))
    response = api_client.post(f"{API}/campaigns/{startable.pk}/start/")
    assert response.status_code == 200
    assert response.json()["status"] == "scheduled"


def test_stats(api_client, startable):
    before = api_client.get(f"{API}/campaigns/{startable.pk}/stats/").json()
    # a draft shows the contacts its lists would give it
    assert before["planned"] and before["contacts"] == 2 and before["status"] == "draft"
    assert before["done"] == 0 and before["percent_done"] == 0
    api_client.post(f"{API}/campaigns/{startable.pk}/start/")
    CampaignContact.objects.filter(campaign=startable).filter(
        pk=startable.contacts.order_by("id").first().pk
    ).update(status=CampaignContact.Status.COMPLETED, attempts=1)
    stats = api_client.get(f"{API}/campaigns/{startable.pk}/stats/").json()
    assert stats["campaign"] == startable.pk
    assert not stats["planned"] and stats["contacts"] == 2 and stats["dialed"] == 1
    assert stats["remaining"] == 1 and stats["done"] == 1 and stats["percent_done"] == 50.0
    assert stats["by_contact_status"] == {"completed": 1, "pending": 1}
    assert stats["live_calls"] == 0 and stats["calls"] == 0


# -- lists: a fixed number of queries per page ------------------------------------------------


def _queries(client, url: str, page_size: int) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(context.captured_queries)


@pytest.mark.parametrize("endpoint", ["contact-lists", "contacts", "do-not-call", "campaigns"])
def test_lists_do_not_query_per_row(api_client, agent_profile, caller_number, endpoint):
    lists = [ContactList.objects.create(name=f"list-{n}") for n in range(25)]
    for n, contact_list in enumerate(lists):
        Contact.objects.create(contact_list=contact_list, phone=f"+1415555{n + 100:04d}")
        DoNotCall.objects.create(phone=f"+1415555{n + 200:04d}")
        make_campaign(agent_profile, caller_number, contact_list, name=f"c{n}")
    url = f"{API}/{endpoint}/"
    api_client.get(url)  # the key's last_used_at is written once, on the first request
    assert _queries(api_client, url, 2) == _queries(api_client, url, 20)


def test_a_campaign_created_without_weekdays_calls_monday_to_friday_as_in_the_admin(
    api_client, agent_profile, caller_number, contact_list
):
    body = campaign_body(agent_profile, caller_number, contact_list)
    body.pop("weekdays", None)

    response = api_client.post(f"{API}/campaigns/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["weekdays"] == [0, 1, 2, 3, 4]
    assert Campaign.objects.get().weekdays == [0, 1, 2, 3, 4]


def test_a_started_campaign_cannot_lose_its_last_caller_id(api_client, startable):
    assert api_client.post(f"{API}/campaigns/{startable.pk}/start/").status_code == 200
    api_client.post(f"{API}/campaigns/{startable.pk}/pause/")

    response = api_client.patch(
        f"{API}/campaigns/{startable.pk}/", {"caller_ids": []}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["caller_ids"] == [
        "A started campaign needs at least one caller ID."
    ]
    assert startable.caller_ids.count() == 1


# -- callbacks ----------------------------------------------------------------------------------


def test_a_crm_schedules_moves_and_cancels_a_callback(api_client, startable):
    api_client.post(f"{API}/campaigns/{startable.pk}/start/")
    contact = startable.contacts.order_by("id").first().contact
    path = f"{API}/campaigns/{startable.pk}/contacts/{contact.pk}/callback/"

    answer = api_client.post(path, {"when": "tomorrow at 11 pm", "note": "after work"}, "json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["status"], body["moved"], body["time_zone"]) == (
        "callback_scheduled",
        True,
        "America/Los_Angeles",
    )
    assert body["callback_at"] == "2026-11-27T16:00:00Z"  # Friday 08:00 in Los Angeles
    assert "outside the calling hours" in body["message"]

    moved = api_client.post(path, {"when": "2026-11-27T10:30"}, "json").json()
    assert moved["callback_at"] == "2026-11-27T18:30:00Z" and moved["moved"] is False
    entry = startable.contacts.get(contact=contact)
    assert (entry.callbacks, entry.note) == (1, "callback")

    cancelled = api_client.delete(path)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "pending" and cancelled.json()["callback_at"] is None


def test_a_refused_callback_says_why_and_unknown_contacts_are_404(api_client, startable):
    api_client.post(f"{API}/campaigns/{startable.pk}/start/")
    contact = startable.contacts.order_by("id").first().contact
    path = f"{API}/campaigns/{startable.pk}/contacts/{contact.pk}/callback/"
    past = api_client.post(path, {"when": "yesterday at 9 am"}, "json")
    assert past.status_code == 400
    assert "is in the past" in str(past.json()["error"])
    assert api_client.post(path, {}, "json").json()["error"]["fields"]["when"]
    assert api_client.delete(path).status_code == 400  # nothing to cancel
    missing = f"{API}/campaigns/{startable.pk}/contacts/999999/callback/"
    assert api_client.post(missing, {"when": "tomorrow"}, "json").status_code == 404
