"""The suite's one clock (tests/support/clock.py): pinned by default, real for process tests."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.support.clock import PINNED_AT, daytime_zone, is_pinned
from tests.support.processes import ManagedProcess


def test_a_test_starts_at_the_pinned_instant_and_its_clock_moves_only_as_told(clock):
    assert is_pinned()
    assert PINNED_AT <= timezone.now() < PINNED_AT + timedelta(minutes=5)
    clock.move_to(datetime(2030, 6, 1, 12, tzinfo=UTC), tick=False)
    assert timezone.now() == datetime(2030, 6, 1, 12, tzinfo=UTC)
    clock.advance(90)
    assert clock.now() == datetime(2030, 6, 1, 12, 1, 30, tzinfo=UTC)


def test_processes_cannot_start_on_a_pinned_clock(tmp_path):
    with pytest.raises(RuntimeError, match="mark the test `real_clock`"):
        ManagedProcess("sleeper", ["true"], env={}, log_path=tmp_path / "log")


@pytest.mark.real_clock
def test_real_clock_tests_read_the_real_clock_and_cannot_move_it(clock):
    assert not is_pinned()
    with pytest.raises(RuntimeError, match="real clock"):
        clock.advance(1)


@given(at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC)), hour=st.integers(0, 23))  # fmt: skip
def test_daytime_zone_puts_any_instant_at_the_wanted_local_hour(at, hour):
    assert at.astimezone(ZoneInfo(daytime_zone(at, local_hour=hour))).hour == hour
