"""CRM webhook deliveries: signed event notifications to subscribers (e.g. the CRM).

An event becomes one `WebhookDelivery` per active subscription that wants its type; every HTTP
request is a `WebhookDeliveryAttempt`. Delivery claims the row in one transaction (attempt
count, a lease in `next_attempt_at`), commits, sends the request outside any transaction, then
records the result in a new transaction:

- 2xx: delivered;
- any other answer below 500 (4xx, and 3xx since redirects are not followed): failed at once;
- a destination that is not allowed (contactcenter.crm_webhooks.targets, checked again before
  every attempt: the name may resolve elsewhere now): failed at once;
- 5xx, timeout, connection error, a name that does not resolve: retried after RETRY_DELAYS
  (30 s, 2 min, 8 min, 30 min, 2 h), failed after MAX_ATTEMPTS.

Each attempt keeps the status code and a short reason of ours ("HTTP 503 Service Unavailable",
"connection refused (ConnectError)"): never the receiver's body, which is not even read.

Retries are enqueued on commit when due soon, and `deliveries_retry_due` (beat) enqueues every
pending delivery whose time has come, so a lost task only delays a delivery.
"""

import hashlib
import hmac
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contactcenter import metrics
from contactcenter.crm_webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEventType,
    WebhookSubscription,
)
from contactcenter.crm_webhooks.targets import (
    TargetRefused,
    TargetUnresolved,
    target_check,
    target_post,
)

logger = logging.getLogger(__name__)

RETRY_DELAYS = (30, 120, 480, 1800, 7200)  # seconds after attempts 1..5
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)
# An attempt in flight holds its delivery this long (well past the HTTP timeouts), so another
# copy of the task (or the beat sweep) does not send it twice.
LEASE_SECONDS = 60
# Retries due within this many seconds get their own delayed task (below Redis' visibility
# timeout); later ones are left to the beat sweep.
ENQUEUE_RETRY_WITHIN_SECONDS = 600
MAX_ERROR_CHARS = 1000
USER_AGENT = "contactcenter-webhooks/1"

SIGNATURE_HEADER = "X-Contactcenter-Signature"
TIMESTAMP_HEADER = "X-Contactcenter-Timestamp"
EVENT_HEADER = "X-Contactcenter-Event"
DELIVERY_HEADER = "X-Contactcenter-Delivery"


# -- signing ------------------------------------------------------------------------------------


