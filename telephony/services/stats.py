"""Figures about calls for the staff console: outcomes, answer rate, talk time and calls over
time. Each function is a fixed number of grouped queries, whatever the number of calls."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncHour, TruncMinute

from telephony.models import Call
from telephony.states import LIVE_STATUSES, TERMINAL_STATUSES, CallStatus


@dataclass(frozen=True)
class OutcomeGroup:
    """Statuses shown together (in charts, one color each)."""

    key: str
    label: str
    color: str
    statuses: frozenset[str]


OUTCOME_GROUPS = (
    OutcomeGroup("completed", "Completed", "#15803d", frozenset({CallStatus.COMPLETED})),
    OutcomeGroup("voicemail", "Voicemail", "#db2777", frozenset({CallStatus.VOICEMAIL})),
    OutcomeGroup("no_answer", "No answer", "#b45309", frozenset({CallStatus.NO_ANSWER})),
    OutcomeGroup("busy", "Busy", "#f59e0b", frozenset({CallStatus.BUSY})),
    OutcomeGroup("failed", "Failed", "#b91c1c", frozenset({CallStatus.FAILED})),
    OutcomeGroup("canceled", "Canceled", "#9ca3af", frozenset({CallStatus.CANCELED})),
    OutcomeGroup("live", "In progress", "#2563eb", frozenset(LIVE_STATUSES)),
    OutcomeGroup("queued", "Queued", "#6b7280", frozenset({CallStatus.QUEUED})),
)
_GROUP_OF = {status: group.key for group in OUTCOME_GROUPS for status in group.statuses}

# Bucket sizes a calls-over-time chart may use, smallest first.
BUCKET_SIZES = tuple(
    timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
)
MAX_BUCKETS = 48


@dataclass(frozen=True)
class CallSummary:
    by_group: dict[str, int]
    total: int
    ended_outbound: int
    answered_outbound: int
    average_talk_seconds: float | None

    @property
    def answer_rate(self) -> float | None:
        """Answered share of the outbound calls that ended (None before any ended)."""
        if not self.ended_outbound:
            return None
        return self.answered_outbound / self.ended_outbound


@dataclass(frozen=True)
class CallHistogram:
    starts: list[datetime]  # each bucket's start (UTC)
    bucket: timedelta
    counts: dict[str, list[int]]  # outcome group key -> count per bucket

    @property
    def total(self) -> int:
        return sum(sum(values) for values in self.counts.values())


def call_summary(calls: QuerySet[Call]) -> CallSummary:
    """Outcome counts, answer rate and average talk time of `calls` (two queries)."""
    by_group = dict.fromkeys((group.key for group in OUTCOME_GROUPS), 0)
    for row in calls.order_by().values("status").annotate(n=Count("id")):
        by_group[_GROUP_OF.get(row["status"], "queued")] += row["n"]
    ended_outbound = Q(direction=Call.Direction.OUTBOUND, status__in=TERMINAL_STATUSES)
    answered = Q(answered_at__isnull=False)
    figures = calls.order_by().aggregate(
        ended_outbound=Count("id", filter=ended_outbound),
        answered_outbound=Count("id", filter=ended_outbound & answered),
        average_talk=Avg("duration_seconds", filter=answered & Q(status__in=TERMINAL_STATUSES)),
    )
    return CallSummary(
        by_group=by_group,
        total=sum(by_group.values()),
        ended_outbound=figures["ended_outbound"],
        answered_outbound=figures["answered_outbound"],
        average_talk_seconds=figures["average_talk"],
    )


def bucket_size_for(span: timedelta) -> timedelta:
    """The smallest bucket that keeps a span within MAX_BUCKETS columns."""
    for size in BUCKET_SIZES:
        if span <= size * MAX_BUCKETS:
            return size
    days = -(-span // timedelta(days=1) // MAX_BUCKETS)  # ceil
    return timedelta(days=max(1, days))


def _floor(moment: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // size) * size


def call_histogram(
    calls: QuerySet[Call], *, start: datetime, end: datetime, bucket: timedelta | None = None
) -> CallHistogram:
    """Calls created between `start` and `end`, counted per bucket and outcome group.

    The database groups by minute (by hour for buckets of an hour or more), so the rows read
    stay bounded by the span, not by the number of calls; buckets are then summed here."""
    end = max(end, start + timedelta(minutes=1))
    bucket = bucket or bucket_size_for(end - start)
    first = _floor(start, bucket)
    count = -(-(end - first) // bucket)
    starts = [first + index * bucket for index in range(count)]
    counts = {group.key: [0] * count for group in OUTCOME_GROUPS}
    trunc = TruncMinute if bucket < timedelta(hours=1) else TruncHour
    truncate = trunc("created_at", tzinfo=UTC)
    rows = (
        calls.filter(created_at__gte=first, created_at__lt=end)
        .order_by()
        .annotate(slot=truncate)
        .values("slot", "status")
        .annotate(n=Count("id"))
    )
    per_slot: dict[tuple[int, str], int] = defaultdict(int)
    for row in rows:
        index = (row["slot"] - first) // bucket
        if 0 <= index < count:
            per_slot[(index, _GROUP_OF.get(row["status"], "queued"))] += row["n"]
    for (index, group), n in per_slot.items():
        counts[group][index] += n
    return CallHistogram(starts=starts, bucket=bucket, counts=counts)
