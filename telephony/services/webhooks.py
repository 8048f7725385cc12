"""Agora's webhooks: verify, store once, answer fast; process in a drain (or by the sweeper).

Receiving does the least that is safe: check the signature over the raw body, parse, insert one
row unique on noticeId, and wake a drain. Everything else (finding the call, merging its state,
having the calls service create inbound calls) happens in a worker.

The stored rows are the queue. A drain (`webhooks_drain`, task process_webhook_events) claims
batches of received events (status processing, exactly one claimer each) until none is left;
receiving publishes a drain only when none is already pending (one cache key), so a burst of
webhooks costs one task per batch, not one each; a drain whose claim came back full wakes one
more, so a backlog is shared by every free worker. A claimed event whose worker died is taken
again after WEBHOOK_PROCESSING_LEASE_SECONDS; the sweeper takes whatever a lost wake left behind.

The protocol itself (event types, signatures, the envelope) is `telephony.agora.webhooks`.
"""

import functools
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import RedisError

from contactcenter import metrics
from contactcenter.batches import within_batch
from contactcenter.logs import log_context
from contactcenter.retention import webhook_acceptance_start
from contactcenter.validators import JsonTooDeep, json_loads
from telephony import transcripts
from telephony.agora import AgoraError
from telephony.agora.webhooks import (
    CALL_STATE_EVENTS,
    AgentPayload,
    EventType,
    NotANotification,
    Notification,
    SignatureCheck,
    history_messages,
    int_or_none,
    payload_of,
    verify_signature,
)
from telephony.models import Call, CallEvent, WebhookEvent
from telephony.services.calls import (
    LARGE_CALL_FIELDS,
    AgoraReport,
    call_apply_report,
    call_create_inbound,
)

logger = logging.getLogger(__name__)

MAX_PROCESSING_ATTEMPTS = 5


class UnstorableBody(ValueError):
    """PostgreSQL refused as jsonb a body Python's json accepted (NaN, a \\u0000 in a string)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def signature_check(body: bytes, headers: Mapping[str, str]) -> SignatureCheck:
    """Agora's signature over the raw body, with our secret (telephony.agora.webhooks)."""
    secret = settings.AGORA_WEBHOOK_SECRET
    if not secret:
        return SignatureCheck("AGORA_WEBHOOK_SECRET is not set: no webhook can be verified", "")
    return verify_signature(body, headers, secret)


def webhook_receive(*, body: bytes, headers: Mapping[str, str]) -> Answer:
    """Verify and store one notification; processing is queued after commit.

    `headers`: the request's headers, any case (Agora-Signature-V2, else Agora-Signature).
    """
    signature = signature_check(body, headers)
    if not signature.valid:
        # Never log the signatures or the body: they are useless to an attacker's audience.
        logger.warning("webhook refused (%d bytes): %s", len(body), signature.problem)
        return Answer(401, {"error": "invalid signature"})
    try:
        envelope = json_loads(body)
    except JsonTooDeep as error:
        return Answer(400, {"error": f"body is not accepted: {error}"})
    except ValueError:  # UnicodeDecodeError included
        return Answer(400, {"error": "body is not valid JSON"})
    try:
        notification = Notification.from_envelope(envelope)
    except NotANotification as error:
        return Answer(400, {"error": str(error)})
    too_old = _sent_too_long_ago(notification)
    if too_old:
        logger.warning("webhook refused: %s", too_old)
        return Answer(400, {"error": too_old})
    try:
        event_id = _store_once(notification, body, signature.version)
    except UnstorableBody as error:
        return Answer(400, {"error": f"body is not accepted: {error}"})
    if event_id is None:
        # Agora delivered it again (a retry, or a duplicate): acknowledge, do nothing twice.
        # Its latest delivery's time: retention keeps the event while a replay of any of its
        # deliveries would still be accepted.
        WebhookEvent.objects.filter(notice_id=notification.notice_id[:100]).update(
            deliveries=F("deliveries") + 1,
            notify_ms=Greatest(Coalesce(F("notify_ms"), Value(0)), Value(notification.notify_ms))
            if notification.notify_ms is not None
            else F("notify_ms"),
        )
        return Answer(200, {"ok": True, "duplicate": True})
    # At once in autocommit (a request); after the commit when a caller holds a transaction.
    transaction.on_commit(_wake_drain)
    return Answer(200, {"ok": True})


