"""Agora Conversational AI REST client: calls, phone numbers and agents.

Plain httpx, no Django: configuration comes in as an ``AgoraConfig``.
"""

from .client import UNSET, AgoraClient
from .config import AgoraConfig
from .errors import (
    AgoraAPIError,
    AgoraConfigurationError,
    AgoraError,
    AgoraTransportError,
    BadRequest,
    CallNameConflict,
    ConcurrencyLimitExceeded,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
    error_from_response,
    retry_delay,
)
from .regions import base_urls
from .tokens import CallTokens, build_call_tokens, build_rtc_token
from .types import (
    AGENT_STATUS_CODES,
    AgentHistory,
    AgentStatus,
    CallInfo,
    CallPage,
    ChatMessage,
    PhoneNumberImport,
    PhoneNumberInfo,
    PlaceCallRequest,
    PlacedCall,
    SpeakResult,
    Turn,
    TurnsPage,
)

__all__ = [
    "AGENT_STATUS_CODES",
    "UNSET",
    "AgentHistory",
    "AgentStatus",
    "AgoraAPIError",
    "AgoraClient",
    "AgoraConfig",
    "AgoraConfigurationError",
    "AgoraError",
    "AgoraTransportError",
    "BadRequest",
    "CallInfo",
    "CallNameConflict",
    "CallPage",
    "CallTokens",
    "ChatMessage",
    "ConcurrencyLimitExceeded",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PhoneNumberImport",
    "PhoneNumberInfo",
    "PlaceCallRequest",
    "PlacedCall",
    "RateLimited",
    "ServerError",
    "SpeakResult",
    "Turn",
    "TurnsPage",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "base_urls",
    "build_call_tokens",
    "build_rtc_token",
    "error_from_response",
    "retry_delay",
]
