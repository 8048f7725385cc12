"""Agora's webhooks: verify, store once, answer fast; process after commit (or by the sweeper).

Receiving does the least that is safe: check the signature over the raw body, parse, insert one
row unique on noticeId, and queue processing after commit. Everything else (finding the call,
merging its state, creating inbound calls) happens in `webhook_process`, in a worker.
"""

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from contactcenter.validators import JsonTooDeep, json_loads
from telephony.agora import AgoraError
from telephony.clients import agora_client
from telephony.models import Call, CallEvent, PhoneNumber, WebhookEvent
from telephony.services.calls import AgoraReport, call_apply_report, call_identity
from telephony.states import CallStatus

logger = logging.getLogger(__name__)

CALL_STATE_EVENTS = (201, 202)
AGENT_JOINED, AGENT_LEFT, AGENT_HISTORY, AGENT_ERROR = 101, 102, 103, 110
NOTED_EVENTS = {104: "token about to expire", 111: "metrics", 112: "turns finished"}
MAX_PROCESSING_ATTEMPTS = 5


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def signature_problem(body: bytes, headers: dict[str, str]) -> tuple[str | None, str]:
    """(None, version) when a signature holds; else (what is wrong, version tried).

    Agora-Signature-V2 (hex HMAC-SHA256) is preferred; Agora-Signature (hex HMAC-SHA1) is
    accepted when V2 is absent. Compared in constant time.
    """
    secret = settings.AGORA_WEBHOOK_SECRET
    if not secret:
        return "AGORA_WEBHOOK_SECRET is not set: no webhook can be verified", ""
    for header, version, digest in (
        ("agora-signature-v2", "v2", hashlib.sha256),
        ("agora-signature", "v1", hashlib.sha1),
    ):
        given = headers.get(header)
        if given is None:
            continue
        expected = hmac.new(secret.encode(), body, digest).hexdigest()
        if hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            return None, version
        return f"the {header} signature does not match", version
    return "no Agora-Signature-V2 or Agora-Signature header", ""


def webhook_receive(*, body: bytes, headers: dict[str, str]) -> Answer:
    """Verify and store one notification; processing is queued after commit."""
    problem, version = signature_problem(body, headers)
    if problem:
        # Never log the signatures or the body: they are useless to an attacker's audience.
        logger.warning("webhook refused (%d bytes): %s", len(body), problem)
        return Answer(401, {"error": "invalid signature"})
    try:
        envelope = json_loads(body)
    except JsonTooDeep as error:
        return Answer(400, {"error": f"body is not accepted: {error}"})
    except ValueError:  # UnicodeDecodeError included
        return Answer(400, {"error": "body is not valid JSON"})
    if not isinstance(envelope, dict) or not envelope.get("noticeId"):
        return Answer(400, {"error": "not an Agora notification: noticeId is missing"})
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    notice_id = str(envelope["noticeId"])[:100]
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                notice_id=notice_id,
                product_id=_int(envelope.get("productId")),
                event_type=_int(envelope.get("eventType")),
                notify_ms=_int(envelope.get("notifyMs")),
                sid=str(envelope.get("sid") or "")[:100],
                agent_id=str(payload.get("agent_id") or "")[:64],
                body=envelope,
                signature_version=version,
            )
            transaction.on_commit(lambda: _enqueue_processing(event.id))
    except IntegrityError:
        # Agora delivered it again (a retry, or a duplicate): acknowledge, do nothing twice.
        WebhookEvent.objects.filter(notice_id=notice_id).update(deliveries=F("deliveries") + 1)
        return Answer(200, {"ok": True, "duplicate": True})
    return Answer(200, {"ok": True})


def _enqueue_processing(event_id: int) -> None:
    from telephony.tasks import process_webhook_event

    try:
        process_webhook_event.delay(event_id)
    except BrokerUnavailable:  # the event is stored: the sweeper will process it
        logger.exception("webhook event %s stored but not queued; the sweeper will process it",
                         event_id)  # fmt: skip


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- processing ---------------------------------------------------------------------------------


def webhook_process(*, event_id: int) -> str:
    """Apply one stored notification to its call. Safe to run twice: it runs once per event."""
    event = WebhookEvent.objects.get(pk=event_id)
    if event.status != WebhookEvent.Status.RECEIVED and event.status != WebhookEvent.Status.FAILED:
        return event.status
    payload = event.body.get("payload") if isinstance(event.body.get("payload"), dict) else {}
    try:
        call = _find_call(payload)
        if call is None and event.event_type == 201:
            call = _inbound_call(payload)  # may ask Agora (HTTP) about the call: no lock held
        status = _apply(event, payload, call)
    except AgoraError as error:
        return _record_failure(event, f"asking Agora failed: {error}")
    with transaction.atomic():
        locked = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if locked.status not in (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED):
            return locked.status
        locked.status = status
        locked.call = call
        locked.attempts += 1
        locked.last_error = ""
        locked.processed_at = timezone.now()
        locked.save()
    return status


