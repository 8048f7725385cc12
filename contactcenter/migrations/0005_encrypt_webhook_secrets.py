"""Webhook subscription secrets are stored encrypted (contactcenter.fields); existing rows are
encrypted here. Safe to run again: ciphertext is recognised by its prefix and never encrypted
twice. Reversing writes the plaintext back (with the keys in FIELD_ENCRYPTION_KEYS)."""

import contactcenter.fields
import contactcenter.crm_webhooks.models
from django.db import migrations


def encrypt_existing(apps, schema_editor):
    model = apps.get_model("contactcenter", "WebhookSubscription")
    contactcenter.fields.reencrypt_rows(model, using=schema_editor.connection.alias)


def store_plaintext(apps, schema_editor):
    model = apps.get_model("contactcenter", "WebhookSubscription")
    contactcenter.fields.store_plaintext_rows(model, using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("contactcenter", "0004_webhook_errors_without_bodies"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=contactcenter.fields.EncryptedCharField(
                default=contactcenter.crm_webhooks.models.webhook_secret_new,
                help_text="Key of the HMAC-SHA256 signature. Shown once, when created.",
                max_length=200,
                validators=[contactcenter.crm_webhooks.models.validate_webhook_secret],
            ),
        ),
        migrations.RunPython(encrypt_existing, store_plaintext, elidable=False),
    ]
