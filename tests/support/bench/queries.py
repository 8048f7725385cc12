"""Query counts of the admin changelists and the API's list endpoints at 10 and at 1,000 rows.
A page's count should not depend on how many rows the table holds."""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

ADMIN_PAGES = {
    "admin: calls": "/admin/telephony/call/",
    "admin: phone numbers": "/admin/telephony/phonenumber/",
    "admin: agent profiles": "/admin/telephony/agentprofile/",
    "admin: webhook events": "/admin/telephony/webhookevent/",
    "admin: campaigns": "/admin/campaigns/campaign/",
    "admin: campaign contacts": "/admin/campaigns/campaigncontact/",
    "admin: contacts": "/admin/campaigns/contact/",
    "admin: contact lists": "/admin/campaigns/contactlist/",
    "admin: do-not-call": "/admin/campaigns/donotcall/",
    "admin: webhook deliveries": "/admin/contactcenter/webhookdelivery/",
    "console: dashboard": "/admin/dashboard/",
}
API_PAGES = {
    "api: calls": "/api/v1/calls/",
    "api: phone numbers": "/api/v1/phone-numbers/",
    "api: agents": "/api/v1/agents/",
    "api: campaigns": "/api/v1/campaigns/",
    "api: contacts": "/api/v1/contacts/",
    "api: contact lists": "/api/v1/contact-lists/",
    "api: do-not-call": "/api/v1/do-not-call/",
    "api: webhook deliveries": "/api/v1/webhook-deliveries/",
}


def _fill(rows: int) -> None:
    """Top every listed table up to `rows` rows."""
    from campaigns.models import (
        Campaign,
        CampaignAttempt,
        CampaignContact,
        Contact,
        ContactList,
        DoNotCall,
    )
    from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription
    from telephony.models import AgentProfile, Call, PhoneNumber, WebhookEvent

    def missing(model) -> range:
        return range(model.objects.count(), rows)

    profile = AgentProfile.objects.first() or AgentProfile.objects.create(
        name="Profile 0", pipeline_id="pipeline-0"
    )
    AgentProfile.objects.bulk_create(
        AgentProfile(name=f"Profile q{i}", pipeline_id=f"pipeline-{i}")
        for i in missing(AgentProfile)
    )
    PhoneNumber.objects.bulk_create(
        PhoneNumber(e164=f"+1212{200 + i // 1000}{i % 1000:04d}", label=f"Line {i}",
                    outbound_address="sip.example", sync_state=PhoneNumber.SyncState.SYNCED)
        for i in missing(PhoneNumber)
    )  # fmt: skip
    caller = PhoneNumber.objects.order_by("pk").first()
    ContactList.objects.bulk_create(
        ContactList(name=f"List q{uuid.uuid4().hex[:10]}") for _ in missing(ContactList)
    )
    contact_list = ContactList.objects.order_by("pk").first()
    Contact.objects.bulk_create(
        Contact(contact_list=contact_list, consent=True,
                phone=f"+1305{200 + i // 1000}{i % 1000:04d}", first_name=f"Ada {i}")
        for i in missing(Contact)
    )  # fmt: skip
    DoNotCall.objects.bulk_create(
        DoNotCall(phone=f"+1702{200 + i // 1000}{i % 1000:04d}", reason="asked")
        for i in missing(DoNotCall)
    )
    Campaign.objects.bulk_create(
        Campaign(name=f"Campaign q{i}", agent_profile=profile) for i in missing(Campaign)
    )
    campaign = Campaign.objects.order_by("pk").first()
    contacts = list(
        Contact.objects.exclude(campaign_entries__campaign=campaign).order_by("pk")[
            : rows - CampaignContact.objects.count()
        ]
    )
    CampaignContact.objects.bulk_create(
        CampaignContact(campaign=campaign, contact=contact) for contact in contacts
    )
    now = timezone.now()
    calls = Call.objects.bulk_create(
        Call(to_number=f"+1917{200 + i // 1000}{i % 1000:04d}", from_number=caller.e164,
             caller_id=caller, agent_profile=profile, agora_name=f"cc-q{uuid.uuid4().hex}",
             channel=f"ccq{uuid.uuid4().hex}", status="completed",
             answered_at=now - timedelta(minutes=5), ended_at=now, duration_seconds=300)
        for i in missing(Call)
    )  # fmt: skip
    entries = list(CampaignContact.objects.filter(campaign=campaign).order_by("pk")[: len(calls)])
    CampaignAttempt.objects.bulk_create(
        CampaignAttempt(campaign_contact=entry, campaign=campaign, call=call, number=1)
        for entry, call in zip(entries, calls, strict=False)
    )
    WebhookEvent.objects.bulk_create(
        WebhookEvent(notice_id=f"q{uuid.uuid4().hex}", event_type=202, body={},
                     status="processed")
        for _ in missing(WebhookEvent)
    )  # fmt: skip
    subscription = WebhookSubscription.objects.first() or WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example/hooks", secret="s" * 32, event_types=["call.completed"]
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=subscription, event_type="call.completed", status="delivered")
        for _ in missing(WebhookDelivery)
    )


def _count(client: Client, url: str, **headers: str) -> int:
    from django.core.cache import cache

    from contactcenter.console.views import REPORTS_CACHE_KEY

    cache.delete(REPORTS_CACHE_KEY)  # every page's own queries, not a copy kept by the last
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return len(queries)


def query_counts(sizes: tuple[int, ...] = (10, 1000)) -> dict:
    from contactcenter.models import ApiKey, ApiScope

    user = get_user_model().objects.create_superuser(
        f"bench-{uuid.uuid4().hex[:6]}", "bench@example.com", uuid.uuid4().hex
    )
    _, key = ApiKey.issue(name="Benchmark", scopes=ApiScope.values)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    api = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    counts: dict[str, dict[str, int]] = {}
    for rows in sizes:
        _fill(rows)
        for name, url in ADMIN_PAGES.items():
            counts.setdefault(name, {})[str(rows)] = _count(client, url)
        api_client = Client(HTTP_HOST="localhost")
        # A key's first use in a while records when it was used (one write): not a page's cost.
        _count(api_client, "/api/v1/agents/", **api)
        for name, url in API_PAGES.items():
            counts.setdefault(name, {})[str(rows)] = _count(api_client, url, **api)
    return {
        "sizes": list(sizes),
        "pages": counts,
        "flat": all(len(set(by_size.values())) == 1 for by_size in counts.values()),
        "baseline": "the same page at 10 rows",
    }
