import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from contactcenter.fields import EncryptedCharField

KEY_PREFIX = "cck"


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

    @classmethod
    def issue(cls, *, name: str, created_by=None) -> tuple["ApiKey", str]:
        """A new key; the plain key is returned once and never stored."""
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            name=name, prefix=prefix, key_hash=cls.hash(key), created_by=created_by
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


# -- outbound webhooks (contactcenter.outbound) ---------------------------------------------


class WebhookEventType(models.TextChoices):
    CALL_STARTED = "call.started", "Call started (dialing)"
    CALL_ANSWERED = "call.answered", "Call answered"
    CALL_COMPLETED = "call.completed", "Call ended (any terminal status)"
    CAMPAIGN_COMPLETED = "campaign.completed", "Campaign completed"
    CONTACT_DO_NOT_CALL = "contact.do_not_call", "Number added to do-not-call"


def webhook_secret_new() -> str:
    """A fresh signing secret (256 random bits)."""
    return f"whsec_{secrets.token_urlsafe(32)}"


def validate_webhook_event_types(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event type.")
    unknown = sorted({str(v) for v in value} - set(WebhookEventType.values))
    if unknown:
        raise ValidationError(f"Unknown event type(s): {', '.join(unknown)}.")


class WebhookSubscription(models.Model):
    """A receiver (e.g. the CRM) of signed event notifications. The secret is write-only."""

    name = models.CharField(max_length=100)
    url = models.URLField(
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where events are POSTed (http or https; redirects are not followed).",
    )
    secret = EncryptedCharField(
        max_length=200,
        default=webhook_secret_new,
        help_text="Key of the HMAC-SHA256 signature. Shown once, when created.",
    )
    event_types = models.JSONField(default=list, validators=[validate_webhook_event_types])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return self.active and event_type in (self.event_types or [])


class WebhookDelivery(models.Model):
    """One event for one subscription; every HTTP attempt is a WebhookDeliveryAttempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    # The whole body sent (id, type, created_at, data): redeliveries send the same bytes' content.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Pending: when the next attempt is due (also the lease of an attempt in flight).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription} ({self.get_status_display()})"


class WebhookDeliveryAttempt(models.Model):
    """One HTTP request of a delivery and what came of it."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S} ({self.status_code or 'error'})"
