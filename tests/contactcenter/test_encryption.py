"""Secrets at rest: every write path stores ciphertext (read back here with SQL), every reader
gets plaintext, keys rotate, and the data migration encrypts rows written before."""

import io
import json

import httpx
import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from contactcenter.bulk import bulk_update_rows
from contactcenter.crm_webhooks.models import WebhookSubscription
from contactcenter.encryption import UndecryptableSecret
from contactcenter.models import ApiKey, ApiScope
from telephony.agora import AgoraClient, AgoraConfig
from telephony.clients import use_agora_client
from telephony.models import AgentProfile, PhoneNumber
from telephony.services.calls import call_create, call_place
from telephony.services.numbers import phone_number_create, phone_number_push
from telephony.simulator import sim_transport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def crm_on_the_internet(fake_dns):
    fake_dns["crm.example"] = ["93.184.215.14"]  # a public address: a webhook may go there


SIP_PASSWORD = "sip-trunk-password-4242"
LLM_KEY = "sk-llm-at-rest-1234567890"
TTS_KEY = "tts-key-at-rest-0987654321"
WEBHOOK_SECRET = "crm-signing-secret-at-rest"
PROPERTIES = {
    "llm": {"url": "https://llm.example/v1", "api_key": LLM_KEY, "params": {"model": "gpt-x"}},
    "tts": {"vendor": "microsoft", "params": {"key": TTS_KEY, "voice_name": "en-US"}},
    "asr": {"language": "en-US"},
}


