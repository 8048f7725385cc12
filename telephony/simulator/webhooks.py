"""Sending Agora-style (NCS) webhook notifications: queueing, redelivery and faults.

The protocol (event types, envelope, signatures) is `telephony.agora.webhooks`, shared with our
receiver; this module only decides when each notification is sent, and how often.
"""

import heapq
import itertools
import logging
import random
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.agora.webhooks import EventType, Notification, sign

logger = logging.getLogger(__name__)

# (url, raw body, headers) -> HTTP status; an exception counts as a failed attempt.
Sender = Callable[[str, bytes, dict[str, str]], int]


@dataclass(frozen=True)
class WebhookFaults:
    duplicate_rate: float = 0.0  # deliver a second copy of the same notice
    reorder_rate: float = 0.0  # hold a notice back so later ones overtake it
    reorder_delay: float = 2.0
    delay_seconds: float = 0.0  # every notice is sent this much later
    drop_rate: float = 0.0  # never sent at all

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1")
        if self.reorder_delay < 0 or self.delay_seconds < 0:
            raise ValueError("reorder_delay and delay_seconds: must be >= 0")


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    notification: Notification = field(compare=False)
    attempt: int = field(default=0, compare=False)  # 0 = first delivery, then retries
    duplicate: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class DeliveryAttempt:
    notice_id: str
    event_type: int
    attempt: int
    at: float
    status: int | None
    error: str | None
    duplicate: bool

    @property
    def ok(self) -> bool:
        return self.status == 200


class WebhookOutbox:
    """Queues notifications and sends them when due; not 200 means retry with growing delays."""

    def __init__(
        self,
        *,
        url: str | None,
        secret: str,
        sender: Sender | None,
        rng: random.Random,
        faults: WebhookFaults | None = None,
        retry_delays: tuple[float, ...] = (0.0, 2.0, 8.0),
        history: int = 100_000,
    ) -> None:
        self.url = url
        self.secret = secret
        self.sender = sender
        self.faults = faults or WebhookFaults()
        self.retry_delays = retry_delays
        self._rng = rng
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._seq = itertools.count()
        self._notice_prefix = secrets.randbelow(9_000_000_000) + 1_000_000_000
        self.attempts: deque[DeliveryAttempt] = deque(maxlen=history)
        self.counts: Counter[str] = Counter()

    def emit(self, *, event_type: EventType, payload: dict, at: float) -> Notification | None:
        """Queue one notification of `event_type` that happened at `at` (faults applied)."""
        seq, code = next(self._seq), int(event_type)
        notification = Notification(
            notice_id=f"{self._notice_prefix}:{seq}:{code}",
            event_type=code,
            sid=secrets.token_hex(8).upper(),
            payload=payload,
        )
        with self._lock:
            self.counts["emitted"] += 1
            if not self.url:
                self.counts["not_sent_no_url"] += 1
                return notification
            faults = self.faults
            if faults.drop_rate and self._rng.random() < faults.drop_rate:
                self.counts["dropped"] += 1
                return notification
            due = at + faults.delay_seconds
            if faults.reorder_rate and self._rng.random() < faults.reorder_rate:
                self.counts["reordered"] += 1
                due += faults.reorder_delay
            heapq.heappush(self._queue, _Pending(due, seq, notification))
            if faults.duplicate_rate and self._rng.random() < faults.duplicate_rate:
                self.counts["duplicated"] += 1
                copy_due = due + self._rng.uniform(0.0, 1.0)
                heapq.heappush(
                    self._queue, _Pending(copy_due, next(self._seq), notification, duplicate=True)
                )
        return notification

    def next_due(self) -> float | None:
        with self._lock:
            return self._queue[0].due if self._queue else None

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def take_due(self, now: float) -> list[_Pending]:
        with self._lock:
            due = []
            while self._queue and self._queue[0].due <= now:
                due.append(heapq.heappop(self._queue))
            return due

    def body(self, notification: Notification, *, now: float) -> bytes:
        # notifyMs changes on every redelivery, as Agora's does (so does the signature).
        return notification.encode(notify_ms=int(now * 1000))

    def send(self, pending: _Pending, *, now: float) -> DeliveryAttempt:
        """Send one due delivery (outside any simulator lock) and schedule a retry on failure."""
        body = self.body(pending.notification, now=now)
        headers = {"Content-Type": "application/json", **sign(body, self.secret)}
        status: int | None = None
        error: str | None = None
        if self.sender is None:
            error = "no sender configured"
        else:
            try:
                status = self.sender(self.url or "", body, headers)
            except Exception as exc:  # any failure to deliver is an attempt that failed
                error = f"{type(exc).__name__}: {exc}"
        attempt = DeliveryAttempt(
            notice_id=pending.notification.notice_id,
            event_type=pending.notification.event_type,
            attempt=pending.attempt,
            at=now,
            status=status,
            error=error,
            duplicate=pending.duplicate,
        )
        with self._lock:
            self.attempts.append(attempt)
            if attempt.ok:
                self.counts["delivered"] += 1
            elif pending.attempt < len(self.retry_delays):
                self.counts["retried"] += 1
                retry_due = now + self.retry_delays[pending.attempt]
                heapq.heappush(
                    self._queue,
                    _Pending(
                        retry_due,
                        next(self._seq),
                        pending.notification,
                        attempt=pending.attempt + 1,
                        duplicate=pending.duplicate,
                    ),
                )
            else:
                self.counts["failed"] += 1
                logger.warning(
                    "webhook %s (event %s) not delivered after %d attempts: %s",
                    pending.notification.notice_id,
                    pending.notification.event_type,
                    pending.attempt + 1,
                    error or f"HTTP {status}",
                )
        return attempt
