import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

# The CRM webhook subsystem's models live in its own package (contactcenter/crm_webhooks/), in
# this app: imported here so that Django finds them.
from contactcenter.crm_webhooks.models import (  # noqa: F401
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)

KEY_PREFIX = "cck"


class ApiScope(models.TextChoices):
    """What an API key may do: one read and one write scope per resource. Each API route needs
    exactly one of them (contactcenter.api.auth); scopes do not imply each other."""

    NUMBERS_READ = "numbers:read", "Phone numbers: list and read"
    NUMBERS_WRITE = "numbers:write", "Phone numbers: create, change, delete, sync with Agora"
    AGENTS_READ = "agents:read", "Agent profiles: list and read"
    AGENTS_WRITE = "agents:write", "Agent profiles: create, change, delete"
    CALLS_READ = "calls:read", "Calls: list and read, with events and transcripts"
    CALLS_WRITE = "calls:write", "Calls: place a call, hang up, analyse again"
    CALLS_CONTROL = (
        "calls:control",
        "Calls: on a live answered call, have the agent say a sentence, follow an instruction, "
        "stop speaking",
    )
    CONTACTS_READ = "contacts:read", "Contact lists and contacts: list and read"
    CONTACTS_WRITE = "contacts:write", "Contact lists and contacts: create, change, delete, bulk"
    DNC_READ = "dnc:read", "Do-not-call: list, check a number"
    DNC_WRITE = "dnc:write", "Do-not-call: add and remove numbers"
    CAMPAIGNS_READ = "campaigns:read", "Campaigns: list and read, progress"
    CAMPAIGNS_WRITE = (
        "campaigns:write",
        "Campaigns: create, change, delete; start, pause, resume, cancel",
    )
    WEBHOOKS_READ = (
        "webhooks:read",
        "Webhook subscriptions and deliveries (with their payloads): list and read",
    )
    WEBHOOKS_ADMIN = (
        "webhooks:admin",
        "Webhook subscriptions: create, change, delete (where events are sent); redeliver",
    )


def validate_api_scopes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(scope, str) for scope in value):
        raise ValidationError("Scopes are a list of scope names.")
    unknown = sorted(set(value) - set(ApiScope.values))
    if unknown:
        raise ValidationError(f"Unknown scope(s): {', '.join(unknown)}.")


def api_scopes_ordered(scopes) -> list[str]:
    """The scopes once each, in the catalogue's order (how they are stored and shown)."""
    chosen = set(scopes)
    return [scope for scope in ApiScope.values if scope in chosen]


class ApiKey(models.Model):
    """One integration's key to the REST API. Only a hash is stored: the key is shown once."""

    name = models.CharField(max_length=100, help_text="Which integration uses it, e.g. 'CRM'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_api_scopes],
        help_text="What the key may do; every API route needs one scope.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash(key: str) -> str:
        # Keys are 256-bit random strings: a plain SHA-256 cannot be reversed or guessed.
        return hashlib.sha256(key.encode()).hexdigest()

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    @classmethod
    def issue(cls, *, name: str, scopes, created_by=None) -> tuple["ApiKey", str]:
        """A new key with these scopes; the plain key is returned once and never stored."""
        scopes = list(scopes)
        validate_api_scopes(scopes)
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            name=name,
            prefix=prefix,
            key_hash=cls.hash(key),
            created_by=created_by,
            scopes=api_scopes_ordered(scopes),
        )
        return api_key, key

    def revoke(self) -> None:
        self.revoked_at = self.revoked_at or timezone.now()
        self.save(update_fields=["revoked_at"])


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed for 24 hours."""

    # Who sent it: "key:<api key id>" or "user:<user id>" (one column, so it can be unique).
    caller = models.CharField(max_length=40)
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["caller", "key"], name="unique_idempotency_key_per_caller"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
