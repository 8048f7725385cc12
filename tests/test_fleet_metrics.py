"""The counts `make bench` and `make chaos` report, computed from the simulator's call records:
each must catch the breach it names."""

from datetime import UTC, datetime

import pytest

from tests.support.chaos.__main__ import ZONES, plan_window
from tests.support.fleet import (
    duplicate_dials,
    live_series,
    over_cap_moments,
    peak_live,
    percentile,
    refill_latencies,
)


def call(start: float, end: float | None, number: str = "+14155550150", channel: str = ""):
    return {
        "created_at": start,
        "ended_at": end,
        "to_number": number,
        "channel": channel or f"ch-{number}-{start}",
    }


def test_over_cap_moments_count_acceptances_beyond_the_cap():
    calls = [call(0, 10), call(1, 10), call(2, 3), call(4, 10)]
    assert over_cap_moments(calls, 3) == 0  # the third ended before the fourth began
    assert over_cap_moments([*calls, call(5, 6)], 3) == 1
    assert over_cap_moments([*calls, call(5, 6), call(5.5, None)], 3) == 2
    assert peak_live([*calls, call(5, 6), call(5.5, None)]) == 5


def test_a_call_ending_as_another_starts_frees_its_place_first():
    assert over_cap_moments([call(0, 5), call(5, 9)], 1) == 0


def test_duplicate_dials_count_calls_beyond_the_attempts_and_reused_channels():
    calls = [call(0, 1, "+1"), call(2, 3, "+1"), call(4, 5, "+2")]
    assert duplicate_dials(calls, {"+1": 2, "+2": 2}) == 0
    assert duplicate_dials(calls, {"+1": 1, "+2": 1}) == 1
    assert duplicate_dials(calls, {"+1": 2}) == 1  # +2 was never due
    reused = [call(0, 1, "+1", channel="same"), call(2, 3, "+1", channel="same")]
    assert duplicate_dials(reused, {"+1": 2}) == 1


def test_refill_latency_pairs_each_end_with_the_call_that_took_its_place():
    calls = [call(0, 4), call(0, 6), call(4.5, 9), call(7, 9)]
    assert refill_latencies(calls, 2) == [0.5, 1.0]
    assert percentile([0.5, 1.0, 3.0], 0.5) == 1.0
    assert percentile([], 0.5) is None


def test_live_series_samples_live_calls_over_time():
    series = live_series([call(10, 11), call(10.5, 12)], step=0.5)
    assert series[:4] == [(0.0, 1), (0.5, 2), (1.0, 1), (1.5, 1)]
    assert series[-1][1] == 0


@pytest.mark.parametrize("hour", range(24))
def test_chaos_finds_an_open_and_a_closed_zone_at_any_hour(hour):
    from campaigns.windows import CallingWindow, contact_zones, is_open

    now = datetime(2026, 11, 21, hour, 17, tzinfo=UTC)
    plan = plan_window(now)
    window = CallingWindow(plan.window_start, plan.window_end, frozenset(range(7)))
    open_number = ZONES[plan.open_zone](1, 2, 0)
    closed_number = ZONES[plan.closed_zone](1, 2, 0)
    assert is_open(now, contact_zones(open_number), window)
    assert not is_open(now, contact_zones(closed_number), window)
