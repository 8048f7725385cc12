"""Caller-ID health: how often a person answers calls from each of our numbers over the last 7
days, beside the same figure for the other numbers (its peers). A number answered far less than
its peers is likely shown to callees as spam: it is marked in the number list and on a
campaign's page, and a campaign may take it out of rotation (campaigns.services.caller_ids).
One grouped query; rows as many as numbers."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from telephony.models import Call
from telephony.states import REACHABLE_ENDINGS, CallStatus

HEALTH_SPAN = timedelta(days=7)
# Too few calls say nothing either way: both the number and its peers need this many.
MIN_CALLS = 20
# Flagged when its answer rate is below this share of its peers'.
FLAG_RATIO = 0.5


@dataclass(frozen=True)
class CallerHealth:
    number_id: int
    calls: int
    answered: int
    peer_calls: int
    peer_answered: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None

    @property
    def peer_rate(self) -> float | None:
        return self.peer_answered / self.peer_calls if self.peer_calls else None

    @property
    def flagged(self) -> bool:
        """Answered far less than its peers, on enough calls of both to say so."""
        return (
            self.calls >= MIN_CALLS
            and self.peer_calls >= MIN_CALLS
            and bool(self.peer_rate)
            and self.rate < FLAG_RATIO * self.peer_rate
        )

    def describe(self) -> str:
        if not self.calls:
            return "no calls in 7 days"
        said = f"{round(100 * self.rate)}% of {self.calls} answered"
        if self.peer_rate is not None:
            said += f" (others: {round(100 * self.peer_rate)}%)"
        return said + ("; likely flagged as spam" if self.flagged else "")


def caller_health(calls: QuerySet[Call], *, now: datetime) -> dict[int, CallerHealth]:
    """Each caller ID's health over `calls` (all calls, or a campaign's) in the last 7 days; its
    peers are the other numbers among the same calls."""
    rows = list(
        calls.filter(
            created_at__gte=now - HEALTH_SPAN,
            status__in=REACHABLE_ENDINGS,
            caller_id__isnull=False,
        )
        .order_by()
        .values("caller_id")
        .annotate(calls=Count("id"), answered=Count("id", filter=Q(status=CallStatus.COMPLETED)))
    )
    total_calls = sum(row["calls"] for row in rows)
    total_answered = sum(row["answered"] for row in rows)
    return {
        row["caller_id"]: CallerHealth(
            number_id=row["caller_id"],
            calls=row["calls"],
            answered=row["answered"],
            peer_calls=total_calls - row["calls"],
            peer_answered=total_answered - row["answered"],
        )
        for row in rows
    }