def _sent_too_long_ago(notification: Notification) -> str:
    """Why a notification sent before the acceptance window is refused ("" when it is not):
    events older than it are pruned (contactcenter.retention), and with them the record that
    their noticeId was seen, so an old delivery replayed would otherwise be taken as new."""
    start = webhook_acceptance_start(timezone.now())
    if start is None or notification.notify_ms is None:
        return ""
    if notification.notify_ms >= start.timestamp() * 1000:
        return ""
    sent = datetime.fromtimestamp(notification.notify_ms / 1000, tz=UTC)
    return (
        f"notification sent {sent:%Y-%m-%d %H:%M} UTC, more than "
        f"{settings.RETAIN_WEBHOOK_EVENTS_DAYS} days ago (RETAIN_WEBHOOK_EVENTS_DAYS): refused "
        "as a possible replay"
    )


def _store_once(notification: Notification, body: bytes, signature_version: str) -> int | None:
    """Insert the event unless its noticeId is stored already: one statement, committed on
    its own (no transaction around it), no model instance. Returns its id, or None for a
    repeat. Receiving is the hot path: the ORM's per-request work was most of its cost.

    `body` is the verified raw body, stored as it came (PostgreSQL parses it into jsonb, so the
    stored value is the one json_loads accepted: no second encoding in Python)."""
    values = {
        "notice_id": notification.notice_id[:100],
        "product_id": notification.product_id,
        "event_type": notification.event_type,
        "notify_ms": notification.notify_ms,
        "sid": notification.sid[:100],
        "agent_id": notification.agent_id[:64],
        "body": body.decode(),
        "signature_version": signature_version,
        "status": WebhookEvent.Status.RECEIVED,
        "deliveries": 1,
        "attempts": 0,
        "last_error": "",
        "received_at": timezone.now(),
    }
    sql = _insert_sql(tuple(values), connection.vendor)
    if connection.vendor == "postgresql":
        row = _insert_prepared(sql, list(values.values()))
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(values.values()))
            row = cursor.fetchone()
    return row[0] if row else None


_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1  # psycopg prepares a statement after this many runs


def _insert_prepared(sql: str, params: list) -> tuple | None:
    """On PostgreSQL, psycopg directly: a server-side prepared statement (parsed and planned
    once per connection) and no health-check `SELECT 1` before it (Django pings a reused
    connection at each request's first query). Instead a connection PostgreSQL has dropped
    (a restart) fails here and is replaced once, which is safe only outside a transaction."""
    for attempt in (1, 2):
        connection.ensure_connection()
        raw = connection.connection
        if raw.prepare_threshold is None:  # Django's default turns preparing off altogether;
            raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED  # its own cursors never prepare
        try:
            return _insert_cursor(raw).execute(sql, params, prepare=True).fetchone()
        except psycopg.DataError as error:
            raise UnstorableBody(error.diag.message_primary or "not storable as JSON") from None
        except psycopg.OperationalError:
            if attempt == 2 or connection.in_atomic_block or not connection.get_autocommit():
                raise
            logger.warning("webhook store: the database connection was dropped; reconnecting")
            connection.close()
    return None  # not reached: the second attempt returns or raises


_insert_cursors = threading.local()


