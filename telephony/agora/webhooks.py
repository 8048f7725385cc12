"""Agora's webhooks (its Notification Center Service, NCS), in both directions.

What a notification is, whoever sends or reads it: the event types of Conversational AI
(productId 17), the signatures over the raw body (verify, for our receiver; sign, for the
simulator), and the envelope and payloads as typed values. No Django and no HTTP: the receiver
(`telephony.services.webhooks`), the `WebhookEvent` model and the simulator build on this.

A notification is untrusted input until its signature holds, and even then its fields may be
missing or of another type than documented: the payload types below say what Agora documents,
and readers still check what they read (``.get`` and ``isinstance``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypedDict

__all__ = [
    "CALL_STATE_EVENTS",
    "PRODUCT_ID",
    "SIGNATURE_HEADERS",
    "AgentErrorPayload",
    "AgentHistoryPayload",
    "AgentLeftPayload",
    "AgentPayload",
    "CallStatePayload",
    "EventType",
    "HistoryMessage",
    "NotANotification",
    "Notification",
    "NotificationEnvelope",
    "SignatureCheck",
    "history_messages",
    "int_or_none",
    "payload_of",
    "sign",
    "verify_signature",
]

# Agora's product id for Conversational AI: every notification we handle carries it.
PRODUCT_ID = 17


class EventType(IntEnum):
    """Event types of productId 17, with the label staff see."""

    label: str

    def __new__(cls, value: int, label: str) -> EventType:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    AGENT_JOINED = 101, "agent joined"
    AGENT_LEFT = 102, "agent left"
    AGENT_HISTORY = 103, "agent history"
    TOKEN_EXPIRING = 104, "token expiring"
    AGENT_ERROR = 110, "agent error"
    AGENT_METRICS = 111, "agent metrics"
    TURNS_FINISHED = 112, "turns finished"
    INBOUND_CALL_STATE = 201, "inbound call state"
    OUTBOUND_CALL_STATE = 202, "outbound call state"

    @classmethod
    def parse(cls, code: int | None) -> EventType | None:
        """The event type of `code`, or None for a code this protocol does not define."""
        try:
            return cls(code)
        except ValueError:
            return None

    @classmethod
    def label_of(cls, code: int | None) -> str:
        """A label for any code, known or not (e.g. ``type 999``)."""
        known = cls.parse(code)
        return known.label if known is not None else f"type {code}"


CALL_STATE_EVENTS = frozenset({EventType.INBOUND_CALL_STATE, EventType.OUTBOUND_CALL_STATE})


# -- signatures ----------------------------------------------------------------------------------

# (header, version, digest), the preferred one first.
SIGNATURE_HEADERS = (
    ("Agora-Signature-V2", "v2", hashlib.sha256),
    ("Agora-Signature", "v1", hashlib.sha1),
)


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Both signature headers Agora sends: hex HMAC-SHA256 (V2) and HMAC-SHA1 (V1) of the body."""
    key = secret.encode()
    return {
        header: hmac.new(key, body, digest).hexdigest() for header, _, digest in SIGNATURE_HEADERS
    }


@dataclass(frozen=True)
class SignatureCheck:
    """What checking a notification's signature found: `problem` is None when it holds."""

    problem: str | None
    version: str  # "v2", "v1", or "" when no signature header was there to check

    @property
    def valid(self) -> bool:
        return self.problem is None


def verify_signature(body: bytes, headers: Mapping[str, str], secret: str) -> SignatureCheck:
    """Check the raw body against its signature, in constant time.

    Agora-Signature-V2 is checked when present; Agora-Signature (V1) only when V2 is absent, so
    a wrong V2 is never rescued by a V1. Header names are matched case-insensitively. With an
    empty secret nothing can be verified (anyone can compute an HMAC with an empty key).
    """
    if not secret:
        return SignatureCheck("no secret to verify the signature with", "")
    given_headers = {name.lower(): value for name, value in headers.items()}
    for header, version, digest in SIGNATURE_HEADERS:
        given = given_headers.get(header.lower())
        if given is None:
            continue
        expected = hmac.new(secret.encode(), body, digest).hexdigest()
        if hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            return SignatureCheck(None, version)
        return SignatureCheck(f"the {header.lower()} signature does not match", version)
    return SignatureCheck("no Agora-Signature-V2 or Agora-Signature header", "")


