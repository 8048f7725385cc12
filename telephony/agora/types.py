"""Request and result types for the Agora REST API.

Results are frozen dataclasses built with ``from_api()``, which tolerates missing and extra
fields (the API's documentation and behaviour drift); the original payload stays in ``raw``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .redaction import REDACTED, register_secret

__all__ = [
    "AGENT_STATUS_CODES",
    "AgentHistory",
    "AgentStatus",
    "CallInfo",
    "CallPage",
    "ChatMessage",
    "PhoneNumberImport",
    "PhoneNumberInfo",
    "PlaceCallRequest",
    "PlacedCall",
    "SpeakResult",
    "Turn",
    "TurnsPage",
]

AGENT_STATUS_CODES: dict[str, int] = {
    "IDLE": 0,
    "STARTING": 1,
    "RUNNING": 2,
    "STOPPING": 3,
    "STOPPED": 4,
    "RECOVERING": 5,
    "FAILED": 6,
}
_STATUS_NAMES = {code: name for name, code in AGENT_STATUS_CODES.items()}
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# "user:password@host" in a SIP address: the password part.
_USERINFO_PASSWORD = re.compile(r"^(?P<user>[^:@/]+):(?P<password>[^@/]+)@")

PROVIDERS = frozenset({"byo", "twilio"})
TRANSPORTS = frozenset({"tls", "tcp", "udp"})


# -- tolerant field readers -------------------------------------------------------------------


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def _ts(value: Any) -> int | None:
    # The API uses 0 and null interchangeably for "not yet".
    number = _int(value)
    return number or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- telephony --------------------------------------------------------------------------------

_RESERVED_PROPERTIES = frozenset({"channel", "token", "agent_rtc_uid", "remote_rtc_uids"})


@dataclass(frozen=True)
class PlaceCallRequest:
    """Body of ``POST /v2/projects/{appid}/call``.

    ``name`` must be unique per call attempt: Agora refuses a repeated name (409), which makes
    it the idempotency key. ``properties`` is merged into the body's ``properties`` (labels,
    llm, tts, asr...); the channel/token/uid keys come from the dedicated fields.
    """

    name: str
    to_number: str
    from_number: str
    sip_rtc_uid: str | int
    sip_rtc_token: str = field(repr=False)
    channel: str
    agent_token: str = field(repr=False)
    agent_rtc_uid: str | int
    remote_rtc_uids: list[str] | None = None
    pipeline_id: str | None = None
    # May hold LLM/TTS API keys: kept out of repr.
    properties: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in (
            "name",
            "to_number",
            "from_number",
            "sip_rtc_uid",
            "sip_rtc_token",
            "channel",
            "agent_token",
            "agent_rtc_uid",
        ):
            value = getattr(self, name)
            if value is None or str(value).strip() == "":
                raise ValueError(f"{name}: required to place a call")
        clashing = sorted(_RESERVED_PROPERTIES & set(self.properties))
        if clashing:
            raise ValueError(
                f"properties: {', '.join(clashing)} must be set through the dedicated fields"
            )
        if str(self.sip_rtc_uid) == str(self.agent_rtc_uid):
            raise ValueError("agent_rtc_uid: must differ from sip_rtc_uid")

    def to_body(self) -> dict[str, Any]:
        """The JSON body exactly as documented (uids as strings)."""
        remote = self.remote_rtc_uids if self.remote_rtc_uids is not None else [self.sip_rtc_uid]
        properties = copy.deepcopy(dict(self.properties))
        properties.update(
            {
                "channel": self.channel,
                "token": self.agent_token,
                "agent_rtc_uid": str(self.agent_rtc_uid),
                "remote_rtc_uids": [str(uid) for uid in remote],
            }
        )
        body: dict[str, Any] = {
            "name": self.name,
            "sip": {
                "to_number": self.to_number,
                "from_number": self.from_number,
                "rtc_uid": str(self.sip_rtc_uid),
                "rtc_token": self.sip_rtc_token,
            },
        }
        if self.pipeline_id is not None:
            body["pipeline_id"] = self.pipeline_id
        body["properties"] = properties
        return body


@dataclass(frozen=True)
class PlacedCall:
    agent_id: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PlacedCall:
        data = _dict(data)
        return cls(agent_id=str(data.get("agent_id") or ""), raw=dict(data))


@dataclass(frozen=True)
class CallInfo:
    """A call as reported by get/list calls. ``state``: "answered", "hangup" or as received."""

    agent_id: str
    channel: str | None = None
    to_number: str | None = None
    from_number: str | None = None
    pipeline_id: str | None = None
    type: str | None = None
    state: str | None = None
    reason: str | None = None
    create_ts: int | None = None
    stop_ts: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CallInfo:
        data = _dict(data)
        return cls(
            agent_id=str(data.get("agent_id") or ""),
            channel=_str(data.get("channel")),
            to_number=_str(data.get("to_number")),
            from_number=_str(data.get("from_number")),
            pipeline_id=_str(data.get("pipeline_id")),
            type=_str(data.get("type")),
            state=_str(data.get("state")),
            reason=_str(data.get("reason")),
            create_ts=_ts(data.get("create_ts")),
            stop_ts=_ts(data.get("stop_ts")),
            raw=dict(data),
        )

    @property
    def is_ended(self) -> bool:
        return self.state == "hangup" or self.stop_ts is not None


@dataclass(frozen=True)
class CallPage:
    calls: list[CallInfo]
    cursor: str | None = None
    total: int | None = None
    count: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CallPage:
        data = _dict(data)
        body = _dict(data.get("data"))
        meta = _dict(data.get("meta"))
        calls = [
            CallInfo.from_api(item) for item in _list(body.get("list")) if isinstance(item, dict)
        ]
        count = _int(body.get("count"))
        return cls(
            calls=calls,
            cursor=_str(meta.get("cursor")),
            total=_int(meta.get("total")),
            count=len(calls) if count is None else count,
            raw=dict(data),
        )


# -- phone numbers ----------------------------------------------------------------------------


def _address_password(address: str | None) -> str | None:
    match = _USERINFO_PASSWORD.match(address or "")
    return unquote(match.group("password")) if match else None


def _mask_address(address: Any) -> Any:
    if not isinstance(address, str):
        return address
    return _USERINFO_PASSWORD.sub(lambda m: f"{m.group('user')}:{REDACTED}@", address)


@dataclass(frozen=True)
class PhoneNumberImport:
    """Body of ``POST /v2/phone-numbers`` (a BYO or Twilio-trunk number)."""

    provider: str
    phone_number: str
    label: str
    inbound: bool = True
    outbound: bool = True
    inbound_allowed_addresses: list[str] = field(default_factory=list)
    # May embed "user:password@host": kept out of repr.
    outbound_address: str | None = field(default=None, repr=False)
    outbound_transport: str | None = None
    outbound_prefix: str | None = None
    outbound_user: str | None = None
    outbound_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"provider: must be one of {sorted(PROVIDERS)}, got {self.provider!r}")
        if not _E164.match(self.phone_number or ""):
            raise ValueError(
                f"phone_number: must be E.164 (+ and digits), got {self.phone_number!r}"
            )
        if not self.label:
            raise ValueError("label: required")
        if self.outbound_transport and self.outbound_transport not in TRANSPORTS:
            raise ValueError(
                f"outbound_transport: must be one of {sorted(TRANSPORTS)}, "
                f"got {self.outbound_transport!r}"
            )
        register_secret(self.outbound_password)
        register_secret(_address_password(self.outbound_address))

    def to_body(self) -> dict[str, Any]:
        outbound_config = {
            key: value
            for key, value in (
                ("address", self.outbound_address),
                ("transport", self.outbound_transport),
                ("prefix", self.outbound_prefix),
                ("user", self.outbound_user),
                ("password", self.outbound_password),
            )
            if value
        }
        return {
            "provider": self.provider,
            "phone_number": self.phone_number,
            "label": self.label,
            "inbound": self.inbound,
            "outbound": self.outbound,
            "inbound_config": {"allowed_addresses": list(self.inbound_allowed_addresses)},
            "outbound_config": outbound_config,
        }


def _sanitize_outbound(config: Any) -> dict[str, Any] | None:
    # Never keep a SIP password read back from the API, even in raw.
    if not isinstance(config, dict):
        return None
    cleaned = {key: value for key, value in config.items() if key != "password"}
    if "address" in cleaned:
        cleaned["address"] = _mask_address(cleaned["address"])
    return cleaned


@dataclass(frozen=True)
class PhoneNumberInfo:
    phone_number: str
    provider: str | None = None
    label: str | None = None
    inbound: bool | None = None
    outbound: bool | None = None
    associated_pipeline_id: str | None = None
    associated_pipeline_name: str | None = None
    inbound_config: dict[str, Any] | None = None
    outbound_config: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PhoneNumberInfo:
        data = dict(_dict(data))
        # One documented example says "associated_agent {agent_id, agent_name}".
        pipeline = _dict(data.get("associated_pipeline")) or _dict(data.get("associated_agent"))
        outbound_config = _sanitize_outbound(data.get("outbound_config"))
        if "outbound_config" in data:
            data["outbound_config"] = outbound_config
        inbound_config = data.get("inbound_config")
        return cls(
            phone_number=str(data.get("phone_number") or ""),
            provider=_str(data.get("provider")),
            label=_str(data.get("label")),
            inbound=_bool(data.get("inbound")),
            outbound=_bool(data.get("outbound")),
            associated_pipeline_id=_str(pipeline.get("pipeline_id") or pipeline.get("agent_id")),
            associated_pipeline_name=_str(
                pipeline.get("pipeline_name") or pipeline.get("agent_name")
            ),
            inbound_config=dict(inbound_config) if isinstance(inbound_config, dict) else None,
            outbound_config=outbound_config,
            raw=data,
        )


# -- agents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentStatus:
    agent_id: str
    status: str | None = None
    status_code: int | None = None
    start_ts: int | None = None
    stop_ts: int | None = None
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AgentStatus:
        data = _dict(data)
        status = data.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            name: str | None = _STATUS_NAMES.get(status, str(status))
        else:
            name = _str(status)
            name = name.upper() if name else None
        return cls(
            agent_id=str(data.get("agent_id") or ""),
            status=name,
            status_code=AGENT_STATUS_CODES.get(name or ""),
            start_ts=_ts(data.get("start_ts")),
            stop_ts=_ts(data.get("stop_ts")),
            message=_str(data.get("message")),
            raw=dict(data),
        )

    @property
    def is_finished(self) -> bool:
        return self.status in {"STOPPED", "FAILED"}


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class AgentHistory:
    agent_id: str
    status: str | None = None
    start_ts: int | None = None
    contents: list[ChatMessage] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AgentHistory:
        data = _dict(data)
        contents = [
            ChatMessage(role=str(item.get("role") or ""), content=str(item.get("content") or ""))
            for item in _list(data.get("contents"))
            if isinstance(item, dict)
        ]
        return cls(
            agent_id=str(data.get("agent_id") or ""),
            status=_str(data.get("status")),
            start_ts=_ts(data.get("start_ts")),
            contents=contents,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Turn:
    turn_id: int | None = None
    start_type: str | None = None
    start_at_ms: int | None = None
    end_type: str | None = None
    end_at_ms: int | None = None
    e2e_latency_ms: float | None = None
    segmented_latency_ms: dict[str, float] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Turn:
        data = _dict(data)
        start = _dict(data.get("start"))
        end = _dict(data.get("end"))
        metrics = _dict(data.get("metrics"))
        segments: dict[str, float] = {}
        for item in _list(metrics.get("segmented_latency_ms")):
            if isinstance(item, dict) and item.get("name"):
                latency = _float(item.get("latency"))
                if latency is not None:
                    segments[str(item["name"])] = latency
        return cls(
            turn_id=_int(data.get("turn_id")),
            start_type=_str(start.get("type")),
            start_at_ms=_int(start.get("start_at")),
            end_type=_str(end.get("type")),
            end_at_ms=_int(end.get("end_at")),
            e2e_latency_ms=_float(metrics.get("e2e_latency_ms")),
            segmented_latency_ms=segments,
            raw=dict(data),
        )


@dataclass(frozen=True)
class TurnsPage:
    agent_id: str
    channel: str | None = None
    total_turn_count: int | None = None
    page_index: int | None = None
    total_pages: int | None = None
    is_last_page: bool = True
    turns: list[Turn] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TurnsPage:
        data = _dict(data)
        pagination = _dict(data.get("pagination"))
        page_index = _int(pagination.get("page_index"))
        total_pages = _int(pagination.get("total_pages"))
        is_last = _bool(pagination.get("is_last_page"))
        if is_last is None:
            # Without the flag, only keep paging when the counts prove there is more.
            is_last = page_index is None or total_pages is None or page_index >= total_pages
        return cls(
            agent_id=str(data.get("agent_id") or ""),
            channel=_str(data.get("channel")),
            total_turn_count=_int(data.get("total_turn_count")),
            page_index=page_index,
            total_pages=total_pages,
            is_last_page=is_last,
            turns=[
                Turn.from_api(item) for item in _list(data.get("turns")) if isinstance(item, dict)
            ],
            raw=dict(data),
        )


@dataclass(frozen=True)
class SpeakResult:
    agent_id: str
    channel: str | None = None
    start_ts: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SpeakResult:
        data = _dict(data)
        return cls(
            agent_id=str(data.get("agent_id") or ""),
            channel=_str(data.get("channel")),
            start_ts=_ts(data.get("start_ts")),
            raw=dict(data),
        )
