"""CRM webhook subscriptions and deliveries through the API."""

from unittest import mock

import pytest

from contactcenter.crm_webhooks import tasks as crm_webhook_tasks
from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription
from contactcenter.crm_webhooks.services import crm_webhook_event_emit

pytestmark = pytest.mark.django_db
SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"


# A public address: its "resolution" needs no DNS (names: see tests/contactcenter/crm_webhooks).
URL = "https://93.184.215.14/hooks"


def test_the_secret_is_shown_once_when_created_and_never_again(api_client):
    created = api_client.post(
        SUBSCRIPTIONS,
        {"name": "CRM", "url": URL, "event_types": ["call.completed"]},
        format="json",
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert len(secret) >= 20
    subscription_id = created.json()["id"]

    for response in (
        api_client.get(SUBSCRIPTIONS),
        api_client.get(f"{SUBSCRIPTIONS}{subscription_id}/"),
    ):
        assert secret not in response.content.decode()
    updated = api_client.patch(
        f"{SUBSCRIPTIONS}{subscription_id}/", {"active": False}, format="json"
    )
    assert updated.status_code == 200 and "secret" not in updated.json()
    assert WebhookSubscription.objects.get().secret == secret  # an update without one keeps it


def test_bad_subscriptions_are_refused_with_field_messages(api_client):
    response = api_client.post(
        SUBSCRIPTIONS,
        {"name": "x", "url": "ftp://crm.example", "event_types": ["call.exploded"]},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "url" in fields


def test_a_secret_follows_the_same_rule_as_in_the_admin(api_client):
    body = {"name": "CRM", "url": URL, "event_types": ["call.completed"]}

    short = api_client.post(SUBSCRIPTIONS, {**body, "secret": "x" * 15}, format="json")
    assert short.status_code == 400
    assert "at least 16 characters" in short.json()["error"]["fields"]["secret"][0]
    assert not WebhookSubscription.objects.exists()

    created = api_client.post(SUBSCRIPTIONS, {**body, "secret": "x" * 16}, format="json")
    assert created.status_code == 201 and created.json()["secret"] == "x" * 16
    changed = api_client.patch(
        f"{SUBSCRIPTIONS}{created.json()['id']}/", {"secret": "too-short"}, format="json"
    )
    assert changed.status_code == 400 and "secret" in changed.json()["error"]["fields"]
    assert WebhookSubscription.objects.get().secret == "x" * 16


def test_a_secret_stored_before_the_rule_does_not_block_other_changes(api_client):
    subscription = WebhookSubscription.objects.create(
        name="CRM", url=URL, secret="short", event_types=["call.started"]
    )
    response = api_client.patch(
        f"{SUBSCRIPTIONS}{subscription.pk}/", {"active": False}, format="json"
    )
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.active is False and subscription.secret == "short"


def test_deliveries_are_listed_filtered_and_redelivered(
    api_client, django_capture_on_commit_callbacks
):
    subscription = WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example/hooks", secret="s" * 32,
        event_types=["contact.do_not_call"],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        crm_webhook_event_emit(event_type="contact.do_not_call", data={"phone": "+14155550150"})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)

    listed = api_client.get("/api/v1/webhook-deliveries/", {"status": "failed"})
    assert [d["id"] for d in listed.json()["results"]] == [delivery.pk]
    assert (
        api_client.get("/api/v1/webhook-deliveries/", {"status": "delivered"}).json()["results"]
        == []
    )
    with mock.patch.object(crm_webhook_tasks.deliver_webhook, "delay"), \
            django_capture_on_commit_callbacks(execute=True):  # fmt: skip
        response = api_client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202
    assert response.json()["status"] == WebhookDelivery.Status.PENDING
    assert response.json()["subscription"] == subscription.pk
