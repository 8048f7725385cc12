"""CRM webhooks cannot reach inside the network (SSRF): at creation (API, admin), at every
delivery, and nothing of a receiver's answer is kept.

URLs with an IP address or `localhost` go through the real resolver (no query leaves the
machine); other names through `fake_dns`. Receivers on this machine are opened explicitly, as an
operator would open an on-premises CRM (`open_to_this_machine`).
"""

import importlib

import httpx
import pytest
import respx
from django.apps import apps as django_apps
from django.urls import reverse
from rest_framework.test import APIClient

from contactcenter.crm_webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)
from contactcenter.crm_webhooks.services import (
    crm_webhook_event_emit,
    deliveries_retry_due,
    delivery_attempt,
)
from contactcenter.models import ApiKey, ApiScope

pytestmark = pytest.mark.django_db

PUBLIC_ADDRESS = "93.184.215.14"
DNC_DATA = {"phone": "+14155550199", "reason": "asked", "source": "staff"}
INTERNAL_SECRET = "db-password=hunter2"

# (case, URL, what DNS answers for its name (None: the real resolver), the reason given)
REFUSED = [
    ("loopback", "https://127.0.0.1/hooks", None, "a loopback address"),
    ("loopback-v6", "https://[::1]/hooks", None, "a loopback address"),
    ("localhost-by-name", "https://localhost/hooks", None, "a loopback address"),
    ("private-10", "https://10.0.0.5/hooks", None, "a private address"),
    ("private-172", "https://172.16.3.4/hooks", None, "a private address"),
    ("private-192", "https://192.168.1.20/hooks", None, "a private address"),
    ("private-v6", "https://[fd12:3456::1]/hooks", None, "a private address"),
    ("shared-carrier-nat", "https://100.64.0.1/hooks", None, "an address that is not public"),
    ("metadata", "https://169.254.169.254/latest/meta-data/", None, "a cloud metadata address"),
    ("link-local", "https://169.254.10.20/hooks", None, "a link-local address"),
    ("link-local-v6", "https://[fe80::1]/hooks", None, "a link-local address"),
    ("multicast", "https://224.0.0.1/hooks", None, "a multicast address"),
    ("multicast-v6", "https://[ff02::1]/hooks", None, "a multicast address"),
    ("reserved", "https://240.0.0.1/hooks", None, "a reserved address"),
    ("unspecified", "https://0.0.0.0/hooks", None, "an unspecified address"),
    ("unspecified-v6", "https://[::]/hooks", None, "an unspecified address"),
    ("ipv4-mapped-loopback", "https://[::ffff:127.0.0.1]/hooks", None, "a loopback address"),
    ("ipv4-mapped-metadata", "https://[::ffff:169.254.169.254]/", None, "a cloud metadata"),
    ("nat64-private", "https://[64:ff9b::a00:5]/hooks", None, "a private address"),
    ("6to4-loopback", "https://[2002:7f00:1::]/hooks", None, "a loopback address"),
    (
        "name-resolving-private",
        "https://intranet.example/hooks",
        {"intranet.example": ["10.1.2.3"]},
        "a private address",
    ),
    (
        "name-resolving-public-and-private",
        "https://mixed.example/hooks",
        {"mixed.example": [PUBLIC_ADDRESS, "192.168.0.10"]},
        "a private address",
    ),
    ("port-not-allowed", f"https://{PUBLIC_ADDRESS}:8443/hooks", None, "Port 8443 is not allowed"),
    ("http-with-debug-off", f"http://{PUBLIC_ADDRESS}/hooks", None, "Use an https:// URL"),
    ("credentials", f"https://crm:hunter2@{PUBLIC_ADDRESS}/hooks", None, "credentials"),
]
REFUSED_CASES = [pytest.param(url, names, reason, id=case) for case, url, names, reason in REFUSED]


def use_names(request, names: dict | None) -> None:
    if names:
        dns = request.getfixturevalue("fake_dns")
        for name, addresses in names.items():
            dns[name] = addresses


def _subscribe(url: str) -> WebhookSubscription:
    """A subscription stored as it was before these rules (or before its name moved)."""
    return WebhookSubscription.objects.create(
        name="CRM", url=url, secret="s" * 32, event_types=["contact.do_not_call"]
    )


