"""Test data built with the suite's defaults."""

from datetime import time

# Every day, as wide as the calling-hours guard (08:00-21:00) lets any campaign call; the
# suite's clock (tests/support/clock.py) is pinned inside it for the usual callees.
EVERY_DAY = {"window_start": time(8, 0), "window_end": time(21, 0), "weekdays": list(range(7))}
