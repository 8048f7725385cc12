"""CRM webhooks: signed deliveries, attempts, retries, and the events that emit them.

The CRM's receiver is a respx route; tasks are stood in for by calling the services directly.
"""

import hashlib
import hmac
import json
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactcenter.crm_webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)
from contactcenter.crm_webhooks.services import (
    MAX_ATTEMPTS,
    crm_webhook_event_emit,
    deliveries_retry_due,
    delivery_attempt,
    delivery_redeliver,
)
from contactcenter.crm_webhooks.tasks import deliver_webhook

URL = "https://crm.example/hooks/contactcenter"
PUBLIC_ADDRESS = "93.184.215.14"
# Deliveries connect to the address checked for the name (never a second lookup), so the
# receiver's route is the URL with the host replaced by that address.
SENT_TO = f"https://{PUBLIC_ADDRESS}/hooks/contactcenter"
SECRET = "whsec_test_0123456789abcdef"
DNC_DATA = {"phone": "+14155550199", "reason": "asked", "source": "staff"}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def crm_dns(fake_dns):
    fake_dns["crm.example"] = [PUBLIC_ADDRESS]
    return fake_dns


@pytest.fixture
def subscription() -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        name="CRM",
        url=URL,
        secret=SECRET,
        event_types=["call.answered", "call.completed", "contact.do_not_call"],
    )


def _emit(event_type="contact.do_not_call", data=None) -> WebhookDelivery:
    (delivery,) = crm_webhook_event_emit(event_type=event_type, data=data or DNC_DATA)
    return delivery


def _make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


# -- emitting ---------------------------------------------------------------------------------


