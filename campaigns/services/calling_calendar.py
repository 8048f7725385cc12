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
from django.db.models import Count, Min, Q
from django.db.models.functions import Left

from campaigns.models import WEEKDAYS, BlackoutDate, CallingHoursRule, Campaign, Contact
from campaigns.windows import CallingWindow, DayHours
from telephony.callee_regions import Region, callee_region


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
            day = max(blackout.first_day, first)  # only the days a window may look at
            while day <= min(blackout.last_day or blackout.first_day, last):
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


# -- what a campaign page shows -------------------------------------------------------------------

DAYS_OFF_AHEAD = 30  # the days without calls a campaign page lists, from today


@dataclass(frozen=True)
class RegionHours:
    """A campaign's effective calling hours for its contacts in one region."""

    region: Region | None  # None: numbers whose place is unknown
    contacts: int
    hours: tuple[str, ...]  # Monday first: "09:00-18:00", or "" for no calls that day
    days_off: tuple[str, ...]  # holidays and blackout dates ahead, e.g. "Thu 26 Nov: ..."
    sources: tuple[str, ...]  # the regional rules' sources

    @property
    def week(self) -> list[str]:
        """The hours in words, days alike grouped: ["Mon-Sat 09:00-21:00", "Sun no calls"]."""
        names = [name for _, name in WEEKDAYS]
        said, first = [], 0
        for day in range(1, 8):
            if day == 7 or self.hours[day] != self.hours[first]:
                days = names[first] if day - 1 == first else f"{names[first]}-{names[day - 1]}"
                said.append(f"{days} {self.hours[first] or 'no calls'}")
                first = day
        return said


def campaign_hours_by_region(campaign: Campaign, *, now: datetime) -> list[RegionHours]:
    """The campaign's window narrowed for each region its contacts are in (their own region,
    else their number's area code's), most contacts first: two queries and the rules' two."""
    groups: dict[Region | None, int] = defaultdict(int)
    rows = (
        Contact.objects.filter(contact_list__campaigns=campaign)
        .order_by()
        .values("region", prefix=Left("phone", 5))  # "+1" and an area code, or a country code
        .annotate(n=Count("id", distinct=True), sample=Min("phone"))
    )
    for row in rows:
        groups[callee_region(row["sample"], row["region"])] += row["n"]
    calendar = CallingCalendar.load(now=now)
    base = CallingWindow.for_campaign(
        start=campaign.window_start, end=campaign.window_end, weekdays=campaign.weekdays
    )
    skip = skips_holidays(campaign.call_on_holidays)
    today, found = now.date(), []
    for region, contacts in sorted(groups.items(), key=lambda item: (-item[1], str(item[0]))):
        window = calendar.window_for(base, region, skip_holidays=skip)
        hours = tuple(
            f"{opening[0]:%H:%M}-{opening[1]:%H:%M}" if opening else ""
            for opening in map(window.weekday_hours, range(7))
        )
        closed = {**(calendar.holidays_of(region) if skip else {}), **calendar.blackouts}
        days_off = tuple(
            f"{day:%a %d %b}: {closed[day]}"
            for day in sorted(closed)
            # a day it would call but for the holiday or blackout
            if today <= day < today + timedelta(days=DAYS_OFF_AHEAD)
            and window.weekday_hours(day.weekday()) is not None
        )
        sources = tuple(sorted({rule.source for rule in calendar.rules_of(region) if rule.source}))
        found.append(RegionHours(region, contacts, hours, days_off, sources))
    return found