def _record_failure(event: WebhookEvent, error: str) -> str:
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED,
        attempts=F("attempts") + 1,
        last_error=error[:2000],
    )
    logger.warning("webhook %s failed: %s", event.notice_id, error)
    return WebhookEvent.Status.FAILED


def _find_call(payload: dict) -> Call | None:
    """Our call id from the labels we set, else Agora's agent id."""
    labels = payload.get("labels") if isinstance(payload.get("labels"), dict) else {}
    call_id = labels.get("call_id")
    if call_id:
        try:
            return Call.objects.get(pk=uuid.UUID(str(call_id)))
        except (ValueError, Call.DoesNotExist):
            pass
    agent_id = payload.get("agent_id")
    if agent_id:
        return Call.objects.filter(agent_id=str(agent_id)).first()
    return None


def _inbound_call(payload: dict) -> Call | None:
    """Someone called one of our numbers: create the inbound call to track it."""
    agent_id = payload.get("agent_id")
    if not agent_id:
        return None
    info = agora_client().get_call(str(agent_id))
    number = PhoneNumber.objects.filter(e164=info.to_number, inbound=True).first()
    if number is None:
        return None
    call_id = uuid.uuid4()
    name, _ = call_identity(call_id)
    try:
        with transaction.atomic():
            call = Call.objects.create(
                id=call_id,
                direction=Call.Direction.INBOUND,
                to_number=info.to_number or number.e164,
                from_number=info.from_number or "",
                caller_id=number,
                agora_name=str(payload.get("name") or name)[:64],
                channel=str(payload.get("channel") or info.channel or name)[:64],
                agent_id=str(agent_id),
                pipeline_id=info.pipeline_id or number.inbound_pipeline_id,
            )
            CallEvent.objects.create(
                call=call,
                source=CallEvent.Source.WEBHOOK,
                kind=CallEvent.Kind.STATUS,
                to_status=CallStatus.QUEUED,
                detail=f"inbound call from {call.from_number} to {call.to_number}",
            )
    except IntegrityError:
        # Another notification about the same call created it first.
        return Call.objects.filter(agent_id=str(agent_id)).first()
    return call


def _apply(event: WebhookEvent, payload: dict, call: Call | None) -> str:
    if event.event_type not in (*CALL_STATE_EVENTS, AGENT_JOINED, AGENT_LEFT, AGENT_HISTORY,
                                AGENT_ERROR, *NOTED_EVENTS):  # fmt: skip
        return WebhookEvent.Status.IGNORED
    if call is None:
        return WebhookEvent.Status.UNMATCHED
    report_ms = _int(payload.get("report_ms"))
    if event.event_type in CALL_STATE_EVENTS:
        call_apply_report(
            call_id=call.id,
            report=AgoraReport(
                state=str(payload.get("state") or ""),
                reason=payload.get("reason"),
                report_ms=report_ms,
                raw=payload,
            ),
            source=CallEvent.Source.WEBHOOK,
        )
        return WebhookEvent.Status.PROCESSED
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        kind, detail = CallEvent.Kind.SIGNAL, event.event_type_label
        if event.event_type == AGENT_LEFT:
            detail = f"agent left: {payload.get('status', '')} {payload.get('message', '')}"
        elif event.event_type == AGENT_HISTORY:
            contents = [
                {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                for m in payload.get("contents") or []
                if isinstance(m, dict)
            ]
            if len(contents) >= len(locked.transcript):
                locked.transcript = contents
                locked.save(update_fields=["transcript", "updated_at"])
            detail = f"agent history: {len(contents)} messages"
        elif event.event_type == AGENT_ERROR:
            kind = CallEvent.Kind.ERROR
            detail = f"agent error {payload.get('code', '')}: {payload.get('message', '')}"
            locked.last_error = detail[:1000]
            locked.save(update_fields=["last_error", "updated_at"])
        CallEvent.objects.create(
            call=locked,
            source=CallEvent.Source.WEBHOOK,
            kind=kind,
            report_ms=report_ms,
            detail=detail[:500],
            payload=payload,
        )
    return WebhookEvent.Status.PROCESSED


# -- the sweeper and staff's reprocess ----------------------------------------------------------


def webhooks_sweep(*, now=None, limit: int = 500) -> int:
    """Process events stored but never processed (a lost task, a crashed worker) or failed."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    due = WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.RECEIVED)
        | Q(status=WebhookEvent.Status.FAILED, attempts__lt=MAX_PROCESSING_ATTEMPTS),
        received_at__lt=stale,
    ).order_by("received_at")
    processed = 0
    for event_id in list(due.values_list("id", flat=True)[:limit]):
        webhook_process(event_id=event_id)
        processed += 1
    return processed


def webhook_reprocess(*, event_id: int) -> str:
    """Staff: process an event again (e.g. one that found no call before the call existed)."""
    WebhookEvent.objects.filter(pk=event_id).update(
        status=WebhookEvent.Status.RECEIVED, processed_at=None, last_error=""
    )
    return webhook_process(event_id=event_id)
