"""SIP passwords and the secret values inside agent properties are stored encrypted
(contactcenter.fields); existing rows are encrypted here. Safe to run again: ciphertext is
recognised by its prefix and never encrypted twice. Reversing writes the plaintext back (with
the keys in FIELD_ENCRYPTION_KEYS)."""

import contactcenter.fields
import contactcenter.validators
from django.db import migrations

MODELS = ("PhoneNumber", "AgentProfile")


def encrypt_existing(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("telephony", name)
        contactcenter.fields.reencrypt_rows(model, using=schema_editor.connection.alias)


def store_plaintext(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("telephony", name)
        contactcenter.fields.store_plaintext_rows(model, using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("telephony", "0004_call_dialing_rules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agentprofile",
            name="properties",
            field=contactcenter.fields.SecretValuesJSONField(
                blank=True,
                default=dict,
                help_text="Agent configuration as in Agora's /join properties (llm, tts, asr, ...).",
                validators=[contactcenter.validators.validate_json_text],
            ),
        ),
        migrations.AlterField(
            model_name="phonenumber",
            name="outbound_password",
            field=contactcenter.fields.EncryptedCharField(
                blank=True, max_length=255, verbose_name="outbound SIP password"
            ),
        ),
        migrations.RunPython(encrypt_existing, store_plaintext, elidable=False),
    ]
