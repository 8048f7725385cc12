"""Client configuration: a frozen value object, validated once at construction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .redaction import register_secret
from .regions import AREAS, base_urls
from .tokens import MAX_TOKEN_TTL

__all__ = ["AUTH_MODES", "AgoraConfig"]

AUTH_MODES = frozenset({"basic", "token"})


def _attribute_getter(source: object) -> Callable[[str], Any]:
    return lambda key: getattr(source, key, None)


@dataclass(frozen=True)
class AgoraConfig:
    """Everything the Agora client needs; secrets are kept out of ``repr()``."""

    app_id: str
    customer_id: str = ""
    customer_secret: str = field(default="", repr=False)
    app_certificate: str = field(default="", repr=False)
    area: str = "US"
    base_url: str | None = None
    auth_mode: str = "basic"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    # A longer Retry-After is not slept on: the error is raised with retry_after set so a Celery
    # task can be retried later instead of blocking a worker.
    max_retry_after: float = 30.0
    token_ttl: int = 3600

    # Setting name -> (field, converter). Extra keys beyond the documented ones are optional.
    _SETTINGS: ClassVar[dict[str, tuple[str, Callable[[Any], Any]]]] = {
        "AGORA_APP_ID": ("app_id", str),
        "AGORA_CUSTOMER_ID": ("customer_id", str),
        "AGORA_CUSTOMER_SECRET": ("customer_secret", str),
        "AGORA_APP_CERTIFICATE": ("app_certificate", str),
        "AGORA_AREA": ("area", str),
        "AGORA_API_BASE_URL": ("base_url", str),
        "AGORA_AUTH_MODE": ("auth_mode", str),
        "AGORA_CONNECT_TIMEOUT": ("connect_timeout", float),
        "AGORA_READ_TIMEOUT": ("read_timeout", float),
        "AGORA_MAX_RETRIES": ("max_retries", int),
        "AGORA_BACKOFF_BASE": ("backoff_base", float),
        "AGORA_BACKOFF_MAX": ("backoff_max", float),
        "AGORA_MAX_RETRY_AFTER": ("max_retry_after", float),
        "AGORA_TOKEN_TTL": ("token_ttl", int),
    }

    def __post_init__(self) -> None:
        # Normalise first (frozen: go through object.__setattr__), then validate.
        normalised = {
            "app_id": (self.app_id or "").strip(),
            "customer_id": (self.customer_id or "").strip(),
            "customer_secret": (self.customer_secret or "").strip(),
            "app_certificate": (self.app_certificate or "").strip(),
            "area": (self.area or "").strip().upper(),
            "auth_mode": (self.auth_mode or "").strip().lower(),
            "base_url": (self.base_url or "").strip().rstrip("/") or None,
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

        if not self.app_id:
            raise ValueError("app_id: the Agora app id is required")
        if self.area not in AREAS:
            raise ValueError(f"area: unknown Agora area {self.area!r}; use one of {sorted(AREAS)}")
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(
                f"auth_mode: unknown auth mode {self.auth_mode!r}; use one of {sorted(AUTH_MODES)}"
            )
        if self.auth_mode == "token" and not self.app_certificate:
            raise ValueError("app_certificate: required when auth_mode is 'token'")
        for name in ("connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be a positive number of seconds")
        for name in ("backoff_base", "backoff_max", "max_retry_after"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: must not be negative")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError("max_retries: must be an integer")
        if self.max_retries < 0:
            raise ValueError("max_retries: must not be negative")
        if not 0 < self.token_ttl <= MAX_TOKEN_TTL:
            raise ValueError(f"token_ttl: must be in 1..{MAX_TOKEN_TTL} seconds")
        base_urls(self.area, self.base_url)  # validates the override's scheme

        register_secret(self.customer_secret)
        register_secret(self.app_certificate)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | object) -> AgoraConfig:
        """Build from settings-style keys (``AGORA_APP_ID``...); missing or empty -> default.

        Accepts a dict or any object with attributes (e.g. ``django.conf.settings``).
        """
        kwargs: dict[str, Any] = {}
        for key, (name, convert) in cls._SETTINGS.items():
            getter = mapping.get if isinstance(mapping, Mapping) else _attribute_getter(mapping)
            raw = getter(key)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                kwargs[name] = convert(raw.strip() if isinstance(raw, str) else raw)
            except (TypeError, ValueError):
                # Don't echo the value: it might be a secret set under the wrong key.
                raise ValueError(f"{key}: cannot convert to {convert.__name__}") from None
        if "app_id" not in kwargs:
            raise ValueError("AGORA_APP_ID: the Agora app id is required")
        return cls(**kwargs)