def _emit() -> WebhookDelivery:
    (delivery,) = crm_webhook_event_emit(event_type="contact.do_not_call", data=DNC_DATA)
    return delivery


# -- at creation: the API and the admin -------------------------------------------------------


@pytest.fixture
def api_client() -> APIClient:
    client = APIClient()
    _, key = ApiKey.issue(name="CRM", scopes=[ApiScope.WEBHOOKS_READ, ApiScope.WEBHOOKS_ADMIN])
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.mark.parametrize(("url", "names", "reason"), REFUSED_CASES)
def test_the_api_refuses_an_internal_destination(request, api_client, url, names, reason):
    use_names(request, names)

    response = api_client.post(
        "/api/v1/webhook-subscriptions/",
        {"name": "CRM", "url": url, "event_types": ["call.completed"]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert reason in " ".join(response.json()["error"]["fields"]["url"])
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(("url", "names", "reason"), REFUSED_CASES)
def test_the_admin_refuses_an_internal_destination(request, admin_client, url, names, reason):
    use_names(request, names)

    response = admin_client.post(
        reverse("admin:contactcenter_webhooksubscription_add"),
        {"name": "CRM", "url": url, "new_secret": "", "event_types": ["call.completed"],
         "active": "on"},
    )  # fmt: skip

    assert response.status_code == 200  # the form again, with the error
    assert reason in " ".join(response.context["adminform"].form.errors["url"])
    assert not WebhookSubscription.objects.exists()


def test_the_api_refuses_moving_a_subscription_inside(api_client, fake_dns):
    fake_dns["crm.example"] = [PUBLIC_ADDRESS]
    subscription = _subscribe("https://crm.example/hooks")

    response = api_client.patch(
        f"/api/v1/webhook-subscriptions/{subscription.pk}/",
        {"url": "https://[::ffff:169.254.169.254]/latest/meta-data/"},
        format="json",
    )

    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]
    subscription.refresh_from_db()
    assert subscription.url == "https://crm.example/hooks"


def test_an_operator_can_open_an_on_premises_crm(api_client, settings, fake_dns):
    fake_dns["crm.corp.example"] = ["10.20.3.4"]
    url = "https://crm.corp.example/hooks"
    body = {"name": "CRM", "url": url, "event_types": ["call.completed"]}
    assert api_client.post("/api/v1/webhook-subscriptions/", body, format="json").status_code == 400

    settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]

    assert api_client.post("/api/v1/webhook-subscriptions/", body, format="json").status_code == 201


# -- at every delivery ------------------------------------------------------------------------


@respx.mock  # any request would be answered by no route, and fail the test
@pytest.mark.parametrize(("url", "names", "reason"), REFUSED_CASES)
def test_a_stored_internal_destination_fails_at_once_without_a_request(request, url, names, reason):
    use_names(request, names)
    _subscribe(url)
    delivery = _emit()

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.next_attempt_at is None and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("refused: ") and reason in delivery.last_error
    (attempt,) = delivery.attempt_rows.all()
    assert attempt.error == delivery.last_error
    assert deliveries_retry_due() == 0  # not retried like a 5xx


@respx.mock
def test_a_name_that_now_resolves_inside_is_refused_at_delivery(api_client, fake_dns):
    fake_dns["crm.example"] = [PUBLIC_ADDRESS]
    created = api_client.post(
        "/api/v1/webhook-subscriptions/",
        {"name": "CRM", "url": "https://crm.example/hooks", "event_types": ["contact.do_not_call"]},
        format="json",
    )
    assert created.status_code == 201
    fake_dns["crm.example"] = ["169.254.169.254"]  # its owner moved it

    delivery = _emit()
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.last_error == (
        "refused: The host resolves to a cloud metadata address: webhooks may only go to "
        "public addresses."
    )


@respx.mock
def test_the_connection_goes_to_the_address_checked_not_to_a_second_answer(fake_dns):
    # A rebinding name: public when checked, loopback for whoever asks next.
    fake_dns.answers("crm.example", [PUBLIC_ADDRESS], ["127.0.0.1"])
    route = respx.post(f"https://{PUBLIC_ADDRESS}/hooks").mock(return_value=httpx.Response(200))
    _subscribe("https://crm.example/hooks")

    assert delivery_attempt(delivery_id=_emit().pk) == "delivered"

    assert fake_dns.lookups == ["crm.example"]  # resolved once, for the check
    request = route.calls.last.request
    assert request.url.host == PUBLIC_ADDRESS
    assert request.headers["Host"] == "crm.example"


