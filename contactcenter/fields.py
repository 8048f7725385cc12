"""Model fields that keep secrets encrypted in the database (see ``contactcenter.encryption``).

They encrypt on the way to the database and decrypt on the way back, so every caller (admin,
API, services, tasks) sees plaintext and the column never holds it. The save paths all go
through ``get_db_prep_save``: ``save()``, ``create()``, ``bulk_create()``, ``bulk_update()``
and ``QuerySet.update()``. A secret cannot be searched: filtering on an encrypted column
(other than ``isnull``) raises instead of silently matching nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import connections, models, transaction

from contactcenter.encryption import SecretCipher, cipher_for


def secret_cipher() -> SecretCipher:
    return cipher_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


class _EncryptedMixin:
    def _where(self) -> str:
        model = getattr(self, "model", None)
        return f"{model._meta.label}.{self.name}" if model is not None else str(self.name)

    def get_lookup(self, lookup_name: str):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self._where()} is encrypted: it cannot be searched or compared in the database "
            f"(lookup '{lookup_name}')."
        )


class EncryptedCharField(_EncryptedMixin, models.CharField):
    """A CharField whose non-empty values are stored encrypted (an empty value stays empty, so
    "is one set?" needs no key). ``max_length`` applies to the plaintext; the column is
    ``text``, since ciphertext is longer."""

    def get_internal_type(self) -> str:
        return "TextField"

    def get_db_prep_save(self, value: Any, connection) -> Any:
        value = super().get_db_prep_save(value, connection)
        if isinstance(value, str) and value:
            return secret_cipher().encrypt(value)
        return value

    def from_db_value(self, value: Any, expression, connection) -> Any:
        if isinstance(value, str) and value:
            return secret_cipher().decrypt(value, where=self._where())
        return value


class SecretValuesJSONField(models.JSONField):
    """A JSONField whose values under secret-looking keys (API keys, tokens, passwords: see
    ``telephony.agora.redaction.is_secret_key``) are stored encrypted; the rest stays readable."""

    def get_db_prep_save(self, value: Any, connection) -> Any:
        if isinstance(value, dict | list):
            value = secret_cipher().encrypt_secret_values(value)
        return super().get_db_prep_save(value, connection)

    def from_db_value(self, value: Any, expression, connection) -> Any:
        value = super().from_db_value(value, expression, connection)
        where = f"{self.model._meta.label}.{self.name}"
        return secret_cipher().decrypt_secret_values(value, where=where)


# -- encrypting what is stored (data migration, key rotation) ----------------------------------


def encrypted_field_names(model: type[models.Model]) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedCharField | SecretValuesJSONField)
    ]


def encrypted_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if encrypted_field_names(model)]


def reencrypt_rows(model: type[models.Model], *, using: str = "default") -> int:
    """Write every row's secrets again: plaintext left from before encryption is encrypted, and
    ciphertext is re-encrypted with the first key (rotation). Reads decrypt with any key, so it
    is safe to run any number of times. One short transaction per row, under its row lock, so
    a concurrent change is not overwritten. Returns the number of rows written."""
    names = encrypted_field_names(model)
    if not names:
        return 0
    manager = model._base_manager.db_manager(using)
    written = 0
    for pk in list(manager.order_by("pk").values_list("pk", flat=True)):
        with transaction.atomic(using=using):
            values = manager.select_for_update().filter(pk=pk).values(*names).first()
            if values is None:
                continue
            manager.filter(pk=pk).update(**values)
            written += 1
    return written


def store_plaintext_rows(model: type[models.Model], *, using: str = "default") -> int:
    """The reverse of the data migration only: write every secret back as plaintext."""
    names = encrypted_field_names(model)
    connection = connections[using]
    manager = model._base_manager.db_manager(using)
    table = connection.ops.quote_name(model._meta.db_table)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    written = 0
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for row in manager.select_for_update().values("pk", *names):
            assignments, params = [], []
            for name in names:
                field = model._meta.get_field(name)
                value = row[name]
                if isinstance(field, SecretValuesJSONField):
                    value = connection.ops.adapt_json_value(value, field.encoder)
                assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
                params.append(value)
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} = %s",  # noqa: S608
                [*params, row["pk"]],
            )
            written += 1
    return written
