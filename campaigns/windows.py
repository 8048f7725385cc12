"""When a contact may be called (invariant 3): the campaign's weekdays and daily window, in the
contact's own local time, inside the system-wide guard that no campaign can widen, narrowed by
the rules of the callee's region (hours per weekday, days without calls) and closed on dates
without calls (public holidays, company blackout dates), each in the callee's local date.

A number that maps to several time zones (phonenumbers' data) may be called only when the
window is open in all of them; a contact's explicit time zone replaces the number's.
Everything here is pure: instants in, instants out, so it can be checked exhaustively.
"""

import functools
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from phonenumbers import timezone as number_timezones

UNKNOWN_ZONE = "Etc/Unknown"
SEARCH_DAYS = 15  # days of openings looked at together (two weeks covers any weekday set)
SEARCH_LIMIT_DAYS = 400  # past a year of holidays and blackout dates: never, as things stand


class NoTimeZone(ValueError):
    """Nothing says where the contact is: calling would risk the wrong hour."""


def contact_zones(phone: str, override: str = "") -> tuple[ZoneInfo, ...]:
    """The contact's time zones: its explicit one, else every zone its number may be in."""
    if override:
        try:
            return (ZoneInfo(override),)
        except (ZoneInfoNotFoundError, ValueError):
            raise NoTimeZone(f"unknown time zone {override!r}") from None
    return _number_zones(phone)


@functools.lru_cache(maxsize=65_536)
def _number_zones(phone: str) -> tuple[ZoneInfo, ...]:
    """Every zone a number may be in (phonenumbers' metadata: the same as long as the process
    runs; asked of every call several times). Failures are not cached: they raise."""
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        raise NoTimeZone(f"{phone} cannot be read as a phone number") from None
    names = sorted(set(number_timezones.time_zones_for_number(parsed)) - {UNKNOWN_ZONE})
    if not names:
        raise NoTimeZone(f"no time zone is known for {phone}; set the contact's timezone")
    return tuple(ZoneInfo(name) for name in names)


@dataclass(frozen=True)
class DayHours:
    """A narrowing of the window on some weekdays (a regional rule): hours within which calls
    may be made those days, or none at all (`start` and `end` None)."""

    weekdays: frozenset[int]
    start: time | None = None
    end: time | None = None

    @property
    def closed(self) -> bool:
        return self.start is None or self.end is None


@dataclass(frozen=True)
class CallingWindow:
    start: time  # inclusive, local wall-clock time
    end: time  # exclusive
    weekdays: frozenset[int]  # 0 = Monday
    narrowed_by: tuple[DayHours, ...] = ()  # the callee's region's rules
    closed_dates: frozenset[date] = frozenset()  # holidays, blackout dates (local dates)

    @classmethod
    def for_campaign(cls, *, start: time, end: time, weekdays, guard=None) -> "CallingWindow":
        """The campaign's window narrowed to the guard (settings.CALLING_HOURS_GUARD)."""
        guard_start, guard_end = guard or calling_hours_guard()
        return cls(
            start=max(start, guard_start),
            end=min(end, guard_end),
            weekdays=frozenset(int(day) for day in weekdays),
        )

    @classmethod
    def guard_only(cls, guard=None) -> "CallingWindow":
        """The guard itself, every day: what a call outside any campaign answers to."""
        guard_start, guard_end = guard or calling_hours_guard()
        return cls(start=guard_start, end=guard_end, weekdays=frozenset(range(7)))

    def narrowed(
        self, rules: tuple[DayHours, ...] = (), closed_dates: frozenset[date] = frozenset()
    ) -> "CallingWindow":
        """This window inside a region's rules and without `closed_dates` as well."""
        return replace(
            self,
            narrowed_by=self.narrowed_by + tuple(rules),
            closed_dates=self.closed_dates | closed_dates,
        )

    def hours_on(self, day: date) -> tuple[time, time] | None:
        """The local hours calls may be made on `day` (None: not that day)."""
        if day in self.closed_dates:
            return None
        return self._weekday_hours[day.weekday()]

    def weekday_hours(self, weekday: int) -> tuple[time, time] | None:
        """The local hours on that weekday (0 = Monday), closed dates aside."""
        return self._weekday_hours[weekday]

    @functools.cached_property
    def _weekday_hours(self) -> tuple[tuple[time, time] | None, ...]:
        return tuple(self._hours_on_weekday(weekday) for weekday in range(7))

    def _hours_on_weekday(self, weekday: int) -> tuple[time, time] | None:
        if weekday not in self.weekdays:
            return None
        start, end = self.start, self.end
        for rule in self.narrowed_by:
            if weekday in rule.weekdays:
                if rule.closed:
                    return None
                start, end = max(start, rule.start), min(end, rule.end)
        return (start, end) if start < end else None

    def base_hours_on(self, day: date) -> tuple[time, time] | None:
        """The hours before the region's rules and closed dates (the campaign's or guard's)."""
        if day.weekday() not in self.weekdays or self.start >= self.end:
            return None
        return self.start, self.end

    @property
    def is_empty(self) -> bool:
        """No weekday has any hours (closed dates aside)."""
        return not any(self._weekday_hours)