def raw(table: str, column: str, pk) -> str:
    """The column as the database holds it, read with SQL (past every model field)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column}::text FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def assert_encrypted(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert "fernet:" in text


@pytest.fixture
def key_client(db) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue(name='CRM', scopes=ApiScope.values)[1]}"
    )
    return client


def number_form(**overrides) -> dict[str, str]:
    return {
        "e164": "+14155550123", "label": "Sales", "provider": "byo", "inbound": "on",
        "outbound": "on", "inbound_allowed_addresses": "", "inbound_pipeline_id": "",
        "outbound_address": "sip.carrier.example", "outbound_transport": "tls",
        "outbound_prefix": "", "outbound_user": "acme", "outbound_password": SIP_PASSWORD,
        "outbound_pipeline_id": "", "_save": "Save", **overrides,
    }  # fmt: skip


# -- every write path stores ciphertext -------------------------------------------------------


def test_sip_password_from_the_service_is_encrypted_in_the_column():
    number = phone_number_create(
        e164="+14155550123",
        label="Sales",
        outbound_address="sip.carrier.example",
        outbound_user="acme",
        outbound_password=SIP_PASSWORD,
    )

    assert_encrypted(raw("telephony_phonenumber", "outbound_password", number.pk), SIP_PASSWORD)
    assert PhoneNumber.objects.get(pk=number.pk).outbound_password == SIP_PASSWORD


def test_sip_password_from_the_admin_is_encrypted_in_the_column(admin_client):
    response = admin_client.post(reverse("admin:telephony_phonenumber_add"), number_form())

    assert response.status_code == 302
    number = PhoneNumber.objects.get()
    assert_encrypted(raw("telephony_phonenumber", "outbound_password", number.pk), SIP_PASSWORD)


def test_sip_password_from_the_api_is_encrypted_in_the_column(key_client):
    created = key_client.post(
        "/api/v1/phone-numbers/",
        {"e164": "+14155550123", "label": "Sales", "outbound_address": "sip.carrier.example",
         "outbound_user": "acme", "outbound_password": SIP_PASSWORD},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = key_client.patch(
        f"/api/v1/phone-numbers/{pk}/", {"outbound_password": "a-new-sip-password"}, format="json"
    )

    assert changed.status_code == 200, changed.content
    stored = raw("telephony_phonenumber", "outbound_password", pk)
    assert_encrypted(stored, SIP_PASSWORD, "a-new-sip-password")
    assert PhoneNumber.objects.get(pk=pk).outbound_password == "a-new-sip-password"


def test_queryset_update_and_bulk_update_encrypt_too():
    number = PhoneNumber.objects.create(e164="+14155550123", label="Sales")

    PhoneNumber.objects.filter(pk=number.pk).update(outbound_password=SIP_PASSWORD)
    assert_encrypted(raw("telephony_phonenumber", "outbound_password", number.pk), SIP_PASSWORD)

    number.outbound_password = "bulk-updated-password"
    PhoneNumber.objects.bulk_update([number], ["outbound_password"])
    stored = raw("telephony_phonenumber", "outbound_password", number.pk)
    assert_encrypted(stored, "bulk-updated-password")
    assert PhoneNumber.objects.values_list("outbound_password", flat=True).get() == (
        "bulk-updated-password"
    )

    number.outbound_password = "updated-by-values-list"
    assert bulk_update_rows([number], ["outbound_password"]) == 1  # our one-statement update
    stored = raw("telephony_phonenumber", "outbound_password", number.pk)
    assert_encrypted(stored, "updated-by-values-list")
    assert PhoneNumber.objects.values_list("outbound_password", flat=True).get() == (
        "updated-by-values-list"
    )


def test_an_empty_password_stays_empty():
    number = PhoneNumber.objects.create(e164="+14155550123", label="Sales")

    assert raw("telephony_phonenumber", "outbound_password", number.pk) == ""


def test_agent_secrets_are_encrypted_and_the_rest_stays_readable(admin_client, key_client):
    # given: one profile from each entry point
    AgentProfile.objects.create(name="orm", properties=PROPERTIES)
    admin_client.post(
        reverse("admin:telephony_agentprofile_add"),
        {"name": "admin", "description": "", "pipeline_id": "", "greeting_template": "",
         "system_prompt_template": "", "properties": json.dumps(PROPERTIES)},
    )  # fmt: skip
    created = key_client.post(
        "/api/v1/agents/", {"name": "api", "properties": PROPERTIES}, format="json"
    )
    assert created.status_code == 201, created.content

    for profile in AgentProfile.objects.all():
        stored = json.loads(raw("telephony_agentprofile", "properties", profile.pk))
        # then: secrets are ciphertext, everything else is the JSON as entered
        assert_encrypted(json.dumps(stored), LLM_KEY, TTS_KEY)
        assert stored["llm"]["url"] == "https://llm.example/v1"
        assert stored["tts"]["params"]["voice_name"] == "en-US"
        assert stored["llm"]["api_key"].startswith("fernet:")
        assert profile.properties == PROPERTIES


def test_secret_values_of_any_json_type_come_back_as_they_were():
    properties = {"mcp": [{"url": "https://x.example", "credentials": {"user": "u", "pin": 42}}]}
    profile = AgentProfile.objects.create(name="typed", properties=properties)

    stored = raw("telephony_agentprofile", "properties", profile.pk)
    assert '"pin"' not in stored
    profile.refresh_from_db()
    assert profile.properties == properties


def test_webhook_secrets_from_the_admin_and_the_api_are_encrypted(admin_client, key_client):
    admin_client.post(
        reverse("admin:contactcenter_webhooksubscription_add"),
        {"name": "generated", "url": "https://crm.example/hooks", "new_secret": "",
         "event_types": ["call.completed"], "active": "on"},
    )  # fmt: skip
    created = key_client.post(
        "/api/v1/webhook-subscriptions/",
        {"name": "given", "url": "https://crm.example/hooks", "secret": WEBHOOK_SECRET,
         "event_types": ["call.completed"]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content

    subscriptions = list(WebhookSubscription.objects.order_by("name"))
    assert [s.name for s in subscriptions] == ["generated", "given"]
    for subscription in subscriptions:
        stored = raw("contactcenter_webhooksubscription", "secret", subscription.pk)
        assert_encrypted(stored, subscription.secret)
    assert subscriptions[1].secret == WEBHOOK_SECRET


def test_an_encrypted_column_cannot_be_searched():
    with pytest.raises(FieldError, match="is encrypted"):
        list(PhoneNumber.objects.filter(outbound_password=SIP_PASSWORD))
    with pytest.raises(FieldError, match="is encrypted"):
        list(WebhookSubscription.objects.filter(secret__startswith="whsec_"))
    assert not PhoneNumber.objects.filter(outbound_password__isnull=True).exists()


# -- every reader gets plaintext ----------------------------------------------------------------


class RecordingTransport(httpx.BaseTransport):
    """The simulator's transport, keeping every request body sent to it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.bodies: list[dict] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        self.bodies.append(json.loads(content) if content else {})
        return self.inner.handle_request(request)


