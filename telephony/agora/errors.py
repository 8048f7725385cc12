"""Typed errors for the Agora REST client.

Callers (Celery tasks) branch on the class and on ``retryable`` / ``retry_after``; messages are
scrubbed so they can be logged or stored as-is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from contactcenter.redaction import scrub

__all__ = [
    "AgoraAPIError",
    "AgoraConfigurationError",
    "AgoraError",
    "AgoraTransportError",
    "BadRequest",
    "CallNameConflict",
    "ConcurrencyLimitExceeded",
    "Conflict",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "error_from_response",
    "parse_retry_after",
    "retry_delay",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
CONCURRENCY_REASONS = frozenset({"ConcurrencyLimitExceeded", "ResourceQuotaLimitExceeded"})
# Error bodies are echoed into messages; cap them so an HTML error page doesn't flood the logs.
MAX_DETAIL_CHARS = 300


class AgoraConfigurationError(ValueError):
    """The client is missing a setting it needs (credentials, certificate, auth channel)."""


class AgoraError(Exception):
    """Base class for everything the Agora client raises after a request was attempted."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = scrub(reason) if reason else None
        self.detail = scrub(detail) if detail else None
        self.method = method
        # Only the path: never a host or a query string.
        self.path = path.split("?", 1)[0] if path else path
        self.retry_after = retry_after
        self.operation = operation
        self.message = scrub(message) if message else self._default_message()
        super().__init__(self.message)

    def _default_message(self) -> str:
        where = " ".join(part for part in (self.method, self.path) if part) or "Agora request"
        text = f"{where} -> {self.status_code}" if self.status_code is not None else where
        if self.reason:
            text += f" {self.reason}"
        if self.detail:
            text += f": {self.detail}"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g}s)"
        return scrub(text)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep every attribute through pickling (Celery results, multiprocessing).
        return (_restore_error, (type(self), self.__dict__.copy()))

    @property
    def retryable(self) -> bool:
        """Whether trying the same request again later can succeed."""
        return False


def _restore_error(cls: type[AgoraError], state: dict[str, Any]) -> AgoraError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class UnexpectedResponse(AgoraError):
    """A 2xx response whose body is not what the API documents (not JSON, wrong shape)."""


class AgoraTransportError(AgoraError):
    """The request failed at the network level (after any retries).

    ``response_lost`` is True when the request may have reached Agora (read timeout, dropped
    connection): the operation's outcome is unknown. False means nothing was sent.
    """

    def __init__(
        self, message: str | None = None, *, response_lost: bool = True, **kwargs: Any
    ) -> None:
        self.response_lost = response_lost
        super().__init__(message, **kwargs)

    @property
    def retryable(self) -> bool:
        return True


class AgoraAPIError(AgoraError):
    """Agora answered with an HTTP error status."""

    @property
    def retryable(self) -> bool:
        return self.status_code in RETRYABLE_STATUSES


class BadRequest(AgoraAPIError):
    """400: malformed request (e.g. invalid_phone_format)."""


class Unauthorized(AgoraAPIError):
    """401: wrong credentials or token."""


class Forbidden(AgoraAPIError):
    """403: credentials valid but not allowed (e.g. InvalidPermission)."""


class NotFound(AgoraAPIError):
    """404: unknown agent, call or phone number."""


class Conflict(AgoraAPIError):
    """409: duplicate or concurrent modification."""


class CallNameConflict(Conflict):
    """409 from place_call: a call with this name exists, so the call was already placed."""


class Unprocessable(AgoraAPIError):
    """422: the body failed validation."""


class RateLimited(AgoraAPIError):
    """429: slow down; ``retry_after`` says for how long when Agora told us."""


class ServerError(AgoraAPIError):
    """5xx."""


class ConcurrencyLimitExceeded(AgoraAPIError):
    """The app id's concurrent agent (PCU) or resource quota is used up, whatever the status.

    Not retried inline by the client (capacity frees up on the scale of a call, not seconds),
    but ``retryable`` so a task can try again later.
    """

    @property
    def retryable(self) -> bool:
        return True


_BY_STATUS: dict[int, type[AgoraAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


# However long Agora asks us to wait, a task tries again after this at the latest.
RETRY_AFTER_CEILING = 600.0


def retry_delay(error: AgoraError, *, retries: int, base: float, cap: float) -> float:
    """Seconds before a task sends an Agora request again after `error`.

    Agora's Retry-After when it gave one (at most RETRY_AFTER_CEILING); else exponential,
    `base * 2**retries` (`retries`: how many times the task was already retried), at most `cap`.
    The one rule for every task; the client's own inline retries are separate (AgoraClient).
    """
    if error.retry_after:
        return min(RETRY_AFTER_CEILING, float(error.retry_after))
    return float(min(cap, base * 2 ** min(max(retries, 0), 32)))


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)  # httpx.Headers is case-insensitive already
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    # Non-strings, e.g. FastAPI-style validation errors: "detail": [{"loc": ..., "msg": ...}]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_DETAIL_CHARS]


def _parse_body(body: bytes | str | dict | None) -> tuple[str | None, str | None]:
    """(reason, detail) from either error shape, or from a non-JSON body's text."""
    if body is None or body in (b"", ""):
        return None, None
    data: Any = body
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        try:
            data = json.loads(text)
        except ValueError:
            return None, _as_text(" ".join(text.split()))
    if not isinstance(data, dict):
        return None, _as_text(data)
    reason = _as_text(data.get("reason") or data.get("error_type") or data.get("code"))
    detail = _as_text(data.get("detail") or data.get("description") or data.get("message"))
    return reason, detail


def error_from_response(
    *,
    status_code: int,
    body: bytes | str | dict | None,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    operation: str | None = None,
) -> AgoraAPIError:
    """Build the typed error for an HTTP error response (either documented body shape)."""
    reason, detail = _parse_body(body)
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    cls: type[AgoraAPIError]
    if reason in CONCURRENCY_REASONS:
        cls = ConcurrencyLimitExceeded
    elif status_code == 409 and operation == "place_call":
        cls = CallNameConflict
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status_code, AgoraAPIError)
    return cls(
        status_code=status_code,
        reason=reason,
        detail=detail,
        method=method,
        path=path,
        retry_after=retry_after,
        operation=operation,
    )
