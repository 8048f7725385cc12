"""Faults on the simulator's Agora API requests: rates (configured) and one-offs (injected).

`FaultInjector.fault_for(operation)` is asked once per request by the HTTP layer (`http.py`),
which plays the fault: an error or a 429 answer without effect, a lost answer after the
request took effect, or added latency. Webhook faults are the outbox's (`webhooks.py`).
"""

import random
import threading
from collections import deque
from dataclasses import dataclass

FAULT_KINDS = ("error", "rate_limit", "lost_response", "latency")


@dataclass(frozen=True)
class HttpFaults:
    """Faults applied to Agora API requests (never to the simulator's own /_simulator paths)."""

    error_rate: float = 0.0  # answer with `error_status`; the request has no effect
    error_status: int = 503
    rate_limit_rate: float = 0.0  # answer 429 with Retry-After; no effect
    retry_after: float = 1.0
    latency_seconds: float = 0.0  # added before every answer
    lost_response_rate: float = 0.0  # the request takes effect, the answer never arrives
    operations: frozenset[str] | None = None  # None: every operation

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "lost_response_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status: must be a 5xx status")
        if self.latency_seconds < 0 or self.retry_after < 0:
            raise ValueError("latency_seconds and retry_after: must be >= 0")


@dataclass(frozen=True)
class Fault:
    kind: str  # one of FAULT_KINDS
    status: int = 503
    retry_after: float = 1.0
    seconds: float = 0.0


class FaultInjector:
    """Decides which fault, if any, each request meets. Thread-safe; seeded, so repeatable."""

    def __init__(self, http: HttpFaults, *, seed: int) -> None:
        self.http = http
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._lock = threading.Lock()
        self._injected: deque[tuple[Fault, str | None]] = deque()

    def set_http_faults(self, faults: HttpFaults) -> None:
        with self._lock:
            self.http = faults

    def inject(
        self,
        kind: str,
        *,
        operation: str | None = None,
        times: int = 1,
        status: int = 503,
        retry_after: float = 1.0,
        seconds: float = 0.0,
    ) -> None:
        """Make the next `times` requests (of `operation`, or any) fail in this way."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind: must be one of {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, status=status, retry_after=retry_after, seconds=seconds)
        with self._lock:
            for _ in range(times):
                self._injected.append((fault, operation))

    def clear_injected(self) -> None:
        with self._lock:
            self._injected.clear()

    def fault_for(self, operation: str) -> Fault | None:
        """The fault (if any) this request meets: injected ones first, then the rates."""
        with self._lock:
            for index, (fault, wanted) in enumerate(self._injected):
                if wanted is None or wanted == operation:
                    del self._injected[index]
                    return fault
            faults = self.http
            if faults.operations is not None and operation not in faults.operations:
                return None
            roll = self._rng.random
            if faults.error_rate and roll() < faults.error_rate:
                return Fault("error", status=faults.error_status)
            if faults.rate_limit_rate and roll() < faults.rate_limit_rate:
                return Fault("rate_limit", retry_after=faults.retry_after)
            if faults.lost_response_rate and roll() < faults.lost_response_rate:
                return Fault("lost_response", seconds=faults.latency_seconds)
            if faults.latency_seconds:
                return Fault("latency", seconds=faults.latency_seconds)
        return None
