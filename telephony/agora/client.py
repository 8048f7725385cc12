"""Synchronous client for Agora's Conversational AI REST API (telephony, numbers, agents).

Resilience lives in one place, ``AgoraClient._request``:

* regional failover: after a connection error or a 5xx the next regional host is used, for
  the retry and for later requests;
* retries with exponential backoff and full jitter for 429/502/503/504 and network errors,
  but only for requests that are safe to repeat; a request that provably never left this
  machine (connect error/timeout) is retried whatever it is;
* ``Retry-After`` is honoured up to ``max_retry_after``; longer waits are handed back to the
  caller (``error.retry_after``) so a Celery task can retry later without blocking a worker.

Nothing secret is logged: one line per attempt (operation, method, path, status, attempt,
elapsed ms), bodies only at DEBUG and only through ``redact()``.
"""

from __future__ import annotations

import base64
import logging
import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

from .config import AgoraConfig
from .errors import (
    RETRYABLE_STATUSES,
    AgoraConfigurationError,
    AgoraError,
    AgoraTransportError,
    ConcurrencyLimitExceeded,
    UnexpectedResponse,
    error_from_response,
)
from .redaction import redact, register_secret, scrub
from .regions import base_urls
from .tokens import build_rtc_token
from .types import (
    AgentHistory,
    AgentStatus,
    CallInfo,
    CallPage,
    PhoneNumberImport,
    PhoneNumberInfo,
    PlaceCallRequest,
    PlacedCall,
    SpeakResult,
    Turn,
    TurnsPage,
)

__all__ = ["UNSET", "USER_AGENT", "AgoraClient"]

USER_AGENT = "contactcenter/0.1"

CALL_TYPES = frozenset({"inbound", "outbound"})
SPEAK_PRIORITIES = frozenset({"INTERRUPT", "APPEND", "IGNORE"})
# What a `think` instruction does in each state of the agent (Agora's names and defaults).
THINK_ACTIONS = {
    "on_listening_action": (frozenset({"inject", "interrupt", "ignore"}), "interrupt"),
    "on_thinking_action": (frozenset({"interrupt", "ignore"}), "interrupt"),
    "on_speaking_action": (frozenset({"interrupt", "ignore"}), "ignore"),
}
MAX_SPEAK_BYTES = 512
TURNS_PAGE_SIZE_RANGE = (10, 200)
# A guard against a server that never reports its last page.
MAX_PAGES = 10_000

# Raised before any byte of the request left: repeating cannot duplicate anything.
_NOTHING_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
_BODY_PREVIEW_CHARS = 500