def _insert_cursor(raw: psycopg.Connection) -> psycopg.Cursor:
    """This thread's cursor on `raw`, kept between requests: a new cursor sets up its
    parameter adapters again at its first execute (about a fifth of the INSERT's cost in
    Python). Django's connections are per thread, so the cursor is never shared."""
    cursor = getattr(_insert_cursors, "cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = _insert_cursors.cursor = psycopg.Cursor(raw)
    return cursor


@functools.cache
def _insert_sql(columns: tuple[str, ...], vendor: str) -> str:
    quote = connection.ops.quote_name
    body = "%s::jsonb" if vendor == "postgresql" else "%s"
    placeholders = [body if column == "body" else "%s" for column in columns]
    return (
        f"INSERT INTO {quote(WebhookEvent._meta.db_table)} "  # noqa: S608 - our own names
        f"({', '.join(quote(column) for column in columns)}) "
        f"VALUES ({', '.join(placeholders)}) "
        "ON CONFLICT (notice_id) DO NOTHING RETURNING id"
    )


_BODY = WebhookEvent._meta.get_field("body")

DRAIN_PENDING_KEY = "webhooks:drain-pending"


def _wake_drain() -> None:
    """Publish a drain unless one is pending (queued, or running and bound to look again)."""
    from telephony.tasks import process_webhook_events

    try:
        if cache.add(DRAIN_PENDING_KEY, 1, timeout=settings.WEBHOOK_PROCESSING_LEASE_SECONDS):
            process_webhook_events.delay()
    except (BrokerUnavailable, RedisError, OSError):  # stored all the same: the sweeper has it
        logger.exception("webhook drain not queued; the sweeper will process what is stored")


# -- processing ---------------------------------------------------------------------------------


def webhooks_drain(*, batch: int = 20, seconds: float = 20.0) -> int:
    """Process received events until none is left (or `seconds` pass: then hand over to a new
    drain). Several drains may run at once: each event has exactly one claimer. A full claim
    wakes another drain, so a burst is shared by as many workers as are free (a call's end,
    and the refill of its place, need not wait behind a long batch in one worker)."""
    processed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # From here on, an arrival wakes another drain: nothing waits for this one to look.
        cache.delete(DRAIN_PENDING_KEY)
        claimed = _claim_batch(batch)
        if not claimed:
            return processed
        if len(claimed) == batch:
            _wake_drain()  # more are waiting: another worker takes the next batch meanwhile
        known = _known_call_ids(claimed)
        # Hang-ups first, then the refill of the places they freed (work the events ask for
        # once, done once per part), then the rest: a freed place waits for no other event.
        for part in _hang_ups_first(claimed):
            with within_batch():
                applied = []
                for event in part:
                    try:
                        applied.append(_apply_claimed(event, known_call_id=known.get(event.pk)))
                    except Exception:  # recorded on the event (failed, for the sweeper): go on
                        logger.exception("webhook event %s: processing failed", event.pk)
                _mark_processed([outcome for outcome in applied if outcome is not None])
        processed += len(claimed)
    _wake_drain()
    return processed


def _hang_ups_first(events: list[WebhookEvent]) -> tuple[list[WebhookEvent], list[WebhookEvent]]:
    """The batch in two parts: the hang-ups that are their call's first event in the batch,
    then every other event in its order. A call's own events keep their order (a hang-up
    ahead of its call's answer would wait to settle); different calls' events are independent."""
    first, rest, seen = [], [], set()
    for event in events:
        payload = payload_of(event.body)
        labels = payload.get("labels") if isinstance(payload.get("labels"), dict) else {}
        keys = {str(key) for key in (labels.get("call_id"), payload.get("agent_id")) if key}
        hang_up = (
            EventType.parse(event.event_type) in CALL_STATE_EVENTS
            and str(payload.get("state") or "").upper() == "HANGUP"
        )
        (first if hang_up and keys and not keys & seen else rest).append(event)
        seen |= keys
    return first, rest


def _claim_batch(size: int) -> list[WebhookEvent]:
    """Claim up to `size` received events, oldest first, and read them: one statement."""
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claimed_at = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {table} WHERE status = %s ORDER BY id LIMIT %s "
            "FOR UPDATE SKIP LOCKED) RETURNING id, notice_id, event_type, body",
            [WebhookEvent.Status.PROCESSING, timezone.now(), WebhookEvent.Status.RECEIVED, size],
        )
        rows = cursor.fetchall()
    events = [
        WebhookEvent(
            id=event_id, notice_id=notice_id, event_type=event_type,
            body=_BODY.from_db_value(body, None, connection),
            status=WebhookEvent.Status.PROCESSING,
        )
        for event_id, notice_id, event_type, body in sorted(rows)
    ]  # fmt: skip
    return events


def _claim_one(event_id: int, *, now) -> bool:
    """Take one event to process: received, failed, or claimed by a worker that vanished."""
    lease = now - timedelta(seconds=settings.WEBHOOK_PROCESSING_LEASE_SECONDS)
    S = WebhookEvent.Status
    return bool(
        WebhookEvent.objects.filter(pk=event_id)
        .filter(Q(status__in=[S.RECEIVED, S.FAILED]) | Q(status=S.PROCESSING, claimed_at__lt=lease))
        .update(status=S.PROCESSING, claimed_at=now)
    )


