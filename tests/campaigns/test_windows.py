"""Calling windows in the contact's local time, checked over generated zones and instants."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.windows import (
    CallingWindow,
    NoTimeZone,
    contact_zones,
    is_open,
    next_opening,
)

# Zones with DST in both hemispheres, half- and quarter-hour offsets, and date-line oddities.
ZONES = st.sampled_from([
    "America/New_York", "America/Los_Angeles", "America/Sao_Paulo", "America/St_Johns",
    "Europe/London", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
    "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia", "Asia/Tehran",
    "America/Santiago", "Africa/Casablanca", "UTC",
])  # fmt: skip
INSTANTS = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2036, 12, 31), timezones=st.just(UTC)
)


@st.composite
def windows(draw):
    start = draw(st.integers(0, 23 * 60 + 58))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return CallingWindow(
        start=time(start // 60, start % 60), end=time(end // 60, end % 60), weekdays=days
    )


def inside(at: datetime, zone: ZoneInfo, window: CallingWindow) -> bool:
    """An independent restatement of the rule, zone by zone."""
    local = at.astimezone(zone)
    wall = (local.hour, local.minute, local.second, local.microsecond)
    start = (window.start.hour, window.start.minute, 0, 0)
    end = (window.end.hour, window.end.minute, 0, 0)
    return local.weekday() in window.weekdays and start <= wall < end


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones=st.lists(ZONES, min_size=1, max_size=3, unique=True), at=INSTANTS, window=windows())
def test_open_means_inside_the_window_in_every_zone(zones, at, window):
    zone_infos = tuple(ZoneInfo(name) for name in zones)
    assert is_open(at, zone_infos, window) == all(inside(at, z, window) for z in zone_infos)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones=st.lists(ZONES, min_size=1, max_size=2, unique=True), at=INSTANTS, window=windows())
def test_the_next_opening_is_inside_and_nothing_earlier_is(zones, at, window):
    zone_infos = tuple(ZoneInfo(name) for name in zones)
    opening = next_opening(at, zone_infos, window)
    if opening is None:
        # Only when the zones' windows never overlap within the search horizon.
        probe = at
        for _ in range(15 * 24 * 4):
            assert not all(inside(probe, z, window) for z in zone_infos)
            probe += timedelta(minutes=15)
        return
    assert opening >= at
    assert all(inside(opening, z, window) for z in zone_infos)
    # Nothing earlier is open: check every minute before it (up to a day back).
    probe = max(at, opening - timedelta(days=1))
    probe = probe.replace(second=0, microsecond=0) + (timedelta(minutes=1) if probe > at else
                                                      timedelta(0))  # fmt: skip
    while probe < opening:
        if probe >= at:
            assert not all(inside(probe, z, window) for z in zone_infos), probe
        probe += timedelta(minutes=1)


def test_a_window_starting_in_a_spring_forward_gap_opens_when_the_clocks_jump():
    zone = ZoneInfo("America/New_York")
    window = CallingWindow(start=time(2, 30), end=time(5, 0), weekdays=frozenset(range(7)))
    before = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST on the day clocks spring forward

    opening = next_opening(before, (zone,), window)

    assert opening == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the first valid time
    assert opening.astimezone(zone).hour == 3


def test_the_guard_narrows_any_window(settings):
    settings.CALLING_HOURS_GUARD_START = "08:00"
    settings.CALLING_HOURS_GUARD_END = "21:00"
    wide = CallingWindow.for_campaign(start=time(6, 0), end=time(23, 0), weekdays=range(7))
    assert (wide.start, wide.end) == (time(8, 0), time(21, 0))
    late = CallingWindow.for_campaign(start=time(21, 30), end=time(23, 0), weekdays=[0])
    assert late.is_empty


def test_zones_come_from_the_number_and_an_override_wins():
    assert [z.key for z in contact_zones("+442071838750")] == ["Europe/London"]
    assert [z.key for z in contact_zones("+12125550100")] == ["America/New_York"]
    assert len(contact_zones("+18005550100")) > 1  # toll-free: every US zone
    assert [z.key for z in contact_zones("+12125550100", "Asia/Tokyo")] == ["Asia/Tokyo"]
    with pytest.raises(NoTimeZone):
        contact_zones("+12125550100", "Mars/Olympus")


def test_a_number_spanning_zones_is_open_only_where_all_agree():
    zones = contact_zones("+12085550100")  # Idaho: Boise (Mountain) and Los Angeles (Pacific)
    assert [z.key for z in zones] == ["America/Boise", "America/Los_Angeles"]
    window = CallingWindow(start=time(9, 0), end=time(17, 0), weekdays=frozenset(range(5)))
    # 16:30 UTC on a Wednesday: 09:30 in Boise but 08:30 in Los Angeles.
    at = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert not is_open(at, zones, window)
    assert next_opening(at, zones, window) == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def test_zones_that_never_share_the_window_have_no_opening():
    zones = contact_zones("+18005550100")  # toll-free: from St John's to Guam
    window = CallingWindow(start=time(9, 0), end=time(17, 0), weekdays=frozenset(range(7)))
    assert next_opening(datetime(2026, 11, 25, tzinfo=UTC), zones, window) is None


def test_a_window_in_a_gap_opens_on_the_exact_second_the_clocks_jump():
    # Casablanca, Sunday 2022-05-08: clocks jump from 02:00 to 03:00 (local) at 02:00 UTC;
    # a Sunday window of 02:01-03:01 opens then (found by the property test above).
    window = CallingWindow(start=time(2, 1), end=time(3, 1), weekdays=frozenset({6}))
    at = datetime(2022, 5, 2, 0, 0, tzinfo=UTC)
    opening = next_opening(at, (ZoneInfo("Africa/Casablanca"),), window)
    assert opening == datetime(2022, 5, 8, 2, 0, tzinfo=UTC)


def test_zones_that_overlap_only_between_their_clock_changes_are_found():
    """London and Los Angeles on Tuesdays 00:00-07:01: in summer and in winter they never
    overlap; between Europe's clock change (31 October 2032) and America's (7 November) they
    do, for a minute (07:00-07:01 UTC on 2 November), more than two weeks ahead."""
    zones = (ZoneInfo("Europe/London"), ZoneInfo("America/Los_Angeles"))
    window = CallingWindow(start=time(0, 0), end=time(7, 1), weekdays=frozenset({1}))

    opening = next_opening(datetime(2032, 10, 18, 8, 0, tzinfo=UTC), zones, window)

    assert opening == datetime(2032, 11, 2, 7, 0, tzinfo=UTC)