def crm_webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "{timestamp}.{body}">` with the subscription's secret."""
    message = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# -- emitting -----------------------------------------------------------------------------------


def _enqueue(delivery_id: int, *, countdown: float | None = None) -> None:
    from contactcenter.crm_webhooks.tasks import deliver_webhook

    if countdown:
        deliver_webhook.apply_async_on_commit((delivery_id,), countdown=countdown)
    else:
        deliver_webhook.delay_on_commit(delivery_id)


EventData = dict[str, Any] | Callable[[], dict[str, Any]]


def crm_webhook_event_emit(*, event_type: str, data: EventData) -> list[WebhookDelivery]:
    """One pending delivery per active subscription that wants `event_type`, sent after commit.

    `data` may be a function that builds it: it is called only when a subscription wants the
    event (every call's status change emits one, and most installs subscribe to few types)."""
    return crm_webhook_events_emit(event_type=event_type, data=[data])


def crm_webhook_events_emit(*, event_type: str, data: list[EventData]) -> list[WebhookDelivery]:
    """The same for several events of one type (a batch of calls dialed together): the
    subscriptions are read once for all of them (one query, and no transaction of its own
    when none wants the event: every call's every status change asks)."""
    if event_type not in WebhookEventType.values:
        raise ValidationError({"event_type": f"'{event_type}' is not a webhook event type."})
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(active=True).order_by("id")
        if subscription.wants(event_type)
    ]
    if not subscriptions:
        return []
    with transaction.atomic():
        return _deliveries(event_type, data, subscriptions)


def _deliveries(
    event_type: str, data: list[EventData], subscriptions: list[WebhookSubscription]
) -> list[WebhookDelivery]:
    deliveries = []
    for one in data:
        built = one() if callable(one) else one
        now = timezone.now()
        for subscription in subscriptions:
            event_id = uuid.uuid4()
            payload = {
                "id": str(event_id),
                "type": event_type,
                "created_at": now.isoformat(),
                "data": built,
            }
            delivery = WebhookDelivery.objects.create(
                subscription=subscription,
                event_type=event_type,
                event_id=event_id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            _enqueue(delivery.pk)
            deliveries.append(delivery)
    return deliveries


# -- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    attempt: int
    url: str
    secret: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str  # a short reason of ours, never the receiver's body
    duration_ms: int
    refused: bool = False  # the destination is not allowed (now): failed at once


def _claim(delivery_id: int, *, now: datetime) -> _Claim | str:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("subscription")
            .get(pk=delivery_id)
        )
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery.status
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return "not_due"
        if not delivery.subscription.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "The subscription is inactive."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return delivery.status
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return _Claim(
            delivery_id=delivery.pk,
            attempt=delivery.attempts,
            url=delivery.subscription.url,
            secret=delivery.subscription.secret,
            event_type=delivery.event_type,
            payload=delivery.payload,
        )


def _status_reason(status_code: int) -> str:
    """ "HTTP 503 Service Unavailable": the standard phrase, not the one the receiver sent."""
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def _error_reason(error: httpx.HTTPError) -> str:
    """A short reason of ours for a failed request. Never the exception's text: a parser's
    complaint may quote the answer, and an internal service's reply must not come back."""
    name = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return f"timeout ({name})"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"no valid HTTP answer ({name})"
    cause: BaseException | None = error
    while cause is not None:
        for kind, reason in _OS_REASONS:
            if isinstance(cause, kind):
                return f"{reason} ({name})"
        cause = cause.__cause__ or cause.__context__
    return f"request failed ({name})"


_OS_REASONS = (
    (ssl.SSLCertVerificationError, "TLS certificate not valid for the host"),
    (ssl.SSLError, "TLS handshake failed"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (OSError, "could not connect"),
)


def _post(claim: _Claim) -> _Outcome:
    """One request, to the address checked just now (see contactcenter.crm_webhooks.targets)."""
    started = time.monotonic()

    def outcome(status_code: int | None, error: str, *, refused: bool = False) -> _Outcome:
        duration_ms = int((time.monotonic() - started) * 1000)
        return _Outcome(status_code, error[:MAX_ERROR_CHARS], duration_ms, refused=refused)

    try:
        target = target_check(claim.url)
    except TargetRefused as refusal:
        return outcome(None, f"refused: {refusal}", refused=True)
    except TargetUnresolved as error:
        return outcome(None, str(error))
    body = _body(claim.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: crm_webhook_signature(
            secret=claim.secret, timestamp=timestamp, body=body
        ),
        EVENT_HEADER: claim.event_type,
        DELIVERY_HEADER: str(claim.delivery_id),
    }
    try:
        status_code = target_post(target, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as error:  # connection refused, TLS, protocol errors, timeouts
        return outcome(None, _error_reason(error))
    return outcome(status_code, "" if 200 <= status_code < 300 else _status_reason(status_code))


def _retryable(outcome: _Outcome) -> bool:
    if outcome.refused:
        return False  # the destination is not allowed: trying again cannot help
    return outcome.status_code is None or outcome.status_code >= 500


def _record(claim: _Claim, outcome: _Outcome, *, now: datetime) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claim.delivery_id)
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.status_code is not None and 200 <= outcome.status_code < 300:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif _retryable(outcome) and claim.attempt < MAX_ATTEMPTS:
            delay = RETRY_DELAYS[claim.attempt - 1]
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            if delay <= ENQUEUE_RETRY_WITHIN_SECONDS:
                _enqueue(delivery.pk, countdown=delay)
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        delivery.save()
    if not (outcome.status_code is not None and 200 <= outcome.status_code < 300):
        metrics.count("crm_delivery_failures")
    return delivery


def delivery_attempt(*, delivery_id: int) -> str:
    """Make one attempt at a pending, due delivery; returns its status (or "not_due")."""
    now = timezone.now()
    claim = _claim(delivery_id, now=now)
    if isinstance(claim, str):
        return claim
    # No transaction is open here: the request never holds a row lock.
    outcome = _post(claim)
    delivery = _record(claim, outcome, now=now)
    logger.info(
        "webhook delivery %s (%s) attempt %s: %s -> %s",
        delivery.pk,
        delivery.event_type,
        claim.attempt,
        outcome.status_code or outcome.error,
        delivery.status,
    )
    return delivery.status


@transaction.atomic
def delivery_redeliver(*, delivery_id: int) -> WebhookDelivery:
    """Send a delivered or failed delivery again, as a new series of attempts."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise ValidationError("This delivery is still pending: it is being sent already.")
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.delivered_at = None
    delivery.last_error = ""
    delivery.last_status_code = None
    delivery.save()
    _enqueue(delivery.pk)
    return delivery


def deliveries_retry_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue pending deliveries whose next attempt is due (retries, and lost tasks)."""
    from contactcenter.crm_webhooks.tasks import deliver_webhook

    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
