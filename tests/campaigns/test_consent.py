"""Prior express consent to calls by an AI agent: contacts carry it (given, when, where, the
evidence), a campaign requiring it (new campaigns do) calls no one without it, checked at each
claim and right before dialing; an opt-out revokes it; recorded later, the contact is called
after all. Set from the CSV, the API and the admin."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact, Contact, ContactList
from campaigns.services import contacts as services
from campaigns.services.campaigns import campaign_record_call_outcome, campaign_start
from campaigns.services.contacts import (
    contact_import_run,
    contact_import_start,
    contact_upsert,
)
from campaigns.services.dispatch import dispatch
from campaigns.services.dnc import dnc_add
from campaigns.services.waiting import campaign_start_preview
from telephony.models import Call
from telephony.rules import Rule
from telephony.services.calls import call_place
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status
WITH, WITHOUT = "+14155550150", "+14155550151"


def with_and_without_consent(make_campaign, **fields) -> Campaign:
    campaign = make_campaign([WITH, WITHOUT], **fields)
    Contact.objects.filter(phone=WITHOUT).update(consent=False)
    return campaign


def test_a_new_campaign_requires_consent_whoever_creates_it(admin_client, api_client):
    assert Campaign().require_consent is True
    page = admin_client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert re.search(r'<input type="checkbox" name="require_consent"[^>]* checked', page)


def test_a_contact_without_consent_is_not_called_and_says_why(clock, make_campaign):
    campaign = with_and_without_consent(make_campaign)
    campaign_start(campaign=campaign)

    assert dispatch() == {campaign.pk: 1}

    held = campaign.contacts.get(contact__phone=WITHOUT)
    assert (held.status, held.attempts, held.held_by) == (CS.NO_CONSENT, 0, Rule.CONSENT)
    assert held.note == "no prior express consent on record (the campaign requires it)"
    assert campaign.contacts.get(contact__phone=WITH).status == CS.IN_PROGRESS
    assert Call.objects.get().to_number == WITH


def test_a_campaign_that_does_not_require_it_calls_everyone(clock, make_campaign):
    campaign = with_and_without_consent(make_campaign, require_consent=False)
    campaign_start(campaign=campaign)

    assert dispatch() == {campaign.pk: 2}


def test_consent_withdrawn_after_booking_stops_the_call_before_dialing(
    clock, make_campaign, simulator
):
    campaign = make_campaign([WITH])
    campaign_start(campaign=campaign)
    dispatch()
    call = Call.objects.get()
    Contact.objects.filter(phone=WITH).update(consent=False)

    assert call_place(call_id=call.pk) == "refused"
    campaign_record_call_outcome(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.refused_by_rule) == (CallStatus.CANCELED, Rule.CONSENT)
    entry = campaign.contacts.get()
    assert (entry.status, entry.attempts) == (CS.NO_CONSENT, 0)


def test_an_opt_out_revokes_consent_everywhere(clock, make_campaign):
    make_campaign([WITH])
    Contact.objects.create(
        contact_list=ContactList.objects.create(name="Other"), phone=WITH, consent=True
    )
    clock.move_to(clock.now(), tick=False)

    dnc_add(phone=WITH, reason="asked")

    contacts = Contact.objects.filter(phone=WITH)
    assert contacts.count() == 2
    assert {(c.consent, c.consent_revoked_at) for c in contacts} == {(False, clock.now())}


def test_consent_recorded_later_brings_the_contact_back(clock, make_campaign, contact_list):
    campaign = with_and_without_consent(make_campaign)
    campaign_start(campaign=campaign)
    dispatch()
    held = campaign.contacts.get(contact__phone=WITHOUT)
    assert held.status == CS.NO_CONSENT

    contact_upsert(
        contact_list=held.contact.contact_list, phone=WITHOUT, consent="yes",
        consent_source="web form", consent_at="2026-11-25T17:00:00Z",
        consent_evidence="checkbox 'Call me about my renewal'",
    )  # fmt: skip

    held.refresh_from_db()
    assert (held.status, held.held_by, held.note) == (CS.PENDING, "", "consent recorded")
    contact = held.contact
    contact.refresh_from_db()
    assert (contact.consent, contact.consent_source) == (True, "web form")
    assert contact.consent_at == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert dispatch() == {campaign.pk: 1}


def test_the_start_preview_counts_contacts_without_consent(clock, make_campaign):
    campaign = with_and_without_consent(make_campaign)

    preview = campaign_start_preview(campaign)

    assert (preview.callable_now, preview.no_consent) == (1, 1)
    assert "1 contact has no prior express consent on record" in " ".join(
        preview.sentences(campaign, clock.now())
    )


# -- where consent comes from ---------------------------------------------------------------------


def test_consent_imports_from_the_csv_and_a_no_revokes_it(contact_list, var_dir):
    Contact.objects.create(contact_list=contact_list, phone="+14155550103", consent=True,
                           consent_source="old form")  # fmt: skip
    content = (
        "phone,consent,consent_at,consent_source,consent_evidence\n"
        "+14155550100,yes,2026-11-01T09:30:00Z,web form,checkbox v2\n"  # 2
        "+14155550101,no,,,\n"  # 3
        "+14155550102,,,,\n"  # 4: nothing said
        "+14155550103,n,,,\n"  # 5: revoked
        "+14155550104,perhaps,,,\n"  # 6: not a yes or no
        "+14155550105,yes,last tuesday,,\n"  # 7: not a time
    )
    record = contact_import_run(
        import_id=contact_import_start(
            contact_list=contact_list, uploaded_file=SimpleUploadedFile("c.csv", content.encode()),
            file_name="c.csv",
        ).pk
    )  # fmt: skip

    errors = {error["line"]: error["reason"] for error in record.errors}
    assert errors == {
        6: "consent must be yes or no, not 'perhaps'.",
        7: "consent_at 'last tuesday' is not a date and time (ISO 8601, e.g. "
        "2026-01-31T09:00:00Z).",
    }
    found = {
        c.phone: (c.consent, c.consent_at, c.consent_source, c.consent_evidence, c.variables)
        for c in contact_list.contacts.all()
    }
    assert found == {
        "+14155550100": (True, datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "web form",
                         "checkbox v2", {}),
        "+14155550101": (False, None, "", "", {}),
        "+14155550102": (False, None, "", "", {}),
        "+14155550103": (False, None, "old form", "", {}),
    }  # fmt: skip


def test_both_ways_of_writing_an_import_merge_consent_alike(contact_list):
    lists = [contact_list, ContactList.objects.create(name="Twin")]
    for target in lists:
        Contact.objects.create(contact_list=target, phone="+14155550100", consent=True,
                               consent_source="old")  # fmt: skip
    given = {"consent": None, "consent_at": None, "consent_source": "", "consent_evidence": ""}
    empty = dict.fromkeys(services.CONTACT_FIELDS, "")
    batch = {
        "+14155550100": ({**empty, **given, "consent_evidence": "call recording 7"}, {}),
        "+14155550101": ({**empty, **given, "consent": True, "consent_source": "crm"}, {}),
        "+14155550102": ({**empty, **given}, {}),
    }
    since = timezone.now() - timedelta(hours=1)

    services._upsert_by_orm(lists[0].pk, batch, since=since)
    services._upsert_by_copy(lists[1].pk, batch, since=since)

    fields = ("phone", "consent", "consent_source", "consent_evidence")
    written = [list(target.contacts.order_by("phone").values_list(*fields)) for target in lists]
    assert (
        written[0]
        == written[1]
        == [
            ("+14155550100", True, "old", "call recording 7"),
            ("+14155550101", True, "crm", ""),
            ("+14155550102", False, "", ""),
        ]
    )


def test_crms_set_consent_through_the_api(api_client, contact_list):
    answer = api_client.post(
        f"/api/v1/contact-lists/{contact_list.pk}/contacts/bulk/",
        {"contacts": [
            {"phone": WITH, "consent": True, "consent_at": "2026-11-20T10:00:00+01:00",
             "consent_source": "CRM"},
            {"phone": WITHOUT, "consent": "maybe"},
        ]},
        format="json",
    )  # fmt: skip

    assert answer.status_code == 200, answer.content
    [error] = answer.json()["errors"]
    assert (error["row"], error["field"]) == (2, "consent")
    contact = Contact.objects.get(phone=WITH)
    assert (contact.consent, contact.consent_source) == (True, "CRM")
    assert contact.consent_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    shown = api_client.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert (shown["consent"], shown["consent_source"]) == (True, "CRM")


def test_a_bad_consent_is_named_and_nothing_stored_changes(contact_list):
    contact = contact_upsert(contact_list=contact_list, phone=WITH, consent=True)
    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone=WITH, consent="sometimes")
    assert error.value.message_dict == {"consent": ["consent must be yes or no, not 'sometimes'."]}
    contact.refresh_from_db()
    assert contact.consent is True
