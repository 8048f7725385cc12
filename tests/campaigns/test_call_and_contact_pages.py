"""Everything about a call or a contact in one place: the call's page links to its caller ID,
agent, campaign and contact with the transcript near the top; the Calls list shows contact and
campaign, searches by name and exports what it shows as CSV (safe for spreadsheets); a
contact's page shows its campaigns and calls."""

import csv
import io

import pytest
from django.urls import reverse

from campaigns.models import Contact
from campaigns.services.campaigns import campaign_start
from campaigns.services.dispatch import dispatch
from contactcenter.spreadsheets import spreadsheet_safe
from telephony.models import Call
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_call(make_campaign):
    campaign = make_campaign(["+14155550150"], name="Spring reminders")
    Contact.objects.filter(phone="+14155550150").update(first_name="Grace", last_name="Hopper")
    campaign_start(campaign=campaign)
    dispatch()
    return Call.objects.get()


def test_the_call_page_links_to_what_the_call_belongs_to_with_the_transcript_on_top(
    admin_client, campaign_call
):
    Call.objects.filter(pk=campaign_call.pk).update(
        transcript=[{"role": "assistant", "content": "Hi Grace"}]
    )
    contact = Contact.objects.get()
    campaign_id = contact.campaign_entries.get().campaign_id

    html = admin_client.get(
        reverse("admin:telephony_call_change", args=[campaign_call.pk])
    ).content.decode()

    related = html[html.index('id="call-related"') :]
    for url, text in (
        (reverse("admin:telephony_phonenumber_change", args=[campaign_call.caller_id_id]),
         "+14155550100"),
        (reverse("admin:telephony_agentprofile_change", args=[campaign_call.agent_profile_id]),
         "Reminder bot"),
        (reverse("admin:campaigns_campaign_change", args=[campaign_id]), "Spring reminders"),
        (reverse("admin:campaigns_contact_change", args=[contact.pk]), "Grace Hopper"),
    ):  # fmt: skip
        assert f'<a href="{url}">{text}</a>' in related
    assert html.index('id="call-transcript"') < html.index('id="call-timeline"')
    assert html.index("Hi Grace") < html.index("<fieldset")


def test_the_calls_list_shows_and_searches_contact_and_campaign(admin_client, campaign_call):
    CallFactory(to_number="+14155550199", caller_id=campaign_call.caller_id)  # a single call
    url = reverse("admin:telephony_call_changelist")

    html = admin_client.get(url).content.decode()
    assert ">Spring reminders</a>" in html and ">Grace Hopper</a>" in html
    assert '<th scope="col" class="column-contact">' in html

    found = admin_client.get(url, {"q": "Hopper"}).content.decode()
    assert "+14155550150" in found and "+14155550199" not in found


def test_the_csv_export_has_the_filtered_rows_and_is_safe_for_spreadsheets(
    admin_client, campaign_call
):
    CallFactory(to_number="+14155550199", caller_id=campaign_call.caller_id, status="failed",
                end_reason='=HYPERLINK("http://evil.example")')  # fmt: skip
    Contact.objects.update(first_name="@SUM(A1)")
    url = reverse("admin:telephony_call_export")

    response = admin_client.get(url, {"status__exact": "queued"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Disposition"] == 'attachment; filename="calls.csv"'
    assert [(row["to"], row["campaign"], row["contact"]) for row in rows] == [
        ("+14155550150", "Spring reminders", "'@SUM(A1) Hopper")
    ]

    everything = admin_client.get(url)
    rows = list(csv.DictReader(io.StringIO(b"".join(everything.streaming_content).decode())))
    assert {row["outcome"] for row in rows} == {"", """'=HYPERLINK("http://evil.example")"""}
    listing = admin_client.get(reverse("admin:telephony_call_changelist"), {"q": "Hopper"})
    assert f'href="{url}?q=Hopper" class="call-export-link"' in listing.content.decode()


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1+1", "'=1+1"), ("+SUM(1)", "'+SUM(1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
     ("\tx", "'\tx"), ("+14155550150", "+14155550150"), ("-12.5", "-12.5"), ("Ada", "Ada"),
     (None, ""), (42, "42")],
)  # fmt: skip
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe


def test_a_contacts_page_shows_its_campaigns_and_calls(admin_client, campaign_call):
    contact = Contact.objects.get()

    html = admin_client.get(
        reverse("admin:campaigns_contact_change", args=[contact.pk])
    ).content.decode()

    campaigns = html[html.index('id="contact-campaigns"') :]
    assert ">Spring reminders</a>" in campaigns and "In progress" in campaigns
    calls = html[html.index('id="contact-calls"') :]
    call_url = reverse("admin:telephony_call_change", args=[campaign_call.pk])
    assert f'<a href="{call_url}">' in calls and "Queued" in calls
    assert (
        'id="contact-calls"'
        not in admin_client.get(reverse("admin:campaigns_contact_add")).content.decode()
    )


def test_staff_schedule_move_and_cancel_a_callback_from_the_contacts_page(
    admin_client, campaign_call
):
    entry = campaign_call.campaign_attempt.campaign_contact
    page = reverse("admin:campaigns_campaigncontact_change", args=[entry.pk])
    callback_page = reverse("admin:campaigns_campaigncontact_callback", args=[entry.pk])
    assert "Schedule a callback" in admin_client.get(page).content.decode()

    refused = admin_client.post(callback_page, {"when": "last year"})
    assert refused.status_code == 200
    assert "is in the past" in refused.content.decode()

    done = admin_client.post(callback_page, {"when": "tomorrow at 10 am", "note": "asked"})
    assert done.status_code == 302
    entry.refresh_from_db()
    assert entry.callback_at.isoformat() == "2026-11-26T18:00:00+00:00"
    assert entry.status == "in_progress"  # on a call now: scheduled when that call ends
    shown = admin_client.get(callback_page).content.decode()
    assert "Move the callback" in shown and "Thu 26 Nov 10:00 in America/Los_Angeles" in shown

    admin_client.post(callback_page, {"cancel": "1"})
    entry.refresh_from_db()
    assert (entry.callback_at, entry.callbacks) == (None, 0)
