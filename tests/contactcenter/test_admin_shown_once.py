"""A new API key or webhook signing secret is shown once, in the page that answers the save:
never in Django's messages (a cookie), the session, or any later page."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from contactcenter.crm_webhooks.models import WebhookSubscription
from contactcenter.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def crm_on_the_internet(fake_dns):
    fake_dns["crm.example"] = ["93.184.215.14"]  # a public address: a webhook may go there


def assert_shown_once(admin_client, response, value: str, later_pages: list[str]) -> None:
    assert response.status_code == 200
    assert value in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    # not in any cookie set by the answer, nor in the browser's jar, nor in the session
    assert all(value not in morsel.value for morsel in response.cookies.values())
    assert "messages" not in response.cookies
    assert all(value not in morsel.value for morsel in admin_client.cookies.values())
    assert value not in str(dict(admin_client.session))
    for url in later_pages:
        page = admin_client.get(url)
        assert page.status_code == 200
        assert value not in page.content.decode()


@pytest.mark.parametrize("button", ["_save", "_continue", "_addanother"])
def test_a_new_api_key_is_shown_once_in_the_answer(admin_client, button):
    response = admin_client.post(
        reverse("admin:contactcenter_apikey_add"),
        {"name": "CRM", "scopes": ["numbers:read"], button: "Save"},
    )

    key = response.context["value"]
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == ApiKey.hash(key)
    assert_shown_once(
        admin_client,
        response,
        key,
        [
            reverse("admin:contactcenter_apikey_changelist"),
            reverse("admin:contactcenter_apikey_change", args=[api_key.pk]),
            reverse("admin:index"),
        ],
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/phone-numbers/").status_code == 200


def test_a_generated_webhook_secret_is_shown_once_in_the_answer(admin_client):
    response = admin_client.post(
        reverse("admin:contactcenter_webhooksubscription_add"),
        {"name": "CRM", "url": "https://crm.example/hooks", "new_secret": "",
         "event_types": ["call.completed"], "active": "on", "_save": "Save"},
    )  # fmt: skip

    subscription = WebhookSubscription.objects.get()
    assert subscription.secret.startswith("whsec_")
    assert_shown_once(
        admin_client,
        response,
        subscription.secret,
        [
            reverse("admin:contactcenter_webhooksubscription_changelist"),
            reverse("admin:contactcenter_webhooksubscription_change", args=[subscription.pk]),
            reverse("admin:index"),
        ],
    )


def test_a_typed_webhook_secret_is_not_shown_back(admin_client):
    response = admin_client.post(
        reverse("admin:contactcenter_webhooksubscription_add"),
        {"name": "CRM", "url": "https://crm.example/hooks", "new_secret": "typed-secret-123456",
         "event_types": ["call.completed"], "active": "on", "_save": "Save"},
        follow=True,
    )  # fmt: skip

    assert response.status_code == 200
    assert "typed-secret-123456" not in response.content.decode()
    assert WebhookSubscription.objects.get().secret == "typed-secret-123456"
