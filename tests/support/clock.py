"""The one clock of the suite.

Every test runs on the process clock pinned (time-machine) at PINNED_AT, a fixed Wednesday
afternoon in UTC, so no test depends on today's date or the time of day, and data built with
`clock.now()` agrees with what the code under test reads from `timezone.now()`, model defaults
and token builders included. The pinned clock ticks (waiting loops still work) unless a test
stops it (`clock.move_to(..., tick=False)`).

Tests that start other processes (Celery workers, beat, the simulator server, a browser) share
the real clock with them: they are marked `real_clock`, and build their data from `clock.now()`
too (e.g. contacts in a time zone where it is daytime now: `daytime_zone`).
"""

from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone

# 18:00 UTC: 10:00 in San Francisco, 13:00 in New York (the suite's usual callees), inside
# every calling window the tests use.
PINNED_AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


class Clock:
    """What a test reads and moves. Real-clock tests get one that cannot be moved."""

    def __init__(self, traveller: time_machine.Traveller | None) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        return timezone.now()

    def move_to(self, when: datetime, *, tick: bool = True) -> None:
        self._moving().move_to(when, tick=tick)

    def advance(self, seconds: float = 0, **delta: float) -> None:
        self._moving().shift(timedelta(seconds=seconds, **delta))

    def _moving(self) -> time_machine.Traveller:
        if self._traveller is None:
            raise RuntimeError("this test runs on the real clock (marked real_clock)")
        return self._traveller


def is_pinned() -> bool:
    return time_machine.escape_hatch.is_travelling()


def daytime_zone(at: datetime, *, local_hour: int = 12) -> str:
    """A fixed-offset IANA zone in which `at` falls around `local_hour` (for real-clock tests
    whose callees must be inside the calling hours whenever the suite runs)."""
    offset = (local_hour - at.astimezone(UTC).hour + 12) % 24 - 12  # -12 .. +11 hours
    # POSIX-style names: "Etc/GMT-3" is three hours *ahead* of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
