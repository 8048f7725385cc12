"""Secrets at rest: Fernet encryption with a list of keys (the first encrypts, all decrypt).

Stored ciphertext is ``fernet:<token>``: the prefix tells it from plaintext, so rows written
before encryption existed are read as they are and encrypted by the data migration (or by
``manage.py reencrypt_secrets``), and nothing is ever encrypted twice.

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys). Rotation: put a new
key first, keep the old ones after it, run ``manage.py reencrypt_secrets``, then drop the old
ones. The Django model fields that use this are in ``contactcenter.fields``.

Like ``telephony.agora.redaction``, this module does not import Django: the settings use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from telephony.agora.redaction import is_secret_key

__all__ = [
    "KEYS_VARIABLE",
    "PREFIX",
    "SecretCipher",
    "UndecryptableSecret",
    "development_key",
    "is_encrypted",
    "parse_keys",
]

KEYS_VARIABLE = "FIELD_ENCRYPTION_KEYS"
PREFIX = "fernet:"
KEY_HELP = (
    "Each key is 32 random bytes in URL-safe base64 (44 characters); make one with: "
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class UndecryptableSecret(Exception):
    """A stored secret cannot be decrypted with the configured keys (the message names where,
    never the value)."""


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_keys(text: str | Sequence[str]) -> list[str]:
    """The keys of ``FIELD_ENCRYPTION_KEYS``, each checked; a ValueError names the bad one by
    its position, never by its value (a near-miss may still be a real key)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    keys = [item.strip() for item in items if item.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"{KEYS_VARIABLE}: key {position} of {len(keys)} is not a Fernet key. {KEY_HELP}"
            ) from None
    return keys


def development_key(secret_key: str) -> str:
    """A key derived from SECRET_KEY, for development runs (DEBUG on) with no key set."""
    digest = hmac.new(
        secret_key.encode(), b"contactcenter.encryption.development-key", hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretCipher:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError(f"{KEYS_VARIABLE}: at least one key is needed. {KEY_HELP}")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str, *, where: str = "a stored secret") -> str:
        """The plaintext of ``stored``; a value without the prefix is returned as it is
        (written before encryption, not yet migrated)."""
        if not is_encrypted(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret(
                f"{where} cannot be decrypted with any key in {KEYS_VARIABLE}: it was "
                "encrypted with a key that is no longer listed (keep old keys after the new "
                "one until `manage.py reencrypt_secrets` has run; a development run without "
                f"{KEYS_VARIABLE} derives its key from SECRET_KEY), or the value is damaged."
            ) from None

    # -- secret values inside JSON (agent properties) -----------------------------------------

    def encrypt_secret_values(self, value: Any) -> Any:
        """A copy with the value under every secret-looking key (``is_secret_key``) encrypted;
        the rest stays readable JSON. Any JSON value may be a secret: it is stored as its JSON
        text, so it comes back with its type."""
        if isinstance(value, dict):
            return {
                key: (
                    self.encrypt(json.dumps(item))
                    if is_secret_key(key) and item not in (None, "")
                    else self.encrypt_secret_values(item)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.encrypt_secret_values(item) for item in value]
        return value

    def decrypt_secret_values(self, value: Any, *, where: str = "a stored secret") -> Any:
        if isinstance(value, dict):
            return {
                key: (
                    json.loads(self.decrypt(item, where=f"{where} ({key})"))
                    if is_secret_key(key) and is_encrypted(item)
                    else self.decrypt_secret_values(item, where=where)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.decrypt_secret_values(item, where=where) for item in value]
        return value


@lru_cache(maxsize=8)
def cipher_for(keys: tuple[str, ...]) -> SecretCipher:
    return SecretCipher(keys)