def webhook_process(*, event_id: int, now: datetime | None = None) -> str:
    """Claim one stored notification and apply it to its call; returns its status after. An
    event processed already, or being processed by another worker, is left alone."""
    if not _claim_one(event_id, now=now or timezone.now()):
        return WebhookEvent.objects.values_list("status", flat=True).get(pk=event_id)
    return _process_claimed(WebhookEvent.objects.get(pk=event_id))


@dataclass(frozen=True)
class Applied:
    """An event applied to its call, to be marked so (with when it was done)."""

    event_id: int
    status: str
    call_id: uuid.UUID | None
    at: datetime
    received_at: datetime | None = None


def _process_claimed(event: WebhookEvent) -> str:
    """Apply one event this worker claimed (status processing) to its call, and mark it."""
    applied = _apply_claimed(event)
    if applied is None:
        return WebhookEvent.Status.FAILED
    _mark_processed([applied])
    return applied.status


def _mark_processed(applied: list[Applied]) -> None:
    """Mark applied events with their outcome: one statement for a drain's batch (an event
    applied but not yet marked when its worker dies is applied again after its lease; applying
    is idempotent: a call's state only moves forward, and its transcript merges)."""
    if not applied:
        return
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s, %s::uuid, %s::timestamptz)"] * len(applied))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS event SET status = done.status, call_id = done.call_id, "  # noqa: S608
            "attempts = event.attempts + 1, last_error = '', processed_at = done.at "
            f"FROM (VALUES {rows}) AS done (id, status, call_id, at) "
            "WHERE event.id = done.id AND event.status = %s",
            [
                *(
                    value
                    for outcome in applied
                    for value in (outcome.event_id, outcome.status, outcome.call_id, outcome.at)
                ),
                WebhookEvent.Status.PROCESSING,
            ],
        )
    metrics.observe(
        "webhook_lag_seconds",
        [(done.at - done.received_at).total_seconds() for done in applied if done.received_at],
    )


def _known_call_ids(events: list[WebhookEvent]) -> dict[int, uuid.UUID]:
    """The calls a batch's events are about, found in one query by the call ids we set as
    labels (an event without one, or whose call is not found, is looked up on its own)."""
    labelled: dict[int, uuid.UUID | None] = {}
    for event in events:
        labels = payload_of(event.body).get("labels")
        call_id = labels.get("call_id") if isinstance(labels, dict) else None
        try:
            labelled[event.pk] = uuid.UUID(str(call_id)) if call_id else None
        except ValueError:
            continue
    wanted = {call_id for call_id in labelled.values() if call_id}
    found = set(Call.objects.filter(pk__in=wanted).values_list("pk", flat=True) if wanted else ())
    return {pk: call_id for pk, call_id in labelled.items() if call_id in found}


def _apply_claimed(
    event: WebhookEvent, *, known_call_id: uuid.UUID | None = None
) -> Applied | None:
    """Apply one claimed event to its call (found already, or looked up now); None when it
    failed (recorded on the event, for the sweeper)."""
    payload = payload_of(event.body)
    try:
        call_id = known_call_id or _find_call_id(payload)
        if call_id is None and event.event_type == EventType.INBOUND_CALL_STATE:
            # Someone called one of our numbers. May ask Agora (HTTP): no lock is held here.
            inbound = call_create_inbound(
                agent_id=str(payload.get("agent_id") or ""),
                agora_name=str(payload.get("name") or ""),
                channel=str(payload.get("channel") or ""),
            )
            call_id = inbound.pk if inbound else None
        status = _apply(event, payload, call_id)
    except AgoraError as error:
        _record_failure(event, f"asking Agora failed: {error}")
        return None
    except Exception as error:
        # Not left "processing" until its lease ends: failed, with the reason, for the sweeper.
        _record_failure(event, f"{type(error).__name__}: {error}")
        raise
    return Applied(event.pk, status, call_id, timezone.now(), event.received_at)


def _record_failure(event: WebhookEvent, error: str) -> str:
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED,
        attempts=F("attempts") + 1,
        last_error=error[:2000],
    )
    logger.warning("webhook %s failed: %s", event.notice_id, error)
    return WebhookEvent.Status.FAILED


