"""The CRM webhook subsystem's rows: subscriptions, deliveries and their attempts.

They belong to the `contactcenter` app (its migrations and tables); `contactcenter.models`
imports them so that Django finds them.
"""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from contactcenter.crm_webhooks.targets import validate_webhook_url
from contactcenter.fields import EncryptedCharField


class WebhookEventType(models.TextChoices):
    CALL_STARTED = "call.started", "Call started (dialing)"
    CALL_ANSWERED = "call.answered", "Call answered"
    CALL_COMPLETED = "call.completed", "Call ended (any terminal status)"
    CAMPAIGN_COMPLETED = "campaign.completed", "Campaign completed"
    CAMPAIGN_PAUSED = "campaign.paused", "Campaign paused (by staff, or by itself on failures)"
    CAMPAIGN_CALLER_ID_REMOVED = "campaign.caller_id_removed", "Caller ID taken out of rotation"
    CONTACT_DO_NOT_CALL = "contact.do_not_call", "Number added to do-not-call"
    CALL_ANALYZED = "call.analyzed", "Call analysed (disposition, summary)"


def webhook_secret_new() -> str:
    """A fresh signing secret (256 random bits)."""
    return f"whsec_{secrets.token_urlsafe(32)}"


WEBHOOK_SECRET_MIN_LENGTH = 16


def validate_webhook_secret(value: str) -> None:
    """A signing secret typed in (admin) or sent (API) must be long enough to resist guessing."""
    if len(value or "") < WEBHOOK_SECRET_MIN_LENGTH:
        raise ValidationError(
            f"Use at least {WEBHOOK_SECRET_MIN_LENGTH} characters "
            "(or leave it empty to have one generated).",
            code="secret_too_short",
        )


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
        validators=[URLValidator(schemes=["http", "https"]), validate_webhook_url],
        help_text="Where events are POSTed: an https URL whose host is on the public internet "
        "(redirects are not followed).",
    )
    secret = EncryptedCharField(
        max_length=200,
        default=webhook_secret_new,
        validators=[validate_webhook_secret],
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
