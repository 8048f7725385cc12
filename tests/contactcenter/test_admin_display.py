"""contactcenter.admin_display: the one status badge, durations and the progress bar, and the
admin pages that show them (classes only: the colours are CSS in admin/base_site.html, checked
in a browser by tests/browser/test_admin_display.py)."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact, Contact, ContactImport, ContactList
from contactcenter.admin_display import (
    BadgeKind,
    call_status_badge,
    format_duration,
    progress_display,
    status_badge,
)
from telephony.models import Call, PhoneNumber, WebhookEvent
from telephony.states import CallStatus
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db

INLINE_COLOUR = re.compile(r'style="[^"]*background')


def test_a_badge_is_classes_and_its_label():
    assert status_badge(BadgeKind.IMPORT, "done", "Done") == (
        '<span class="status-badge import-status import-status-done">Done</span>'
    )
    # the campaign progress script redraws the badges marked data-badge
    assert status_badge(BadgeKind.CAMPAIGN, "running", "Running") == (
        '<span class="status-badge campaign-status campaign-status-running" data-badge>'
        "Running</span>"
    )
    assert "&lt;b&gt;" in status_badge(BadgeKind.CAMPAIGN_CONTACT, "pending", "<b>")


@pytest.mark.parametrize(
    ("status", "group"),
    [
        (CallStatus.QUEUED, "queued"),
        (CallStatus.DIALING, "live"),
        (CallStatus.RINGING, "live"),
        (CallStatus.ANSWERED, "live"),
        (CallStatus.COMPLETED, "completed"),
        (CallStatus.NO_ANSWER, "unreached"),
        (CallStatus.BUSY, "unreached"),
        (CallStatus.FAILED, "failed"),
        (CallStatus.CANCELED, "canceled"),
        ("something-new", "unknown"),
    ],
)
def test_a_call_badge_shows_the_status_group(status, group):
    assert f'class="status-badge call-status call-status-{group}">Label<' in call_status_badge(
        status, "Label"
    )


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, None), (0, "0:00"), (75, "1:15"), (3725, "1:02:05")]
)
def test_durations(seconds, shown):
    assert format_duration(seconds) == shown


def test_the_progress_bar_counts_contacts_and_calls():
    progress = {
        "contacts": 8,
        "by_contact_status": {"completed": 2, "exhausted": 1, "pending": 5},
        "calls_by_status": {"busy": 3},
    }

    shown = progress_display(progress)

    segments = {segment["key"]: segment for segment in shown["segments"]}
    assert (segments["completed"]["width"], segments["completed"]["count"]) == ("25.00", 2)
    assert segments["exhausted"]["width"] == "12.50"
    assert list(segments) == [
        "completed",
        "exhausted",
        "do_not_call",
        "no_consent",
        "invalid",
        "cancelled",
    ]
    outcomes = {outcome["key"]: outcome for outcome in shown["outcomes"]}
    assert (outcomes["busy"]["source"], outcomes["busy"]["count"]) == ("call", 3)
    assert outcomes["completed"]["count"] == 2


def test_every_admin_badge_is_the_shared_one_without_inline_colours(
    admin_client, redis_db, caller_number, agent_profile
):
    for status in CallStatus.values:
        answered = timezone.now() if status == CallStatus.COMPLETED else None
        CallFactory(status=status, caller_id=caller_number, answered_at=answered)
    for index, state in enumerate(PhoneNumber.SyncState.values):
        if state != caller_number.sync_state:
            PhoneNumber.objects.create(e164=f"+1415555020{index}", sync_state=state)
    for index, status in enumerate(WebhookEvent.Status.values):
        WebhookEvent.objects.create(notice_id=f"n-{index}", body={}, status=status)
    contact_list = ContactList.objects.create(name="Customers")
    contact = Contact.objects.create(contact_list=contact_list, phone="+14155550150")
    ContactImport.objects.create(contact_list=contact_list, status=ContactImport.Status.DONE)
    campaign = Campaign.objects.create(
        name="Renewals", agent_profile=agent_profile, status=Campaign.Status.PAUSED
    )
    CampaignContact.objects.create(
        campaign=campaign, contact=contact, status=CampaignContact.Status.RETRY_SCHEDULED
    )
    pages = {
        "admin:telephony_call_changelist": [
            f"call-status call-status-{group}"
            for group in ("queued", "live", "completed", "unreached", "failed", "canceled")
        ],
        "admin:telephony_phonenumber_changelist": [
            f"sync-state sync-state-{state}" for state in PhoneNumber.SyncState.values
        ],
        "admin:telephony_webhookevent_changelist": [
            f"webhook-event-status webhook-event-status-{status}"
            for status in WebhookEvent.Status.values
        ],
        "admin:campaigns_contactlist_changelist": ["import-status import-status-done"],
        "admin:campaigns_campaign_changelist": ["campaign-status campaign-status-paused"],
        "admin:campaigns_campaigncontact_changelist": [
            "contact-status contact-status-retry_scheduled"
        ],
    }
    pages_of_one = {
        reverse("admin:telephony_call_change", args=[Call.objects.first().pk]): "call-status",
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]): "campaign-status",
        reverse("admin:campaigns_contactlist_change", args=[contact_list.pk]): "import-status",
    }

    for name, classes in pages.items():
        html = admin_client.get(reverse(name)).content.decode()
        for badge in classes:
            assert f'class="status-badge {badge}"' in html, (name, badge)
        assert not INLINE_COLOUR.search(html), name
    for url, kind in pages_of_one.items():
        html = admin_client.get(url).content.decode()
        assert f'class="status-badge {kind} ' in html, url
        assert not INLINE_COLOUR.search(html), url
    # the dashboard's progress bars are the same include (its charts draw their own colours)
    dashboard = admin_client.get(reverse("console-dashboard")).content.decode()
    campaigns = dashboard[
        dashboard.index('id="panel-campaigns"') : dashboard.index('id="panel-numbers"')
    ]
    assert f'<div class="cp" data-campaign="{campaign.pk}"' in campaigns
    assert not INLINE_COLOUR.search(campaigns)


def test_view_site_goes_to_the_dashboard_and_pages_have_an_icon(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert '<a href="/admin/dashboard/">View site</a>' in html
    assert '<link rel="icon" href="data:image/svg+xml,' in html