def test_emit_creates_one_delivery_and_enqueues_it_on_commit(
    subscription, django_capture_on_commit_callbacks
):
    with mock.patch.object(deliver_webhook, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            deliveries = crm_webhook_event_emit(event_type="contact.do_not_call", data=DNC_DATA)
        assert delay.call_count == 0  # nothing before commit
        for callback in callbacks:
            callback()
    (delivery,) = deliveries
    delay.assert_called_once_with(delivery.pk)
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.payload["id"] == str(delivery.event_id)
    assert delivery.payload["type"] == "contact.do_not_call"
    assert delivery.payload["data"] == DNC_DATA


def test_inactive_subscriptions_and_unwanted_types_get_nothing(subscription):
    WebhookSubscription.objects.create(
        name="off", url=URL, event_types=["contact.do_not_call"], active=False
    )
    assert crm_webhook_event_emit(event_type="campaign.completed", data={"campaign": {}}) == []
    deliveries = crm_webhook_event_emit(event_type="contact.do_not_call", data=DNC_DATA)
    assert [d.subscription for d in deliveries] == [subscription]
    assert WebhookDelivery.objects.count() == 1


def test_unknown_event_type_is_refused(subscription):
    with pytest.raises(ValidationError):
        crm_webhook_event_emit(event_type="call.teleported", data={})


def test_subscription_url_must_be_http_or_https():
    subscription = WebhookSubscription(name="x", url="ftp://crm.example/", event_types=["x"])
    with pytest.raises(ValidationError) as error:
        subscription.full_clean()
    assert "url" in error.value.message_dict
    assert "event_types" in error.value.message_dict


def test_secret_is_generated_when_not_given():
    one = WebhookSubscription.objects.create(name="a", url=URL, event_types=["call.started"])
    two = WebhookSubscription.objects.create(name="b", url=URL, event_types=["call.started"])
    assert len(one.secret) > 30 and one.secret != two.secret


# -- delivering -------------------------------------------------------------------------------


@respx.mock
def test_2xx_is_delivered_signed_with_one_attempt(subscription):
    route = respx.post(SENT_TO).mock(return_value=httpx.Response(204))
    delivery = _emit()

    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    request = route.calls.last.request
    # Sent to the checked address, for the name: Host header and TLS (SNI, certificate check).
    assert request.headers["Host"] == "crm.example"
    assert request.extensions["sni_hostname"] == "crm.example"
    body = request.content
    timestamp = request.headers["X-Contactcenter-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.{body.decode()}".encode(), hashlib.sha256)
    assert request.headers["X-Contactcenter-Signature"] == f"v1={expected.hexdigest()}"
    assert abs(int(timestamp) - timezone.now().timestamp()) < 60
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Contactcenter-Event"] == "contact.do_not_call"
    assert request.headers["X-Contactcenter-Delivery"] == str(delivery.pk)
    sent = json.loads(body)
    assert sent["id"] == str(delivery.event_id)
    assert sent["type"] == "contact.do_not_call"
    assert sent["data"] == DNC_DATA
    assert sent["created_at"]

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.delivered_at is not None
    assert delivery.attempts == 1 and delivery.last_status_code == 204
    (attempt,) = WebhookDeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code == 204 and attempt.error == ""
    # A second copy of the task sends nothing.
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    assert route.call_count == 1


@respx.mock
def test_wrong_secret_does_not_verify(subscription):
    route = respx.post(SENT_TO).mock(return_value=httpx.Response(200))
    delivery_attempt(delivery_id=_emit().pk)
    request = route.calls.last.request
    timestamp = request.headers["X-Contactcenter-Timestamp"]
    forged = hmac.new(b"other", f"{timestamp}.".encode() + request.content, hashlib.sha256)
    assert request.headers["X-Contactcenter-Signature"] != f"v1={forged.hexdigest()}"


@respx.mock
def test_500_then_200_is_retried_with_backoff_then_delivered(
    subscription, django_capture_on_commit_callbacks
):
    route = respx.post(SENT_TO).mock(
        side_effect=[httpx.Response(500), httpx.Response(503), httpx.Response(200)]
    )
    delivery = _emit()

    with (
        mock.patch.object(deliver_webhook, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    apply_async.assert_called_once_with((delivery.pk,), countdown=30)
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    assert delivery.last_status_code == 500
    # Not due yet: a task arriving early sends nothing.
    assert delivery_attempt(delivery_id=delivery.pk) == "not_due"
    assert route.call_count == 1

    _make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - timezone.now()
    assert second_wait > first_wait and second_wait > timedelta(seconds=100)

    _make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    codes = list(delivery.attempt_rows.values_list("status_code", flat=True))
    assert codes == [500, 503, 200]


@respx.mock
def test_404_fails_at_once_without_retry(subscription):
    route = respx.post(SENT_TO).mock(return_value=httpx.Response(404, text="no such hook"))
    delivery = _emit()

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.last_status_code == 404
    assert delivery.last_error == "HTTP 404 Not Found"  # ours: never the receiver's body
    assert deliveries_retry_due(now=timezone.now() + timedelta(days=1)) == 0
    assert route.call_count == 1
    assert delivery.attempt_rows.count() == 1


@respx.mock
def test_redirect_is_not_followed(subscription):
    respx.post(SENT_TO).mock(return_value=httpx.Response(302, headers={"Location": "https://x/"}))
    other = respx.post("https://x/").mock(return_value=httpx.Response(200))
    assert delivery_attempt(delivery_id=_emit().pk) == "failed"
    assert other.call_count == 0


@respx.mock
def test_timeout_is_retried(subscription):
    respx.post(SENT_TO).mock(side_effect=httpx.ReadTimeout("slow"))
    delivery = _emit()

    assert delivery_attempt(delivery_id=delivery.pk) == "pending"

    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now()
    (attempt,) = delivery.attempt_rows.all()
    assert attempt.status_code is None and "timeout" in attempt.error


@respx.mock
def test_connection_error_is_retried(subscription):
    respx.post(SENT_TO).mock(side_effect=httpx.ConnectError("refused"))
    assert delivery_attempt(delivery_id=_emit().pk) == "pending"


@respx.mock
def test_failed_after_the_last_attempt(subscription):
    route = respx.post(SENT_TO).mock(return_value=httpx.Response(502))
    delivery = _emit()
    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        assert delivery_attempt(delivery_id=delivery.pk) == "pending"
        delivery.refresh_from_db()
        waits.append(delivery.next_attempt_at - timezone.now())
        _make_due(delivery)
    assert waits == sorted(waits)  # exponential backoff: each wait longer

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == 6
    assert delivery.attempt_rows.count() == MAX_ATTEMPTS
    assert route.call_count == MAX_ATTEMPTS
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    assert route.call_count == MAX_ATTEMPTS


@respx.mock
def test_redeliver_starts_a_new_series(subscription, django_capture_on_commit_callbacks):
    route = respx.post(SENT_TO).mock(side_effect=[httpx.Response(410), httpx.Response(200)])
    delivery = _emit()
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    with (
        mock.patch.object(deliver_webhook, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        delivery_redeliver(delivery_id=delivery.pk)
    delay.assert_called_once_with(delivery.pk)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    delivery.refresh_from_db()
    assert delivery.attempts == 1  # a new series
    assert delivery.attempt_rows.count() == 2  # the history stays
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first == second  # the same event, same id

    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="pending")
    with pytest.raises(ValidationError):  # while pending it is being sent already
        delivery_redeliver(delivery_id=delivery.pk)


def test_retry_due_enqueues_only_due_pending_deliveries(subscription):
    due = _emit()
    later = _emit()
    WebhookDelivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    done = _emit()
    WebhookDelivery.objects.filter(pk=done.pk).update(status="delivered")

    with mock.patch.object(deliver_webhook, "delay") as delay:
        assert deliveries_retry_due() == 1
    delay.assert_called_once_with(due.pk)


def test_deliver_task_of_a_missing_delivery_is_a_no_op():
    assert deliver_webhook.run(123456789) == "missing"


# -- the events -------------------------------------------------------------------------------


@pytest.fixture
def queued_call(caller_number, agent_profile):
    from telephony.services.calls import call_create

    return call_create(
        to_number="+14155550150",
        caller_id=caller_number,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
        # A single call placed through the API may carry any labels, these included.
        labels={"campaign_id": "7", "contact_id": "42"},
    )


def _transition(call, target, django_capture_on_commit_callbacks, **kwargs):
    from telephony.models import Call
    from telephony.services.calls import call_transition

    with (
        mock.patch.object(deliver_webhook, "delay") as delay,
        mock.patch("campaigns.tasks.record_call_outcome.delay"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        locked = Call.objects.select_for_update().get(pk=call.pk)
        assert call_transition(locked, target, source="webhook", **kwargs)
    return delay


def test_call_transitions_emit_call_events(
    subscription, queued_call, django_capture_on_commit_callbacks
):
    subscription.event_types = ["call.started", "call.answered", "call.completed"]
    subscription.save()

    delay = _transition(queued_call, "dialing", django_capture_on_commit_callbacks)
    (started,) = WebhookDelivery.objects.filter(event_type="call.started")
    delay.assert_called_once_with(started.pk)
    _transition(queued_call, "ringing", django_capture_on_commit_callbacks)  # no event
    _transition(queued_call, "answered", django_capture_on_commit_callbacks)
    delay = _transition(
        queued_call, "completed", django_capture_on_commit_callbacks, detail="callee hung up"
    )

    types = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["call.started", "call.answered", "call.completed"]
    completed = WebhookDelivery.objects.get(event_type="call.completed")
    delay.assert_called_once_with(completed.pk)
    call = completed.payload["data"]["call"]
    assert call["id"] == str(queued_call.pk)
    assert call["status"] == "completed"
    # Not a campaign call, whatever its labels say.
    assert call["campaign_id"] is None and call["contact_id"] is None
    assert call["to_number"] == "+14155550150" and call["from_number"] == "+14155550100"
    assert call["end_reason"] == "callee hung up"
    assert call["answered_at"] and call["ended_at"] and call["duration_seconds"] is not None


@pytest.fixture
def campaign_call(caller_number, agent_profile):
    """A call made for a campaign contact, whose labels claim another campaign and contact."""
    from campaigns.models import Campaign, CampaignAttempt, CampaignContact, Contact, ContactList
    from telephony.services.calls import call_create

    contact = Contact.objects.create(
        contact_list=ContactList.objects.create(name="Renewals"), phone="+14155550150"
    )
    campaign = Campaign.objects.create(
        name="Renewals", agent_profile=agent_profile, status=Campaign.Status.RUNNING
    )
    entry = CampaignContact.objects.create(campaign=campaign, contact=contact)
    call = call_create(
        to_number=contact.phone,
        caller_id=caller_number,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
        labels={"campaign_id": str(campaign.pk + 100), "contact_id": str(contact.pk + 100)},
    )
    CampaignAttempt.objects.create(campaign_contact=entry, campaign=campaign, call=call, number=1)
    return call


def test_campaign_and_contact_come_from_the_campaign_attempt_not_the_labels(
    subscription, campaign_call, django_capture_on_commit_callbacks
):
    _transition(campaign_call, "busy", django_capture_on_commit_callbacks)

    (delivery,) = WebhookDelivery.objects.all()
    attempt = campaign_call.campaign_attempt
    sent = delivery.payload["data"]["call"]
    assert sent["campaign_id"] == attempt.campaign_id
    assert sent["contact_id"] == attempt.campaign_contact.contact_id


def test_a_campaign_call_costs_no_more_queries_to_emit_than_a_single_call(
    subscription, campaign_call, queued_call
):
    from contactcenter.crm_webhooks.receivers import on_call_status_changed

    def queries_to_emit(call) -> int:
        with CaptureQueriesContext(connection) as captured:
            on_call_status_changed(sender=None, call_ids=[str(call.pk)], status="completed")
        return len(captured)

    with mock.patch.object(deliver_webhook, "delay"):
        single, campaign = queries_to_emit(queued_call), queries_to_emit(campaign_call)
    assert WebhookDelivery.objects.count() == 2
    assert campaign == single  # the attempt and its contact come with the call, in one query


def test_a_status_change_no_subscription_wants_costs_one_query_and_no_transaction(queued_call):
    """Every status change of every call asks; with no subscriber, it is one read."""
    from contactcenter.crm_webhooks.receivers import on_call_status_changed

    WebhookSubscription.objects.create(name="Other", url=URL, secret=SECRET,
                                       event_types=["contact.do_not_call"])  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        on_call_status_changed(sender=None, call_ids=[str(queued_call.pk)], status="completed")

    assert [query["sql"].split()[0] for query in captured] == ["SELECT"]
    assert not WebhookDelivery.objects.exists()


def test_an_unanswered_end_is_call_completed_with_its_status(
    subscription, queued_call, django_capture_on_commit_callbacks
):
    _transition(queued_call, "busy", django_capture_on_commit_callbacks)
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "call.completed"
    assert delivery.payload["data"]["call"]["status"] == "busy"
    assert delivery.payload["data"]["call"]["answered_at"] is None


def test_a_rolled_back_transition_emits_nothing(
    subscription, queued_call, django_capture_on_commit_callbacks
):
    from telephony.models import Call
    from telephony.services.calls import call_transition

    with (
        django_capture_on_commit_callbacks(execute=True),
        mock.patch.object(deliver_webhook, "delay"),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        locked = Call.objects.select_for_update().get(pk=queued_call.pk)
        call_transition(locked, "answered", source="webhook")
        raise RuntimeError("rolled back")
    assert not WebhookDelivery.objects.exists()


def test_dnc_add_emits_contact_do_not_call(subscription, django_capture_on_commit_callbacks):
    from campaigns.services.dnc import dnc_add

    with (
        mock.patch.object(deliver_webhook, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        dnc_add(phone="+1 415 555 0177", reason="Asked not to be called", source="staff")
    (delivery,) = WebhookDelivery.objects.all()
    delay.assert_called_once_with(delivery.pk)
    assert delivery.event_type == "contact.do_not_call"
    assert delivery.payload["data"] == {
        "phone": "+14155550177",
        "reason": "Asked not to be called",
        "source": "staff",
    }


def test_campaign_completed_emits_with_progress(agent_profile, django_capture_on_commit_callbacks):
    from campaigns.models import Campaign
    from campaigns.services.campaigns import _transition as campaign_transition

    WebhookSubscription.objects.create(name="CRM", url=URL, event_types=["campaign.completed"])
    campaign = Campaign.objects.create(
        name="Reminders", agent_profile=agent_profile, status=Campaign.Status.RUNNING
    )
    with (
        mock.patch.object(deliver_webhook, "delay"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        campaign_transition(campaign, Campaign.Status.COMPLETED)
    (delivery,) = WebhookDelivery.objects.all()
    data = delivery.payload["data"]["campaign"]
    assert data["id"] == campaign.pk and data["name"] == "Reminders"
    assert data["status"] == "completed"
    assert data["progress"]["campaign"] == campaign.pk


def test_a_failing_emit_does_not_break_the_sender(
    subscription, queued_call, django_capture_on_commit_callbacks
):
    with mock.patch(
        "contactcenter.crm_webhooks.receivers.call_event_data", side_effect=RuntimeError("boom")
    ):
        _transition(queued_call, "answered", django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()
    queued_call.refresh_from_db()
    assert queued_call.status == "answered"


# -- the admin --------------------------------------------------------------------------------


def test_admin_shows_a_generated_secret_once_and_never_again(admin_client):
    response = admin_client.post(
        reverse("admin:contactcenter_webhooksubscription_add"),
        {"name": "CRM", "url": URL, "new_secret": "", "event_types": ["call.completed"],
         "active": "on"},
        follow=True,
    )  # fmt: skip
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret in response.content.decode()  # shown once, in the answer

    for url in (
        reverse("admin:contactcenter_webhooksubscription_changelist"),
        reverse("admin:contactcenter_webhooksubscription_change", args=[subscription.pk]),
    ):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert subscription.secret not in page.content.decode()


def test_admin_keeps_the_secret_when_left_empty_and_sets_a_new_one(admin_client, subscription):
    change = reverse("admin:contactcenter_webhooksubscription_change", args=[subscription.pk])
    form = {"name": "CRM 2", "url": URL, "event_types": ["call.answered"], "active": "on"}

    admin_client.post(change, {**form, "new_secret": ""})
    subscription.refresh_from_db()
    assert subscription.name == "CRM 2" and subscription.secret == SECRET

    response = admin_client.post(change, {**form, "new_secret": "a-brand-new-secret-value"})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.secret == "a-brand-new-secret-value"
    assert "a-brand-new-secret-value" not in admin_client.get(change).content.decode()


@respx.mock
def test_admin_delivery_page_and_redeliver_action(admin_client, subscription):
    respx.post(SENT_TO).mock(return_value=httpx.Response(500))
    delivery = _emit()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    WebhookDeliveryAttempt.objects.create(delivery=delivery, status_code=500, error="HTTP 500")

    page = admin_client.get(
        reverse("admin:contactcenter_webhookdelivery_change", args=[delivery.pk])
    )
    assert page.status_code == 200
    assert "HTTP 500" in page.content.decode()
    assert SECRET not in page.content.decode()
    listing = admin_client.get(
        reverse("admin:contactcenter_webhookdelivery_changelist"), {"status__exact": "failed"}
    )
    assert listing.status_code == 200

    with mock.patch.object(deliver_webhook, "delay"):
        admin_client.post(
            reverse("admin:contactcenter_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 0


def test_staff_who_may_only_view_deliveries_cannot_redeliver(
    client, django_user_model, subscription
):
    delivery = _emit()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=3)
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    changelist = reverse("admin:contactcenter_webhookdelivery_changelist")

    page = client.get(changelist).content.decode()
    with mock.patch.object(deliver_webhook, "delay") as delay:
        client.post(changelist, {"action": "redeliver", "_selected_action": [delivery.pk]})

    assert "Redeliver selected deliveries" not in page
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert not delay.called


def test_a_placement_batch_sends_call_started_for_each_call_reading_subscriptions_once(
    imported_caller, agent_profile, simulator, django_capture_on_commit_callbacks
):
    from telephony.services.calls import call_create, calls_place

    WebhookSubscription.objects.create(
        name="CRM", url=URL, secret=SECRET, event_types=["call.started"]
    )
    calls = [
        call_create(
            to_number=f"+1415555{number:04d}",
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
        )
        for number in range(200, 204)
    ]
    with (
        mock.patch.object(deliver_webhook, "delay"),
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),  # run before the capture ends
    ):
        calls_place([str(call.pk) for call in calls])

    sent = {
        delivery.payload["data"]["call"]["id"]: delivery.event_type
        for delivery in WebhookDelivery.objects.all()
    }
    assert sent == {str(call.pk): "call.started" for call in calls}
    reads = [q for q in captured if WebhookSubscription._meta.db_table in q["sql"]]
    assert len(reads) == 1
