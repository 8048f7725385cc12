"""Per-call credentials for the in-call tools, and the `llm.mcp_servers` entry that carries one.

Each placement of a call gets a random bearer token; only its SHA-256 is stored. A tool request
names its call by that token alone, so it can act on its own call and contact and nothing else,
and only while the call is live or within MCP_CREDENTIAL_GRACE_SECONDS of its end."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings

from telephony.models import Call, CallToolCredential
from telephony.tools import MCP_SERVER_NAME, TOOL_NAMES


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tools_offered(call: Call) -> bool:
    return bool(settings.MCP_PUBLIC_URL) and bool(
        call.agent_profile and call.agent_profile.tools_enabled
    )


def tool_token_new() -> str:
    """A fresh bearer token for one placement; it means nothing until stored."""
    return secrets.token_urlsafe(32)


def tool_credentials_store(issued: list[tuple[Call, str]], *, now: datetime) -> None:
    """Store the placements' tokens (their hashes), one statement for a batch."""
    CallToolCredential.objects.bulk_create(
        [CallToolCredential(call=call, token_hash=_hash(token), created_at=now)
         for call, token in issued]
    )  # fmt: skip


def tool_credential_issue(call: Call, *, now: datetime) -> str:
    token = tool_token_new()
    tool_credentials_store([(call, token)], now=now)
    return token


def tool_credential_call(token: str, *, now: datetime) -> Call | None:
    """The call this token was issued for, if it may still act on it."""
    if not token:
        return None
    credential = (
        CallToolCredential.objects.select_related("call", "call__agent_profile")
        .filter(token_hash=_hash(token))
        .first()
    )
    if credential is None:
        return None
    call = credential.call
    if call.is_terminal:
        ended = call.ended_at or call.updated_at
        if now > ended + timedelta(seconds=settings.MCP_CREDENTIAL_GRACE_SECONDS):
            return None
    return call


def mcp_server_entry(token: str) -> dict:
    """Our entry in the agent's `llm.mcp_servers` (Agora's join properties)."""
    return {
        "name": MCP_SERVER_NAME,
        "endpoint": settings.MCP_PUBLIC_URL,
        "transport": "streamable_http",
        "headers": {"Authorization": f"Bearer {token}"},
        "allowed_tools": list(TOOL_NAMES),
        "timeout_ms": settings.MCP_TOOL_TIMEOUT_MS,
    }