# -- the envelope and its payloads ---------------------------------------------------------------


class NotificationEnvelope(TypedDict):
    """A notification's JSON body, as Agora sends it."""

    noticeId: str
    productId: int | None
    eventType: int | None
    notifyMs: int  # when this delivery was sent: it changes on every redelivery
    sid: str
    payload: dict[str, Any]


class AgentPayload(TypedDict, total=False):
    """What every Conversational AI payload carries."""

    agent_id: str
    channel: str
    report_ms: int
    labels: dict[str, str]  # the labels given at place-call (we put our call id there)


class CallStatePayload(AgentPayload, total=False):
    """201 and 202: a call's state (START, CALLING, RINGING, ANSWERED, HANGUP)."""

    name: str
    state: str
    reason: str


class AgentLeftPayload(AgentPayload, total=False):
    """102."""

    status: str
    message: str


class HistoryMessage(TypedDict):
    role: str
    content: str


class AgentHistoryPayload(AgentPayload, total=False):
    """103: the conversation, sent when the agent leaves."""

    contents: list[HistoryMessage]


class AgentErrorPayload(AgentPayload, total=False):
    """110."""

    code: int
    message: str


class NotANotification(ValueError):
    """A JSON body that is not an Agora notification (not an object, or no noticeId)."""


@dataclass(frozen=True)
class Notification:
    """One notification, read from its envelope or about to be sent in one."""

    notice_id: str
    event_type: int | None
    sid: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    product_id: int | None = PRODUCT_ID
    notify_ms: int | None = None

    @classmethod
    def from_envelope(cls, envelope: Any) -> Notification:
        """Read a parsed JSON body: raises NotANotification without an object and a noticeId.

        Numbers that are not numbers become None and a payload that is not an object an empty
        one, so a sloppy notification is still stored and shown rather than refused.
        """
        if not isinstance(envelope, dict) or not envelope.get("noticeId"):
            raise NotANotification("not an Agora notification: noticeId is missing")
        payload = envelope.get("payload")
        return cls(
            notice_id=str(envelope["noticeId"]),
            event_type=int_or_none(envelope.get("eventType")),
            sid=str(envelope.get("sid") or ""),
            payload=payload if isinstance(payload, dict) else {},
            product_id=int_or_none(envelope.get("productId")),
            notify_ms=int_or_none(envelope.get("notifyMs")),
        )

    @property
    def agent_id(self) -> str:
        return str(self.payload.get("agent_id") or "")

    def envelope(self, *, notify_ms: int) -> NotificationEnvelope:
        """The JSON body of one delivery sent at `notify_ms`."""
        return {
            "noticeId": self.notice_id,
            "productId": self.product_id,
            "eventType": self.event_type,
            "notifyMs": notify_ms,
            "sid": self.sid,
            "payload": self.payload,
        }

    def encode(self, *, notify_ms: int) -> bytes:
        """The raw body of one delivery (compact JSON, what the signatures cover)."""
        return json.dumps(self.envelope(notify_ms=notify_ms), separators=(",", ":")).encode()


def history_messages(payload: AgentHistoryPayload) -> list[HistoryMessage]:
    """The conversation of a 103, as strings; entries that are not objects are skipped."""
    return [
        {"role": str(message.get("role", "")), "content": str(message.get("content", ""))}
        for message in payload.get("contents") or []
        if isinstance(message, dict)
    ]


def payload_of(envelope: Any) -> dict[str, Any]:
    """The payload of a stored envelope ({} when it has none)."""
    payload = envelope.get("payload") if isinstance(envelope, dict) else None
    return payload if isinstance(payload, dict) else {}


def int_or_none(value: Any) -> int | None:
    """A number read from a notification, or None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