@pytest.fixture
def sent(settings, simulator, agora) -> RecordingTransport:
    """Replaces `agora`'s client (set up first) with one that records what it sends."""
    transport = RecordingTransport(sim_transport(simulator))
    client = AgoraClient(
        AgoraConfig.from_mapping(settings), transport=transport, sleep=lambda _: None
    )
    with client, use_agora_client(client):
        yield transport


def test_pushing_a_number_sends_agora_the_plaintext_password(sent):
    number = phone_number_create(
        e164="+14155550123",
        label="Sales",
        outbound_address="sip.carrier.example",
        outbound_user="acme",
        outbound_password=SIP_PASSWORD,
    )

    assert phone_number_push(number_id=number.pk).startswith("imported")

    [imported] = [body for body in sent.bodies if body.get("phone_number") == number.e164]
    assert imported["outbound_config"]["password"] == SIP_PASSWORD


def test_placing_a_call_sends_agora_the_plaintext_agent_keys(sent, imported_caller):
    profile = AgentProfile.objects.create(name="Full", properties=PROPERTIES)
    call = call_create(to_number="+14155550150", caller_id=imported_caller, agent_profile=profile)

    assert call_place(call_id=call.id) == "placed"

    [placed] = [body for body in sent.bodies if "properties" in body]
    assert placed["properties"]["llm"]["api_key"] == LLM_KEY
    assert placed["properties"]["tts"]["params"]["key"] == TTS_KEY


# -- keys: rotation, unknown keys ---------------------------------------------------------------


def test_rotation_reencrypts_every_secret_with_the_first_key(settings):
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    number = PhoneNumber.objects.create(e164="+14155550123", label="S", outbound_password="pw-1")
    profile = AgentProfile.objects.create(name="Full", properties=PROPERTIES)
    subscription = WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example", secret=WEBHOOK_SECRET, event_types=["call.started"]
    )
    before = raw("telephony_phonenumber", "outbound_password", number.pk)

    # a new key first, the old one still listed: old ciphertext still reads
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert PhoneNumber.objects.get(pk=number.pk).outbound_password == "pw-1"
    output = io.StringIO()
    call_command("reencrypt_secrets", stdout=output)

    assert raw("telephony_phonenumber", "outbound_password", number.pk) != before
    assert "telephony.PhoneNumber (outbound_password): 1 row(s)" in output.getvalue()
    # the old key dropped: everything still reads
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert PhoneNumber.objects.get(pk=number.pk).outbound_password == "pw-1"
    assert AgentProfile.objects.get(pk=profile.pk).properties == PROPERTIES
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == WEBHOOK_SECRET


def test_an_unknown_key_is_a_clear_error_that_names_no_secret(settings):
    number = PhoneNumber.objects.create(e164="+14155550123", label="S", outbound_password="pw-1")
    AgentProfile.objects.create(name="Full", properties=PROPERTIES)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(UndecryptableSecret) as caught:
        PhoneNumber.objects.get(pk=number.pk)
    message = str(caught.value)
    assert "telephony.PhoneNumber.outbound_password" in message
    assert "FIELD_ENCRYPTION_KEYS" in message
    assert "pw-1" not in message and "fernet:" not in message

    with pytest.raises(UndecryptableSecret) as caught:
        AgentProfile.objects.get()
    assert "telephony.AgentProfile.properties (api_key)" in str(caught.value)
    assert LLM_KEY not in str(caught.value)