def test_a_real_delivery_reaches_the_checked_address_with_the_name_as_host(
    fake_dns, local_servers, open_to_this_machine
):
    receiver = local_servers(b"HTTP/1.1 204 No Content\r\n\r\n")
    open_to_this_machine(receiver.port)
    # The second answer points nowhere: a delivery that looked the name up again would fail
    # (and the real resolver does not know the name at all).
    fake_dns.answers("crm.test", ["127.0.0.1"], ["10.255.255.1"])
    _subscribe(f"http://crm.test:{receiver.port}/hooks")

    assert delivery_attempt(delivery_id=_emit().pk) == "delivered"

    assert len(receiver.requests) == 1
    assert receiver.requests[0].startswith(b"POST /hooks HTTP/1.1")
    assert receiver.header(0, "Host") == f"crm.test:{receiver.port}"


# -- what is kept of an answer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (
            b"HTTP/1.1 500 "
            + INTERNAL_SECRET.encode()
            + b"\r\nContent-Length: 19\r\n\r\n"
            + INTERNAL_SECRET.encode(),
            "HTTP 500 Internal Server Error",
        ),
        (
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 19\r\n\r\n" + INTERNAL_SECRET.encode(),
            "HTTP 403 Forbidden",
        ),
        (  # not HTTP at all (e.g. Redis), quoting what was sent
            b"-ERR unknown command 'POST', " + INTERNAL_SECRET.encode() + b"\r\n\r\n",
            "no valid HTTP answer (RemoteProtocolError)",
        ),
    ],
    ids=["5xx-with-body-and-own-phrase", "4xx-with-body", "not-http"],
)
def test_only_a_status_and_a_reason_of_ours_are_kept_never_the_answer(
    local_servers, open_to_this_machine, admin_client, api_client, answer, kept
):  # fmt: skip
    receiver = local_servers(answer)
    open_to_this_machine(receiver.port)
    _subscribe(f"http://127.0.0.1:{receiver.port}/hooks")
    delivery = _emit()

    delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.last_error == kept
    assert delivery.attempt_rows.get().error == kept
    for page in (
        api_client.get(f"/api/v1/webhook-deliveries/{delivery.pk}/"),
        api_client.get("/api/v1/webhook-deliveries/"),
        admin_client.get(reverse("admin:contactcenter_webhookdelivery_change", args=[delivery.pk])),
        admin_client.get(reverse("admin:contactcenter_webhookdelivery_changelist")),
    ):
        assert page.status_code == 200
        assert INTERNAL_SECRET not in page.content.decode()


def test_errors_stored_before_keep_no_answer():
    """The data migration reduces errors stored by earlier versions to reasons of ours."""
    migration = importlib.import_module(
        "contactcenter.migrations.0004_webhook_errors_without_bodies"
    )
    subscription = _subscribe(f"https://{PUBLIC_ADDRESS}/hooks")
    old_errors = {
        (500, f"HTTP 500: {INTERNAL_SECRET}"): "HTTP 500 Internal Server Error",
        (599, f"HTTP 599: {INTERNAL_SECRET}"): "HTTP 599",
        (None, f"RemoteProtocolError: illegal status line: bytearray(b'-ERR {INTERNAL_SECRET}')"):
            "request failed (RemoteProtocolError)",
        (None, "timeout: ReadTimeout"): "timeout: ReadTimeout",
        (None, "The subscription is inactive."): "The subscription is inactive.",
    }  # fmt: skip
    rows = {}
    for (status_code, error), expected in old_errors.items():
        delivery = WebhookDelivery.objects.create(
            subscription=subscription,
            event_type="contact.do_not_call",
            last_status_code=status_code,
            last_error=error,
        )
        attempt = WebhookDeliveryAttempt.objects.create(
            delivery=delivery, status_code=status_code, error=error
        )
        rows[expected] = (delivery, attempt)

    migration.scrub_errors(django_apps, None)

    for expected, (delivery, attempt) in rows.items():
        delivery.refresh_from_db()
        attempt.refresh_from_db()
        assert (delivery.last_error, attempt.error) == (expected, expected)