def calling_hours_guard() -> tuple[time, time]:
    return (
        time.fromisoformat(settings.CALLING_HOURS_GUARD_START),
        time.fromisoformat(settings.CALLING_HOURS_GUARD_END),
    )


def is_open(at: datetime, zones: tuple[ZoneInfo, ...], window: CallingWindow) -> bool:
    """Whether `at` (an aware instant) is inside the window in every one of `zones`."""
    if window.is_empty or not zones:
        return False
    for zone in zones:
        local = at.astimezone(zone)
        hours = window.hours_on(local.date())
        if hours is None or not hours[0] <= local.time().replace(tzinfo=None) < hours[1]:
            return False
    return True


def _local_instants(day: date, wall: time, zone: ZoneInfo) -> set[datetime]:
    """The instants at which `zone` first shows `wall` (or later) on `day`: one, two when the
    clocks fall back over it, or the moment they spring forward over it."""
    naive = datetime.combine(day, wall)
    variants = {naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
    exact = {i for i in variants if i.astimezone(zone).replace(tzinfo=None) == naive}
    if exact:
        return exact
    # `wall` does not exist that day: the window opens when the clocks jump over it.
    low, high = min(variants), max(variants)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    # Clocks change on a whole second: the first whole second that shows `wall` or later.
    opening = high.replace(microsecond=0)
    if opening.astimezone(zone).replace(tzinfo=None) < naive:
        opening += timedelta(seconds=1)
    return {opening}


def next_opening(
    at: datetime, zones: tuple[ZoneInfo, ...], window: CallingWindow
) -> datetime | None:
    """The first instant at or after `at` when the window is open in every zone (None if it
    never opens within SEARCH_LIMIT_DAYS, e.g. an empty window). Each day's hours start is a
    candidate in each zone; they are looked at SEARCH_DAYS at a time (a zone's days run in
    order, and one number's zones lie less than a day apart)."""
    if is_open(at, zones, window):
        return at
    if window.is_empty or not zones:
        return None
    # The weeks repeat only while no zone changes its offset: a number's zones may overlap only
    # between two zones' clock changes (London and Los Angeles, early November).
    repeats = _offsets_fixed(at, zones)
    for first in range(0, SEARCH_LIMIT_DAYS, SEARCH_DAYS):
        candidates: set[datetime] = set()
        closed_dates_met = False
        for zone in zones:
            today = at.astimezone(zone).date()
            for offset in range(first, first + SEARCH_DAYS):
                day = today + timedelta(days=offset)
                closed_dates_met |= day in window.closed_dates
                hours = window.hours_on(day)
                if hours is not None:
                    candidates |= {i for i in _local_instants(day, hours[0], zone) if i > at}
        for candidate in sorted(candidates):
            if is_open(candidate, zones, window):
                return candidate
        if not closed_dates_met and repeats:
            return None  # two plain weeks without an opening: the weeks after are the same
    return None


def _offsets_fixed(at: datetime, zones: tuple[ZoneInfo, ...]) -> bool:
    """Whether every zone keeps one UTC offset over the search's horizon (sampled every
    SEARCH_DAYS: a zone's offsets last months, so a change cannot fall between two samples
    and back)."""
    samples = [at + timedelta(days=day) for day in range(0, SEARCH_LIMIT_DAYS + 1, SEARCH_DAYS)]
    return all(len({sample.astimezone(zone).utcoffset() for sample in samples}) == 1
               for zone in zones)  # fmt: skip
