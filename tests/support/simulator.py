"""Talking to the simulator in tests: its test credentials, a webhook catcher, request builders."""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field

import httpx

from telephony.agora import AgoraClient, PhoneNumberImport, PlaceCallRequest
from telephony.agora.tokens import build_call_tokens
from telephony.simulator import ManualClock, sim_transport

APP_ID = "simapp"


CUSTOMER_ID = "sim-customer"


CUSTOMER_SECRET = "sim-customer-secret"


APP_CERTIFICATE = "sim-app-certificate"


WEBHOOK_URL = "http://receiver.test/webhooks/agora/"


WEBHOOK_SECRET = "sim-webhook-secret"


CALLER = "+14155550100"


@dataclass
class WebhookCatcher:
    """Receives the simulator's webhook POSTs; answers `status` (or raises `error`)."""

    status: int = 200
    error: Exception | None = None
    received: list[dict] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.received.append({"url": url, "body": body, "headers": dict(headers)})
        if self.error is not None:
            raise self.error
        return self.status

    def envelopes(self) -> list[dict]:
        return [json.loads(item["body"]) for item in self.received]

    def events(self, agent_id: str | None = None) -> list[tuple[int, str | None]]:
        """(eventType, payload state) in arrival order, for one agent or all."""
        return [
            (envelope["eventType"], envelope["payload"].get("state"))
            for envelope in self.envelopes()
            if agent_id is None or envelope["payload"].get("agent_id") == agent_id
        ]


def verify_signatures(body: bytes, headers: dict[str, str], secret: str = WEBHOOK_SECRET) -> None:
    """An independent check of both signature headers over the raw body."""
    v1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    v2 = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["Agora-Signature"], v1)
    assert hmac.compare_digest(headers["Agora-Signature-V2"], v2)


def import_number(client: AgoraClient, number: str = CALLER, **overrides) -> None:
    values = {
        "provider": "byo",
        "phone_number": number,
        "label": "Sales line",
        "outbound_address": "sip.carrier.example",
        "outbound_transport": "tls",
        **overrides,
    }
    client.import_phone_number(PhoneNumberImport(**values))


# Where an in-process simulator's ManualClock starts.
SIMULATOR_START = ManualClock().now()


def call_request(
    to_number: str,
    *,
    name: str,
    channel: str | None = None,
    from_number: str = CALLER,
    labels: dict | None = None,
    pipeline_id: str | None = "pipeline-1",
    signed_at: float = SIMULATOR_START,
    **properties,
) -> PlaceCallRequest:
    """A place-call request whose tokens are signed at `signed_at`: the in-process simulator's
    starting time by default; a simulator server checks them against the real clock."""
    channel = channel or f"ch-{name}"
    tokens = build_call_tokens(
        app_id=APP_ID,
        app_certificate=APP_CERTIFICATE,
        channel=channel,
        agent_uid=111,
        sip_uid=100,
        now=signed_at,
    )
    return PlaceCallRequest(
        name=name,
        to_number=to_number,
        from_number=from_number,
        sip_rtc_uid=tokens.sip_uid,
        sip_rtc_token=tokens.sip_token,
        channel=channel,
        agent_token=tokens.agent_token,
        agent_rtc_uid=tokens.agent_uid,
        pipeline_id=pipeline_id,
        properties={"labels": labels or {"call_id": name}, **properties},
    )


BASIC = {
    "Authorization": "Basic "
    + base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()
}


def raw(simulator, method, path, *, json=None, headers=None, content=None) -> httpx.Response:
    """A request straight to the simulator's Agora API, bypassing the client's checks."""
    with httpx.Client(transport=sim_transport(simulator), base_url="http://sim.test") as http:
        return http.request(
            method,
            f"/api/conversational-ai-agent{path}",
            json=json,
            headers=headers,
            content=content,
        )