class _Unset:
    """Sentinel type: "leave this field out" as opposed to None ("clear it")."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()


def _segment(value: str, *, name: str) -> str:
    """One URL path segment, percent-encoded ("+" -> "%2B", "/" can't escape the path)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: required")
    return quote(value.strip(), safe="")


def _epoch(value: int | float | datetime | None, *, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: datetime must be timezone-aware")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a Unix timestamp or a datetime, got {value!r}")
    return int(value)


# Who hears of every answer Agora gave (operation, then the HTTP status or the transport
# error's name): the app's metrics register one; the client knows nothing of them.
_request_observers: list[Callable[[str, str], None]] = []


def observe_requests(observer: Callable[[str, str], None]) -> None:
    if observer not in _request_observers:
        _request_observers.append(observer)


def _tell_observers(operation: str, answer: str) -> None:
    for observer in _request_observers:
        try:
            observer(operation, answer)
        except Exception:  # an observer never breaks a request
            logging.getLogger(__name__).debug("a request observer failed", exc_info=True)


class AgoraClient:
    """One configured connection to the Agora REST API. Thread-safe; close it when done."""

    def __init__(
        self,
        config: AgoraConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._random = random
        self._log = logger or logging.getLogger(__name__)
        self._hosts: tuple[str, ...] = tuple(base_urls(config.area, config.base_url))
        self._host_index = 0
        self._host_lock = threading.Lock()
        self._basic: str | None = None
        if config.customer_id and config.customer_secret:
            credential = base64.b64encode(
                f"{config.customer_id}:{config.customer_secret}".encode()
            ).decode("ascii")
            register_secret(credential)
            self._basic = f"Basic {credential}"
        self._project = f"/v2/projects/{_segment(config.app_id, name='app_id')}"
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=config.connect_timeout,
            ),
            follow_redirects=False,
            # Keep every connection a batch of placements opened (a thread each, up to
            # CALL_PLACEMENT_BATCH_SIZE): with httpx's default of 20 kept, each batch over 20
            # would reconnect the rest.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgoraClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AgoraClient(app_id={self.config.app_id!r}, base_url={self.base_url!r})"

    @property
    def hosts(self) -> tuple[str, ...]:
        """Base URLs in failover order."""
        return self._hosts

    @property
    def base_url(self) -> str:
        """The base URL the next request goes to."""
        with self._host_lock:
            return self._hosts[self._host_index]

    # -- telephony ----------------------------------------------------------------------------

    def place_call(
        self,
        request: PlaceCallRequest,
        *,
        auth_channel: str | None = None,
        retries: int | None = None,
    ) -> PlacedCall:
        """Dial out. A 409 raises ``CallNameConflict``: the call with that name already exists.

        Retried on network errors even after the request may have been sent: the unique name
        turns a duplicate into a 409 instead of a second call. `retries` replaces the
        configured number (0: one request; the caller retries after its own checks).
        """
        path = f"{self._project}/call"
        data = self._json_object(
            self._request(
                "POST",
                path,
                json=request.to_body(),
                safe_to_repeat=True,
                operation="place_call",
                auth_channel=auth_channel or request.channel,
                retries=retries,
            ),
            operation="place_call",
        )
        placed = PlacedCall.from_api(data)
        if not placed.agent_id:
            raise UnexpectedResponse(
                f"POST {path} -> 200 without an agent_id",
                method="POST",
                path=path,
                status_code=200,
                operation="place_call",
            )
        return placed

    def get_call(self, agent_id: str, *, auth_channel: str | None = None) -> CallInfo:
        path = f"{self._project}/calls/{_segment(agent_id, name='agent_id')}"
        response = self._request(
            "GET", path, safe_to_repeat=True, operation="get_call", auth_channel=auth_channel
        )
        return CallInfo.from_api(self._json_object(response, operation="get_call"))

    def list_calls(
        self,
        *,
        number: str | None = None,
        from_time: int | float | datetime | None = None,
        to_time: int | float | datetime | None = None,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        auth_channel: str | None = None,
    ) -> CallPage:
        """One page of call records; pass ``page.cursor`` back as ``cursor`` for the next."""
        params: dict[str, str | int] = {}
        if number:
            params["number"] = number
        if (start := _epoch(from_time, name="from_time")) is not None:
            params["from_time"] = start
        if (end := _epoch(to_time, name="to_time")) is not None:
            params["to_time"] = end
        if type is not None:
            if type not in CALL_TYPES:
                raise ValueError(f"type: must be one of {sorted(CALL_TYPES)}, got {type!r}")
            params["type"] = type
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
                raise ValueError(f"limit: must be a positive integer, got {limit!r}")
            params["limit"] = limit
        if cursor:
            params["cursor"] = cursor
        response = self._request(
            "GET",
            f"{self._project}/call",
            params=params,
            safe_to_repeat=True,
            operation="list_calls",
            auth_channel=auth_channel,
        )
        return CallPage.from_api(self._json_object(response, operation="list_calls"))

    def iter_calls(
        self,
        *,
        number: str | None = None,
        from_time: int | float | datetime | None = None,
        to_time: int | float | datetime | None = None,
        type: str | None = None,
        page_size: int = 100,
        auth_channel: str | None = None,
    ) -> Iterator[CallInfo]:
        """Every matching call, following ``meta.cursor`` until it is null or empty."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = self.list_calls(
                number=number,
                from_time=from_time,
                to_time=to_time,
                type=type,
                limit=page_size,
                cursor=cursor,
                auth_channel=auth_channel,
            )
            yield from page.calls
            if not page.cursor or not page.calls:
                return
            if page.cursor in seen:
                raise AgoraError(
                    f"GET {self._project}/call: cursor {page.cursor!r} came back twice; "
                    "stopping instead of paging in a loop",
                    method="GET",
                    path=f"{self._project}/call",
                    operation="iter_calls",
                )
            seen.add(page.cursor)
            cursor = page.cursor

    def hangup_call(self, agent_id: str, *, auth_channel: str | None = None) -> None:
        """Hang up and make the agent leave. Repeating it is harmless."""
        path = f"{self._project}/calls/{_segment(agent_id, name='agent_id')}/hangup"
        self._request(
            "POST",
            path,
            json={},
            safe_to_repeat=True,
            operation="hangup_call",
            auth_channel=auth_channel,
        )

    # -- phone numbers (account-level: always Basic auth) -------------------------------------

    def list_phone_numbers(self) -> list[PhoneNumberInfo]:
        response = self._request(
            "GET",
            "/v2/phone-numbers",
            safe_to_repeat=True,
            operation="list_phone_numbers",
            account_level=True,
        )
        data = self._json(response, operation="list_phone_numbers")
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]  # tolerate an enveloped list
        if not isinstance(data, list):
            raise self._unexpected(response, "list_phone_numbers", "expected a JSON array")
        return [PhoneNumberInfo.from_api(item) for item in data if isinstance(item, dict)]

    def import_phone_number(self, number: PhoneNumberImport) -> PhoneNumberInfo:
        """Register a number with Agora. Not retried after it may have been sent (not idempotent:
        a duplicate answers 409 phone_number_exists)."""
        response = self._request(
            "POST",
            "/v2/phone-numbers",
            json=number.to_body(),
            safe_to_repeat=False,
            operation="import_phone_number",
            account_level=True,
        )
        return PhoneNumberInfo.from_api(
            self._json_object(response, operation="import_phone_number")
        )

    def get_phone_number(self, phone_number: str) -> PhoneNumberInfo:
        response = self._request(
            "GET",
            self._number_path(phone_number),
            safe_to_repeat=True,
            operation="get_phone_number",
            account_level=True,
        )
        return PhoneNumberInfo.from_api(self._json_object(response, operation="get_phone_number"))

    def update_phone_number(
        self,
        phone_number: str,
        *,
        inbound_pipeline_id: str | _Unset | None = UNSET,
        outbound_pipeline_id: str | _Unset | None = UNSET,
    ) -> PhoneNumberInfo:
        """Bind (a pipeline id), clear (None) or leave alone (UNSET) each direction's agent."""
        body: dict[str, Any] = {}
        for key, value in (
            ("inbound_config", inbound_pipeline_id),
            ("outbound_config", outbound_pipeline_id),
        ):
            if isinstance(value, _Unset):
                continue
            if value is None:
                body[key] = None
            elif isinstance(value, str) and value.strip():
                body[key] = {"pipeline_id": value}
            else:
                raise ValueError(f"{key}: pipeline id must be a non-empty string, None or UNSET")
        if not body:
            raise ValueError("update_phone_number: nothing to update")
        response = self._request(
            "PATCH",
            self._number_path(phone_number),
            json=body,
            safe_to_repeat=False,
            operation="update_phone_number",
            account_level=True,
        )
        return PhoneNumberInfo.from_api(
            self._json_object(response, operation="update_phone_number")
        )

    def delete_phone_number(self, phone_number: str) -> None:
        """Remove the number from Agora (not from the carrier)."""
        self._request(
            "DELETE",
            self._number_path(phone_number),
            safe_to_repeat=True,
            operation="delete_phone_number",
            account_level=True,
        )

    # -- agents -------------------------------------------------------------------------------

    def get_agent_status(self, agent_id: str, *, auth_channel: str | None = None) -> AgentStatus:
        response = self._request(
            "GET",
            self._agent_path(agent_id),
            safe_to_repeat=True,
            operation="get_agent_status",
            auth_channel=auth_channel,
        )
        return AgentStatus.from_api(self._json_object(response, operation="get_agent_status"))

    def get_agent_history(self, agent_id: str, *, auth_channel: str | None = None) -> AgentHistory:
        """The conversation so far (only while the agent runs)."""
        response = self._request(
            "GET",
            self._agent_path(agent_id, "history"),
            safe_to_repeat=True,
            operation="get_agent_history",
            auth_channel=auth_channel,
        )
        return AgentHistory.from_api(self._json_object(response, operation="get_agent_history"))

    def get_agent_turns(
        self,
        agent_id: str,
        *,
        page_index: int = 1,
        page_size: int = 50,
        auth_channel: str | None = None,
    ) -> TurnsPage:
        """One page of per-turn latency metrics (kept by Agora for 7 days)."""
        low, high = TURNS_PAGE_SIZE_RANGE
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise ValueError(f"page_size: must be an integer, got {page_size!r}")
        if not low <= page_size <= high:
            raise ValueError(f"page_size: must be in {low}..{high}, got {page_size}")
        if isinstance(page_index, bool) or not isinstance(page_index, int) or page_index < 1:
            raise ValueError(f"page_index: must be an integer >= 1, got {page_index!r}")
        response = self._request(
            "GET",
            self._agent_path(agent_id, "turns"),
            params={"page_index": page_index, "page_size": page_size},
            safe_to_repeat=True,
            operation="get_agent_turns",
            auth_channel=auth_channel,
        )
        return TurnsPage.from_api(self._json_object(response, operation="get_agent_turns"))

    def iter_agent_turns(
        self, agent_id: str, *, page_size: int = 100, auth_channel: str | None = None
    ) -> Iterator[Turn]:
        """Every turn of a session, page after page until ``is_last_page``."""
        for page_index in range(1, MAX_PAGES + 1):
            page = self.get_agent_turns(
                agent_id, page_index=page_index, page_size=page_size, auth_channel=auth_channel
            )
            yield from page.turns
            if page.is_last_page or not page.turns:
                return
        raise AgoraError(
            f"GET {self._agent_path(agent_id, 'turns')}: no last page after {MAX_PAGES} pages",
            method="GET",
            path=self._agent_path(agent_id, "turns"),
            operation="iter_agent_turns",
        )

    def leave_agent(self, agent_id: str, *, auth_channel: str | None = None) -> None:
        """Stop the agent."""
        self._request(
            "POST",
            self._agent_path(agent_id, "leave"),
            safe_to_repeat=False,
            operation="leave_agent",
            auth_channel=auth_channel,
        )

    def speak(
        self,
        agent_id: str,
        *,
        text: str,
        priority: str = "INTERRUPT",
        interruptable: bool = True,
        auth_channel: str | None = None,
    ) -> SpeakResult:
        """Have the agent say ``text`` (TTS). Not retried once sent: it could be said twice."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text: required")
        size = len(text.encode("utf-8"))
        if size > MAX_SPEAK_BYTES:
            raise ValueError(f"text: at most {MAX_SPEAK_BYTES} bytes of UTF-8, got {size}")
        if priority not in SPEAK_PRIORITIES:
            raise ValueError(f"priority: must be one of {sorted(SPEAK_PRIORITIES)}")
        response = self._request(
            "POST",
            self._agent_path(agent_id, "speak"),
            json={"text": text, "priority": priority, "interruptable": bool(interruptable)},
            safe_to_repeat=False,
            operation="speak",
            auth_channel=auth_channel,
        )
        return SpeakResult.from_api(self._json_object(response, operation="speak"))

    def think(
        self,
        agent_id: str,
        *,
        text: str,
        interruptable: bool = True,
        metadata: Mapping[str, str] | None = None,
        auth_channel: str | None = None,
        **actions: str,
    ) -> SpeakResult:
        """Inject an instruction the agent answers as if the callee had said it (a supervisor's
        whisper). `actions`: on_listening_action, on_thinking_action, on_speaking_action (see
        THINK_ACTIONS). Not retried once sent: the agent could act on it twice."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text: required")
        body: dict[str, Any] = {"text": text, "interruptable": bool(interruptable)}
        for name, value in actions.items():
            if name not in THINK_ACTIONS:
                raise ValueError(f"{name}: not a think action ({', '.join(THINK_ACTIONS)})")
            allowed, _ = THINK_ACTIONS[name]
            if value not in allowed:
                raise ValueError(f"{name}: must be one of {sorted(allowed)}")
            body[name] = value
        if metadata is not None:
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
                raise ValueError("metadata: a map of strings to strings")
            body["metadata"] = dict(metadata)
        response = self._request(
            "POST",
            self._agent_path(agent_id, "think"),
            json=body,
            safe_to_repeat=False,
            operation="think",
            auth_channel=auth_channel,
        )
        return SpeakResult.from_api(self._json_object(response, operation="think"))

    def interrupt_agent(self, agent_id: str, *, auth_channel: str | None = None) -> SpeakResult:
        response = self._request(
            "POST",
            self._agent_path(agent_id, "interrupt"),
            json={},
            safe_to_repeat=False,
            operation="interrupt_agent",
            auth_channel=auth_channel,
        )
        return SpeakResult.from_api(self._json_object(response, operation="interrupt_agent"))

    # -- plumbing -----------------------------------------------------------------------------

    def _number_path(self, phone_number: str) -> str:
        return f"/v2/phone-numbers/{_segment(phone_number, name='phone_number')}"

    def _agent_path(self, agent_id: str, action: str | None = None) -> str:
        path = f"{self._project}/agents/{_segment(agent_id, name='agent_id')}"
        return f"{path}/{action}" if action else path

    def _authorization(self, *, account_level: bool, auth_channel: str | None) -> str:
        if account_level or self.config.auth_mode == "basic":
            if self._basic is None:
                raise AgoraConfigurationError(
                    "customer_id/customer_secret: both are required for Basic authentication "
                    "(set AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET)"
                )
            return self._basic
        if not auth_channel:
            raise AgoraConfigurationError(
                "auth_channel: required for project endpoints when auth_mode is 'token' "
                "(the token is scoped to one channel)"
            )
        token = build_rtc_token(
            app_id=self.config.app_id,
            app_certificate=self.config.app_certificate,
            channel=auth_channel,
            uid=0,
            ttl_seconds=self.config.token_ttl,
        )
        return f"agora token={token}"

    def _fail_over(self, failed_index: int) -> None:
        # Only move on if nobody else already did, so concurrent failures skip one host, not two.
        with self._host_lock:
            if self._host_index == failed_index:
                self._host_index = (failed_index + 1) % len(self._hosts)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** min(attempt, 32))
        return self._random() * cap

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        safe_to_repeat: bool,
        operation: str,
        auth_channel: str | None = None,
        account_level: bool = False,
        retries: int | None = None,
    ) -> httpx.Response:
        """Send with failover and retries (`retries`, else the configured number); return the
        2xx response or raise a typed error."""
        headers = {
            "Authorization": self._authorization(
                account_level=account_level, auth_channel=auth_channel
            )
        }
        if json is not None and self._log.isEnabledFor(logging.DEBUG):
            self._log.debug(
                "agora %s %s %s request body: %s", operation, method, path, redact(json)
            )
        max_retries = self.config.max_retries if retries is None else retries
        maybe_delivered = False
        attempt = 0
        while True:
            with self._host_lock:
                index = self._host_index
            url = self._hosts[index] + path
            started = time.monotonic()
            try:
                response = self._http.request(
                    method, url, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                _tell_observers(operation, type(exc).__name__)
                nothing_sent = isinstance(exc, _NOTHING_SENT)
                maybe_delivered = maybe_delivered or not nothing_sent
                self._fail_over(index)
                retry = attempt < max_retries and (safe_to_repeat or nothing_sent)
                delay = self._backoff(attempt) if retry else None
                self._log.warning(
                    "agora %s %s %s -> %s attempt=%d elapsed_ms=%.0f %s",
                    operation,
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    elapsed_ms,
                    f"retry_in={delay:.2f}s" if delay is not None else "giving up",
                )
                if delay is None:
                    outcome = (
                        "the request may have reached Agora"
                        if maybe_delivered
                        else "nothing was sent"
                    )
                    raise AgoraTransportError(
                        f"{method} {path} -> {type(exc).__name__} after {attempt + 1} "
                        f"attempt(s); {outcome}",
                        response_lost=maybe_delivered,
                        method=method,
                        path=path,
                        operation=operation,
                    ) from exc
                self._sleep(delay)
                attempt += 1
                continue

            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            _tell_observers(operation, str(status))
            if 200 <= status < 300:
                self._log.info(
                    "agora %s %s %s -> %d attempt=%d elapsed_ms=%.0f",
                    operation,
                    method,
                    path,
                    status,
                    attempt + 1,
                    elapsed_ms,
                )
                if self._log.isEnabledFor(logging.DEBUG):
                    self._log.debug(
                        "agora %s response body: %s", operation, self._preview(response)
                    )
                return response

            error = error_from_response(
                status_code=status,
                body=response.content,
                method=method,
                path=path,
                headers=response.headers,
                operation=operation,
            )
            if status >= 500:
                self._fail_over(index)
            delay = None
            if (
                status in RETRYABLE_STATUSES
                and safe_to_repeat
                and attempt < max_retries
                and not isinstance(error, ConcurrencyLimitExceeded)
            ):
                if status in (429, 503) and error.retry_after is not None:
                    # Honour the server's wait if it is short; otherwise hand it to the caller.
                    if error.retry_after <= self.config.max_retry_after:
                        delay = error.retry_after
                else:
                    delay = self._backoff(attempt)
            self._log.warning(
                "agora %s %s %s -> %d %s attempt=%d elapsed_ms=%.0f %s",
                operation,
                method,
                path,
                status,
                error.reason or "-",
                attempt + 1,
                elapsed_ms,
                f"retry_in={delay:.2f}s" if delay is not None else "giving up",
            )
            if self._log.isEnabledFor(logging.DEBUG):
                self._log.debug("agora %s error body: %s", operation, self._preview(response))
            if delay is None:
                raise error
            self._sleep(delay)
            attempt += 1

    @staticmethod
    def _preview(response: httpx.Response) -> Any:
        try:
            return redact(response.json())
        except ValueError:
            return scrub(response.text[:_BODY_PREVIEW_CHARS])

    @staticmethod
    def _unexpected(response: httpx.Response, operation: str, what: str) -> AgoraError:
        request = response.request
        # The API path without the host, base prefix or query string, as in other errors.
        full_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        start = full_path.find("/v2/")
        path = full_path[start:] if start >= 0 else full_path
        return UnexpectedResponse(
            f"{request.method} {path} -> {response.status_code}: {what}",
            status_code=response.status_code,
            method=request.method,
            path=path,
            operation=operation,
        )

    def _json(self, response: httpx.Response, *, operation: str) -> Any:
        if not response.content.strip():
            raise self._unexpected(response, operation, "empty body, expected JSON")
        try:
            return response.json()
        except ValueError:
            content_type = response.headers.get("content-type", "no content type")
            raise self._unexpected(
                response, operation, f"body is not JSON ({content_type})"
            ) from None

    def _json_object(self, response: httpx.Response, *, operation: str) -> dict[str, Any]:
        data = self._json(response, operation=operation)
        if not isinstance(data, dict):
            raise self._unexpected(
                response, operation, f"expected a JSON object, got {type(data).__name__}"
            )
        return data
