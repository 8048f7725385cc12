"""A CRM drives the product through the API alone, against real workers and the simulator:
contacts in, a campaign created and started, signed call.completed webhooks received and
verified, results read back."""

import hashlib
import hmac
import json
from contextlib import ExitStack

import httpx
import pytest

from contactcenter.models import ApiKey, ApiScope
from tests.support.clock import daytime_zone
from tests.support.e2e import Receiver, app_env, import_caller, simulator_args
from tests.support.processes import celery_beat, celery_worker, simulator_server, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

CONTACTS = [  # the simulator's outcome rules, by the last digit
    {"phone": "+14155550150", "first_name": "Ada", "external_id": "crm-1"},  # talks 15 s
    {"phone": "+14155550210", "first_name": "Alan", "external_id": "crm-2"},  # talks 1 s
    {"phone": "+14155550102", "first_name": "Grace", "external_id": "crm-3"},  # busy
    {"phone": "+14155550103", "first_name": "Edsger", "external_id": "crm-4"},  # fails
]


def verified(body: bytes, headers: dict, secret: str) -> dict:
    timestamp = headers["X-Contactcenter-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Contactcenter-Signature"] == f"v1={expected.hexdigest()}"
    return json.loads(body)


def test_a_crm_runs_a_campaign_through_the_api(
    tmp_path, redis_db, live_server, crm_receiver, imported_caller_for_server, agent_profile, clock
):
    caller = imported_caller_for_server["caller"]
    receiver = crm_receiver
    _, key = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    crm = httpx.Client(
        base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Api-Key {key}"},
        timeout=30,
    )  # fmt: skip
    try:
        subscription = crm.post(
            "/webhook-subscriptions/",
            json={"name": "CRM", "url": receiver.url, "event_types": ["call.completed"]},
        )
        assert subscription.status_code == 201, subscription.text
        subscription = subscription.json()
        contact_list = crm.post("/contact-lists/", json={"name": "Renewals"}).json()
        # Callees where it is midday now (the real clock, shared with the workers).
        contacts = [{**contact, "timezone": daytime_zone(clock.now()), "consent": True}
                    for contact in CONTACTS]  # fmt: skip
        upsert = crm.post(f"/contact-lists/{contact_list['id']}/contacts/bulk/",
                          json={"contacts": contacts}).json()  # fmt: skip
        assert (upsert["created"], upsert["invalid"]) == (4, 0)
        campaign = crm.post("/campaigns/", json={
            "name": "Renewals", "agent_profile": agent_profile.pk, "caller_ids": [caller.pk],
            "contact_lists": [contact_list["id"]], "weekdays": list(range(7)),
            "window_start": "08:00:00", "window_end": "21:00:00", "max_attempts": 1,
            "max_concurrent_calls": 4,
        })  # fmt: skip
        assert campaign.status_code == 201, campaign.text
        campaign = campaign.json()
        started = crm.post(f"/campaigns/{campaign['id']}/start/")
        assert started.status_code == 200, started.text

        def finished() -> bool:
            stats = crm.get(f"/campaigns/{campaign['id']}/stats/").json()
            return stats["remaining"] == 0 and len(receiver.received) >= 4

        wait_for(finished, timeout=120, message="the campaign to finish and report")
        stats = crm.get(f"/campaigns/{campaign['id']}/stats/").json()
        calls = crm.get("/calls/", params={"campaign": campaign["id"]}).json()["results"]
    finally:
        crm.close()

    events = [
        verified(body, headers, subscription["secret"]) for body, headers in receiver.received
    ]
    assert {event["type"] for event in events} == {"call.completed"}
    ended = {
        event["data"]["call"]["to_number"]: event["data"]["call"]["status"] for event in events
    }
    assert ended == {
        "+14155550150": "completed",
        "+14155550210": "completed",
        "+14155550102": "failed",  # busy: polling alone cannot tell it from failed
        "+14155550103": "failed",
    }
    assert {event["data"]["call"]["campaign_id"] for event in events} == {campaign["id"]}
    assert all(event["data"]["call"]["contact_id"] for event in events)
    assert stats["done"] == 4 and stats["status"] == "completed"
    assert {call["to_number"]: call["status"] for call in calls} == ended


@pytest.fixture
def crm_receiver(settings):
    """The CRM's webhook receiver, on this machine over plain http: a destination the app
    refuses unless the operator opens it, as done here for the web app in this process (the
    worker gets the same through its environment, `receiver_env`)."""
    receiver = Receiver()
    settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.OUTBOUND_WEBHOOK_ALLOWED_PORTS = [80, 443, httpx.URL(receiver.url).port]
    settings.OUTBOUND_WEBHOOK_ALLOW_HTTP = True
    yield receiver
    receiver.close()


def receiver_env(receiver: Receiver) -> dict[str, str]:
    return {
        "OUTBOUND_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "OUTBOUND_WEBHOOK_ALLOWED_PORTS": f"80,443,{httpx.URL(receiver.url).port}",
        "OUTBOUND_WEBHOOK_ALLOW_HTTP": "true",
    }


@pytest.fixture
def imported_caller_for_server(tmp_path, caller_number, redis_db, crm_receiver):
    """The simulator server, a worker and beat, with the caller number imported there."""
    args = simulator_args("--ring-timeout", "2")
    with ExitStack() as stack:
        base_url = stack.enter_context(simulator_server(tmp_path, *args))
        import_caller(base_url, caller_number)
        env = {**app_env(base_url, 10), **receiver_env(crm_receiver)}
        stack.enter_context(celery_worker(tmp_path, hostname="crm@test", concurrency=3, **env))
        stack.enter_context(celery_beat(tmp_path, **env))
        yield {"caller": caller_number, "base_url": base_url}
