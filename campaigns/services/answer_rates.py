"""When people answer: calls and how many a person answered, by weekday and hour of the day in
the callee's own local time (the heat map on a campaign's page and the dashboard).

The callee's zone is the call's explicit one (a campaign call carries its contact's), else its
number's (campaigns.windows.contact_zones, the first where a number spans several). The
database groups by zone, number prefix and hour, so the rows read grow with the span and the
spread of numbers, not with the number of calls; the local weekday and hour of each group are
worked out here.
"""

from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache

from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Substr, TruncHour

from campaigns.windows import NoTimeZone, contact_zones
from telephony.models import Call
from telephony.states import REACHABLE_ENDINGS, CallStatus

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Long enough to share the number's zone (country, area code and exchange).
PREFIX_LENGTH = 8


@dataclass(frozen=True)
class Cell:
    calls: int = 0
    answered: int = 0

    @property
    def rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None


@dataclass(frozen=True)
class AnswerRates:
    cells: dict[tuple[int, int], Cell]  # (weekday 0 = Monday, local hour) → its calls
    calls: int
    answered: int
    unplaced: int  # calls whose zone nothing says (counted nowhere in the grid)

    @property
    def rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None

    @property
    def hours(self) -> range:
        """The local hours any call was made in, first to last (the columns to show)."""
        hours = [hour for _, hour in self.cells]
        return range(min(hours), max(hours) + 1) if hours else range(0)

    def best(self, *, least_calls: int = 5) -> tuple[int, int] | None:
        """The weekday and hour with the highest answer rate among those with enough calls."""
        enough = [(cell.rate, key) for key, cell in self.cells.items() if cell.calls >= least_calls]
        return max(enough)[1] if enough else None


@lru_cache(maxsize=4096)
def _zone(number: str, explicit: str):
    try:
        return contact_zones(number, explicit)[0]
    except NoTimeZone:
        return None


def answer_rates(calls: QuerySet[Call]) -> AnswerRates:
    """The answer rate of `calls` by the callee's local weekday and hour."""
    rows = (
        calls.filter(status__in=REACHABLE_ENDINGS)
        .order_by()
        .annotate(
            prefix=Substr("to_number", 1, PREFIX_LENGTH), hour=TruncHour("created_at", tzinfo=UTC)
        )
        .values("callee_timezone", "prefix", "hour")
        .annotate(
            number=Min("to_number"),
            calls=Count("id"),
            answered=Count("id", filter=Q(status=CallStatus.COMPLETED)),
        )
    )
    totals: dict[tuple[int, int], list[int]] = {}
    unplaced = 0
    for row in rows.iterator(chunk_size=2000):
        zone = _zone(row["number"], row["callee_timezone"] or "")
        if zone is None:
            unplaced += row["calls"]
            continue
        local = row["hour"].astimezone(zone)
        cell = totals.setdefault((local.weekday(), local.hour), [0, 0])
        cell[0] += row["calls"]
        cell[1] += row["answered"]
    cells = {key: Cell(calls, answered) for key, (calls, answered) in totals.items()}
    return AnswerRates(
        cells=cells,
        calls=sum(cell.calls for cell in cells.values()),
        answered=sum(cell.answered for cell in cells.values()),
        unplaced=unplaced,
    )
