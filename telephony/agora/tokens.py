"""RTC token building: the one place that knows the token format.

Today this produces AccessToken (``006``) tokens with ``agora-token-builder``; switching to
AccessToken2 (``007``) only changes ``build_rtc_token``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
import zlib
from dataclasses import dataclass, field

from agora_token_builder import RtcTokenBuilder
from agora_token_builder.AccessToken import kJoinChannel, unPackContent, unPackMessages

from .redaction import register_secret

__all__ = [
    "MAX_TOKEN_TTL",
    "CallTokens",
    "build_call_tokens",
    "build_rtc_token",
    "rtc_token_problem",
]

MAX_TOKEN_TTL = 86_400  # Agora refuses tokens valid for longer than a day.
_ROLE_PUBLISHER = 1
_MAX_UID = 2**32 - 1  # RTC uids are unsigned 32-bit integers.


def _uid_int(uid: str | int, *, field_name: str) -> int:
    try:
        value = int(uid)
    except (TypeError, ValueError):
        raise ValueError(f"{field_name}: must be an integer RTC uid, got {uid!r}") from None
    if isinstance(uid, bool) or not 0 <= value <= _MAX_UID:
        raise ValueError(f"{field_name}: must be between 0 and {_MAX_UID}, got {uid!r}")
    return value


def _check_ttl(ttl_seconds: int) -> int:
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float):
        raise ValueError(f"ttl_seconds: must be a number of seconds, got {ttl_seconds!r}")
    if ttl_seconds <= 0 or ttl_seconds > MAX_TOKEN_TTL:
        raise ValueError(f"ttl_seconds: must be in 1..{MAX_TOKEN_TTL}, got {ttl_seconds!r}")
    return int(ttl_seconds)


def build_rtc_token(
    *,
    app_id: str,
    app_certificate: str,
    channel: str,
    uid: str | int,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """A publisher RTC token for ``uid`` in ``channel`` that expires ``ttl_seconds`` from now."""
    for name, value in (("app_id", app_id), ("app_certificate", app_certificate)):
        if not value or not str(value).strip():
            raise ValueError(f"{name}: required to build an RTC token")
    if not channel or not str(channel).strip():
        raise ValueError("channel: required to build an RTC token")
    ttl = _check_ttl(ttl_seconds)
    uid_value = _uid_int(uid, field_name="uid")
    expires_at = int(time.time() if now is None else now) + ttl
    token = RtcTokenBuilder.buildTokenWithUid(
        app_id, app_certificate, channel, uid_value, _ROLE_PUBLISHER, expires_at
    )
    # One per call: ephemeral keeps the process-wide registry bounded.
    register_secret(token, ephemeral=True)
    return token


@dataclass(frozen=True)
class CallTokens:
    """The two tokens an outbound call needs: the agent's and the SIP gateway's."""

    agent_uid: str
    sip_uid: str
    agent_token: str = field(repr=False)
    sip_token: str = field(repr=False)
    expires_at: int


def build_call_tokens(
    *,
    app_id: str,
    app_certificate: str,
    channel: str,
    agent_uid: str | int,
    sip_uid: str | int,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> CallTokens:
    """Tokens for the agent and the SIP gateway joining the same channel with distinct uids."""
    agent = _uid_int(agent_uid, field_name="agent_uid")
    sip = _uid_int(sip_uid, field_name="sip_uid")
    if agent == sip:
        raise ValueError("sip_uid: must differ from agent_uid (one uid per channel member)")
    issued_at = int(time.time() if now is None else now)
    ttl = _check_ttl(ttl_seconds)
    common = {
        "app_id": app_id,
        "app_certificate": app_certificate,
        "channel": channel,
        "ttl_seconds": ttl,
        "now": issued_at,
    }
    return CallTokens(
        agent_uid=str(agent),
        sip_uid=str(sip),
        agent_token=build_rtc_token(uid=agent, **common),
        sip_token=build_rtc_token(uid=sip, **common),
        expires_at=issued_at + ttl,
    )


def rtc_token_problem(
    token: str,
    *,
    app_id: str,
    app_certificate: str,
    channel: str,
    uid: str | int,
    now: float | None = None,
) -> str | None:
    """Check a token as Agora does when it is used: None if valid, else what is wrong with it."""
    prefix = f"006{app_id}"
    if not isinstance(token, str) or not token.startswith(prefix):
        return "not an AccessToken for this app id"
    try:
        content = base64.b64decode(token[len(prefix) :], validate=True)
        signature, crc_channel, crc_uid, message = unPackContent(content)
        _salt, _issued, privileges = unPackMessages(message)
    except (binascii.Error, struct.error, ValueError, IndexError, TypeError, UnicodeDecodeError):
        return "malformed token"
    uid_text = "" if str(uid) == "0" else str(uid)
    if crc_channel != zlib.crc32(channel.encode()) & 0xFFFFFFFF:
        return f"token is for another channel than {channel!r}"
    if crc_uid != zlib.crc32(uid_text.encode()) & 0xFFFFFFFF:
        return f"token is for another uid than {uid!r}"
    signed = app_id.encode() + channel.encode() + uid_text.encode() + message
    expected = hmac.new(app_certificate.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(
        signature if isinstance(signature, bytes) else signature.encode("latin-1"), expected
    ):
        return "token signature does not match the app certificate"
    expires_at = privileges.get(kJoinChannel, 0)
    if expires_at and expires_at < (time.time() if now is None else now):
        return "token has expired"
    return None
