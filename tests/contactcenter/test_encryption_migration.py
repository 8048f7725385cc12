"""The data migration encrypts secrets stored in plaintext before it, is safe to run twice, and
reverses to plaintext. Runs the real migrations inside the test's transaction (PostgreSQL's DDL
is transactional, so everything is rolled back after)."""

import importlib
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

BEFORE = [
    ("telephony", "0004_call_dialing_rules"),
    ("contactcenter", "0004_webhook_errors_without_bodies"),
]
AFTER = [("telephony", "0005_encrypt_secrets"), ("contactcenter", "0005_encrypt_webhook_secrets")]
PROPERTIES = {
    "llm": {"url": "https://llm.example/v1", "api_key": "sk-legacy-plaintext-key"},
    "tts": {"vendor": "acme", "params": {"key": "tts-legacy-plaintext-key"}},
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column}::text FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def legacy_rows():
    """Rows written by the code before encryption: plaintext in every column."""
    old = migrate(BEFORE)
    try:
        number = old.get_model("telephony", "PhoneNumber").objects.create(
            e164="+14155550123", label="Sales", outbound_user="acme", outbound_password="sip-pw-1"
        )
        profile = old.get_model("telephony", "AgentProfile").objects.create(
            name="Legacy", properties=PROPERTIES
        )
        subscription = old.get_model("contactcenter", "WebhookSubscription").objects.create(
            name="CRM", url="https://crm.example", secret="whsec_legacy", event_types=["x"]
        )
        assert raw("telephony_phonenumber", "outbound_password", number.pk) == "sip-pw-1"
        yield number.pk, profile.pk, subscription.pk
    finally:
        migrate(AFTER)


def assert_encrypted_and_readable(apps, number_pk, profile_pk, subscription_pk) -> None:
    """`apps`: the models as of the migration (later migrations add columns of their own)."""
    PhoneNumber = apps.get_model("telephony", "PhoneNumber")
    AgentProfile = apps.get_model("telephony", "AgentProfile")
    WebhookSubscription = apps.get_model("contactcenter", "WebhookSubscription")
    assert raw("telephony_phonenumber", "outbound_password", number_pk).startswith("fernet:")
    stored = raw("telephony_agentprofile", "properties", profile_pk)
    assert "legacy-plaintext" not in stored
    assert json.loads(stored)["llm"]["url"] == "https://llm.example/v1"
    assert raw("contactcenter_webhooksubscription", "secret", subscription_pk).startswith("fernet:")
    assert PhoneNumber.objects.get(pk=number_pk).outbound_password == "sip-pw-1"
    assert AgentProfile.objects.get(pk=profile_pk).properties == PROPERTIES
    assert WebhookSubscription.objects.get(pk=subscription_pk).secret == "whsec_legacy"


def test_the_migration_encrypts_plaintext_rows(legacy_rows):
    apps = migrate(AFTER)

    assert_encrypted_and_readable(apps, *legacy_rows)


def test_the_migration_is_safe_to_run_twice(legacy_rows):
    new = migrate(AFTER)
    telephony = importlib.import_module("telephony.migrations.0005_encrypt_secrets")
    contactcenter = importlib.import_module("contactcenter.migrations.0005_encrypt_webhook_secrets")

    with connection.schema_editor() as editor:
        telephony.encrypt_existing(new, editor)
        contactcenter.encrypt_existing(new, editor)

    assert_encrypted_and_readable(new, *legacy_rows)


def test_the_migration_reverses_to_plaintext(legacy_rows):
    number_pk, profile_pk, subscription_pk = legacy_rows
    migrate(AFTER)

    migrate(BEFORE)

    assert raw("telephony_phonenumber", "outbound_password", number_pk) == "sip-pw-1"
    assert json.loads(raw("telephony_agentprofile", "properties", profile_pk)) == PROPERTIES
    assert raw("contactcenter_webhooksubscription", "secret", subscription_pk) == "whsec_legacy"
