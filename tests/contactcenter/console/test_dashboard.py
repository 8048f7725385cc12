"""The operations dashboard: who may see it, what it shows, and what it costs to render."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Contact, ContactList
from campaigns.services.campaigns import campaign_start
from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription
from contactcenter.health import heartbeat_record
from telephony.models import PhoneNumber, WebhookEvent
from telephony.states import CallStatus as S
from tests.support.factories import EVERY_DAY

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
LIVE = "/admin/dashboard/live/"


def figures(html: str) -> dict[str, str]:
    found = re.findall(r'data-figure="(\w+)"[^>]*>(.*?)</', html, flags=re.S)
    return {key: re.sub(r"<[^>]+>", "", value).strip() for key, value in found}


@pytest.fixture
def staff_without_permissions(client):
    user = get_user_model().objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def running_campaign(caller_number, agent_profile, settings):
    settings.CALLING_HOURS_GUARD_START, settings.CALLING_HOURS_GUARD_END = "00:00", "23:59:59"

    def make(name: str, contacts: int = 4) -> Campaign:
        contact_list = ContactList.objects.create(name=f"{name} list")
        Contact.objects.bulk_create(
            Contact(
                contact_list=contact_list,
                consent=True,
                phone=f"+1415555{index:04d}",
                first_name="Ada",
            )
            for index in range(contacts)
        )
        campaign = Campaign.objects.create(name=name, agent_profile=agent_profile, **EVERY_DAY)
        campaign.contact_lists.add(contact_list)
        campaign.caller_ids.add(caller_number)
        return campaign_start(campaign=campaign)

    return make


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for url in (DASHBOARD, LIVE):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_call_permission_are_refused(client, staff_without_permissions):
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(LIVE).status_code == 403
    index = client.get("/admin/").content.decode()
    assert "console-dashboard-entry" not in index
    assert 'id="console-dashboard-link"' not in index

    staff_without_permissions.user_permissions.add(Permission.objects.get(codename="view_call"))
    assert client.get(DASHBOARD).status_code == 200


def test_the_admin_index_and_every_admin_page_link_to_the_dashboard(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert 'id="console-dashboard-entry"' in index
    calls = admin_client.get(reverse("admin:telephony_call_changelist")).content.decode()
    assert f'href="{DASHBOARD}" id="console-dashboard-link"' in calls


def test_only_get_is_allowed(admin_client):
    assert admin_client.post(DASHBOARD).status_code == 405
    assert admin_client.post(LIVE).status_code == 405


def test_an_empty_dashboard_renders_with_dashes_not_errors(admin_client, redis_db, settings):
    settings.AGORA_MAX_CONCURRENT_CALLS = 20
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    shown = figures(response.content.decode())
    assert shown["live_calls"] == "0" and shown["cap"] == "20"
    assert shown["calls_24h"] == "0"
    assert shown["answer_rate"] == "—" and shown["average_talk"] == "—"
    assert shown["workers"] == "Silent"
    assert shown["webhook_last"] == "never"
    assert shown["numbers_ok"] == "Every number is in sync with Agora."
    assert "No campaign is scheduled, running or paused." in response.content.decode()


def test_the_dashboard_shows_the_figures(admin_client, redis_db, settings, make_call):
    settings.AGORA_MAX_CONCURRENT_CALLS = 7
    now = timezone.now()
    for status in (S.DIALING, S.RINGING, S.ANSWERED):
        make_call(status)
    make_call(S.QUEUED)
    make_call(S.COMPLETED, talk_seconds=50)
    make_call(S.COMPLETED, talk_seconds=70)
    make_call(S.NO_ANSWER)
    make_call(S.BUSY)
    make_call(S.FAILED, created_at=now - timedelta(hours=2))
    make_call(S.COMPLETED, talk_seconds=999, created_at=now - timedelta(hours=25))  # too old
    PhoneNumber.objects.create(
        e164="+14155550190", sync_state=PhoneNumber.SyncState.ERROR,
        last_error="Agora answered 400: invalid SIP address",
    )  # fmt: skip
    PhoneNumber.objects.create(e164="+14155550191", sync_state=PhoneNumber.SyncState.MISSING)
    for index, (status, age) in enumerate(
        [
            (WebhookEvent.Status.PROCESSED, timedelta(seconds=30)),
            (WebhookEvent.Status.FAILED, timedelta(hours=1)),
            (WebhookEvent.Status.FAILED, timedelta(hours=30)),  # outside the window
            (WebhookEvent.Status.UNMATCHED, timedelta(hours=3)),
            (WebhookEvent.Status.RECEIVED, timedelta(minutes=10)),  # stuck
            (WebhookEvent.Status.RECEIVED, timedelta(seconds=5)),  # just arrived
        ]
    ):
        WebhookEvent.objects.create(
            notice_id=f"n-{index}", event_type=202, body={}, status=status,
            received_at=now - age,
        )  # fmt: skip
    subscription = WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example/hook", secret="s" * 32, event_types=["call.completed"]
    )
    WebhookDelivery.objects.create(
        subscription=subscription, event_type="call.completed", status="failed"
    )
    heartbeat_record(worker="w1@test", source="beat")

    html = admin_client.get(DASHBOARD).content.decode()
    shown = figures(html)

    assert (shown["live_calls"], shown["cap"], shown["queued_calls"]) == ("3", "7", "1")
    assert 'aria-valuenow="3"' in html and 'style="width:42.9%"' in html
    assert shown["calls_24h"] == "9"
    assert shown["answer_rate"] == "40%"  # 2 answered of 5 ended outbound calls
    assert shown["average_talk"] == "1:00"
    assert shown["workers"] == "Alive"
    assert re.search(r'data-value="completed">2<', html)
    assert re.search(r'data-value="live">3<', html)
    assert 'aria-label="Calls in the last 24 hours by outcome, per hour"' in html
    assert 'data-number="+14155550190"' in html and "invalid SIP address" in html
    assert 'data-number="+14155550191"' in html and "Missing in Agora" in html
    assert shown["webhooks_ok"] == "Needs attention"
    assert shown["webhooks_received"] == "5"
    assert shown["webhooks_failed"] == "1"
    assert shown["webhooks_unmatched"] == "1"
    assert shown["webhooks_backlog"] == "1"
    assert shown["deliveries_failed"] == "1"
    assert shown["webhook_last"] == "0\xa0minutes ago"


def test_campaigns_in_progress_show_their_progress_bars(admin_client, redis_db, running_campaign):
    spring = running_campaign("Spring", contacts=4)
    autumn = running_campaign("Autumn", contacts=2)
    Campaign.objects.filter(pk=autumn.pk).update(status=Campaign.Status.PAUSED)
    finished = running_campaign("Old", contacts=1)
    Campaign.objects.filter(pk=finished.pk).update(status=Campaign.Status.COMPLETED)

    html = admin_client.get(DASHBOARD).content.decode()

    assert f'data-campaign-row="{spring.pk}"' in html
    assert f'data-campaign-row="{autumn.pk}"' in html
    assert f'data-campaign-row="{finished.pk}"' not in html
    assert re.search(
        rf'<div class="cp" data-campaign="{spring.pk}".*?data-f="contacts">4<', html, re.S
    )


def test_the_live_panels_are_the_dashboard_without_the_page(admin_client, redis_db):
    response = admin_client.get(LIVE)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "<html" not in body and 'data-figure="live_calls"' in body
    page = admin_client.get(DASHBOARD).content.decode()
    assert 'data-url="/admin/dashboard/live/"' in page


def test_query_count_does_not_grow_with_calls_or_campaigns(
    admin_client, redis_db, make_call, running_campaign
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIVE).status_code == 200
        return len(captured)

    running_campaign("First", contacts=2)
    make_call(S.COMPLETED, talk_seconds=5)
    few = queries()
    for index in range(4):
        running_campaign(f"More {index}", contacts=3)
    for status in (S.COMPLETED, S.BUSY, S.DIALING, S.FAILED) * 5:
        make_call(status, talk_seconds=5)
    assert queries() == few


def test_reports_are_kept_for_minutes_only_once_there_are_many_calls(db, settings):
    from django.core.cache import cache

    from contactcenter.console.views import REPORTS_CACHE_KEY, _reports_context
    from tests.support.factories import CallFactory

    CallFactory(status=S.COMPLETED)
    now = timezone.now()
    _reports_context(now=now)
    assert cache.get(REPORTS_CACHE_KEY) is None  # few calls: computed at every load

    settings.REPORTS_CACHE_ABOVE = 0
    first = _reports_context(now=now)
    CallFactory(status=S.FAILED)
    kept, _ = cache.get(REPORTS_CACHE_KEY)
    assert kept.calls + kept.unplaced == 1
    assert str(_reports_context(now=now)["answer_rates"]) == str(first["answer_rates"])
