"""The calling calendar: what narrows a window for one callee beyond its campaign and the guard.

- Regional calling-hours rules (CallingHoursRule: a country's or a state's hours per weekday,
  or no calls on some days), editable in the admin, shipped with defaults (migration 0015).
- Public holidays of the callee's country and state or province (the `holidays` package),
  unless SKIP_PUBLIC_HOLIDAYS is off or the campaign allows them.
- Company blackout dates (BlackoutDate), for every call.

Read once for a batch of calls (`CallingCalendar.load`: two small queries) and turned into one
`CallingWindow` per (base window, region), dates being the callee's local dates.
"""

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import holidays
from django.conf import settings
from django.db.models import Q

from campaigns.models import BlackoutDate, CallingHoursRule
from campaigns.windows import CallingWindow, DayHours
from telephony.callee_regions import Region


@functools.lru_cache(maxsize=4096)
def public_holidays(region: Region, year: int) -> dict[date, str]:
    """The region's public holidays in `year` (its country's, and its state's or province's
    where `holidays` knows it); empty where the package does not know the country."""
    try:
        calendar = holidays.country_holidays(region.country)
    except NotImplementedError:
        return {}
    subdivision = region.subdivision if region.subdivision in calendar.subdivisions else None
    return dict(holidays.country_holidays(region.country, subdiv=subdivision, years=year))


@dataclass
class CallingCalendar:
    rules: dict[Region, tuple[DayHours, ...]]  # by country (subdivision "") or state/province
    sources: dict[Region, list[CallingHoursRule]]
    blackouts: dict[date, str]  # day -> reason
    years: tuple[int, ...]  # the holidays looked at: around `now`, and a year ahead
    _windows: dict = field(default_factory=dict)

    @classmethod
    def load(cls, *, now: datetime) -> "CallingCalendar":
        rules: dict[Region, list[DayHours]] = defaultdict(list)
        sources: dict[Region, list[CallingHoursRule]] = defaultdict(list)
        for rule in CallingHoursRule.objects.all():
            region = Region(rule.country, rule.region)
            hours = (None, None) if rule.no_calls else (rule.start, rule.end)
            rules[region].append(DayHours(frozenset(rule.weekdays), *hours))
            sources[region].append(rule)
        # Local dates run up to a day either side of UTC's; next_opening looks ~a year ahead.
        first, last = (now - timedelta(days=1)).date(), (now + timedelta(days=400)).date()
        blackouts: dict[date, str] = {}
        for blackout in BlackoutDate.objects.filter(
            Q(last_day__gte=first) | Q(last_day__isnull=True, first_day__gte=first),
            first_day__lte=last,
        ):
            day = blackout.first_day
            while day <= (blackout.last_day or blackout.first_day):
                blackouts.setdefault(day, blackout.reason)
                day += timedelta(days=1)
        return cls(
            rules={region: tuple(day_hours) for region, day_hours in rules.items()},
            sources=dict(sources),
            blackouts=blackouts,
            years=tuple(range(first.year, last.year + 1)),
        )

    def region_rules(self, region: Region | None) -> tuple[DayHours, ...]:
        """The country's rules and the state's or province's."""
        if region is None:
            return ()
        country = self.rules.get(Region(region.country), ())
        return country + (self.rules.get(region, ()) if region.subdivision else ())

    def rules_of(self, region: Region | None) -> list[CallingHoursRule]:
        if region is None:
            return []
        found = list(self.sources.get(Region(region.country), []))
        return found + (self.sources.get(region, []) if region.subdivision else [])

    def holidays_of(self, region: Region | None) -> dict[date, str]:
        if region is None:
            return {}
        days: dict[date, str] = {}
        for year in self.years:
            days.update(public_holidays(region, year))
        return days

    def window_for(
        self, base: CallingWindow, region: Region | None, *, skip_holidays: bool
    ) -> CallingWindow:
        """`base` (a campaign's window or the guard) for a callee in `region`."""
        key = (base, region, skip_holidays)
        if key not in self._windows:
            closed = frozenset(self.blackouts)
            if skip_holidays:
                closed |= frozenset(self.holidays_of(region))
            self._windows[key] = base.narrowed(self.region_rules(region), closed)
        return self._windows[key]


def skips_holidays(call_on_holidays: bool = False) -> bool:
    """Whether a call (a campaign's allowing holidays or not) keeps off public holidays."""
    return settings.SKIP_PUBLIC_HOLIDAYS and not call_on_holidays