def _find_call_id(payload: AgentPayload) -> uuid.UUID | None:
    """Our call's id: from the labels we set, else by Agora's agent id (its id alone: the
    event is applied under the call's lock, which reads the row)."""
    calls = Call.objects.values_list("pk", flat=True)
    labels = payload.get("labels") if isinstance(payload.get("labels"), dict) else {}
    call_id = labels.get("call_id")
    if call_id:
        try:
            found = calls.filter(pk=uuid.UUID(str(call_id))).first()
        except ValueError:
            found = None
        if found:
            return found
    agent_id = payload.get("agent_id")
    if agent_id:
        return calls.filter(agent_id=str(agent_id)).first()
    return None


def _apply(event: WebhookEvent, payload: AgentPayload, call_id: uuid.UUID | None) -> str:
    with log_context(call_id=call_id, agent_id=event.agent_id or None):
        return _apply_event(event, payload, call_id)


def _apply_event(event: WebhookEvent, payload: AgentPayload, call_id: uuid.UUID | None) -> str:
    event_type = EventType.parse(event.event_type)
    if event_type is None:
        return WebhookEvent.Status.IGNORED
    if call_id is None:
        return WebhookEvent.Status.UNMATCHED
    report_ms = int_or_none(payload.get("report_ms"))
    if event_type in CALL_STATE_EVENTS:
        call_apply_report(
            call_id=call_id,
            report=AgoraReport(
                state=str(payload.get("state") or ""),
                reason=payload.get("reason"),
                report_ms=report_ms,
                raw=payload,
            ),
            source=CallEvent.Source.WEBHOOK,
        )
        return WebhookEvent.Status.PROCESSED
    kind, detail = CallEvent.Kind.SIGNAL, event_type.label
    if event_type == EventType.AGENT_LEFT:
        detail = f"agent left: {payload.get('status', '')} {payload.get('message', '')}"
    elif event_type == EventType.AGENT_ERROR:
        kind = CallEvent.Kind.ERROR
        detail = f"agent error {payload.get('code', '')}: {payload.get('message', '')}"
    signal = CallEvent(call_id=call_id, source=CallEvent.Source.WEBHOOK, kind=kind,
                       report_ms=report_ms, detail=detail[:500], payload=payload)  # fmt: skip
    if event_type not in (EventType.AGENT_HISTORY, EventType.AGENT_ERROR):
        signal.save()  # nothing on the call changes: no lock on its row
        return WebhookEvent.Status.PROCESSED
    calls = Call.objects.select_for_update()
    if event_type != EventType.AGENT_HISTORY:
        calls = calls.defer(*LARGE_CALL_FIELDS)
    with transaction.atomic():
        locked = calls.get(pk=call_id)
        if event_type == EventType.AGENT_HISTORY:
            contents = history_messages(payload)
            locked.transcript = transcripts.merged(locked.transcript or [], contents)
            locked.transcript_final_at = timezone.now()
            locked.save(update_fields=["transcript", "transcript_final_at", "updated_at"])
            signal.detail = f"agent history: {len(contents)} messages"
        else:
            locked.last_error = detail[:1000]
            locked.save(update_fields=["last_error", "updated_at"])
        signal.save()
    return WebhookEvent.Status.PROCESSED


# -- the sweeper and staff's reprocess ----------------------------------------------------------


def webhooks_sweep(*, now=None, limit: int = 500) -> int:
    """Process events stored but never processed (a lost task, a crashed worker) or failed."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    lease = now - timedelta(seconds=settings.WEBHOOK_PROCESSING_LEASE_SECONDS)
    S = WebhookEvent.Status
    due = WebhookEvent.objects.filter(
        Q(status=S.RECEIVED)
        | Q(status=S.FAILED, attempts__lt=MAX_PROCESSING_ATTEMPTS)
        | Q(status=S.PROCESSING, claimed_at__lt=lease),
        received_at__lt=stale,
    ).order_by("received_at")
    processed = 0
    for event_id in list(due.values_list("id", flat=True)[:limit]):
        webhook_process(event_id=event_id, now=now)
        processed += 1
    return processed


def webhook_reprocess(*, event_id: int) -> str:
    """Staff: process an event again (e.g. one that found no call before the call existed)."""
    WebhookEvent.objects.filter(pk=event_id).update(
        status=WebhookEvent.Status.RECEIVED, processed_at=None, last_error=""
    )
    return webhook_process(event_id=event_id)
