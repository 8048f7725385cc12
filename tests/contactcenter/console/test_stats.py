"""Call figures: outcome groups, answer rate, talk time and calls over time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telephony.models import Call
from telephony.services.stats import (
    MAX_BUCKETS,
    OUTCOME_GROUPS,
    bucket_size_for,
    call_histogram,
    call_summary,
)
from telephony.states import CallStatus
from telephony.states import CallStatus as S

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_every_status_belongs_to_exactly_one_outcome_group():
    grouped = [status for group in OUTCOME_GROUPS for status in group.statuses]
    assert sorted(grouped) == sorted(CallStatus.values)


def test_summary_counts_outcomes_answer_rate_and_talk_time(make_call):
    make_call(S.COMPLETED, talk_seconds=30)
    make_call(S.COMPLETED, talk_seconds=90)
    make_call(S.NO_ANSWER)
    make_call(S.BUSY)
    make_call(S.FAILED)
    make_call(S.DIALING)
    make_call(S.ANSWERED)  # live: not yet counted in the answer rate or talk time
    make_call(S.COMPLETED, talk_seconds=600, direction=Call.Direction.INBOUND)

    summary = call_summary(Call.objects.all())

    assert summary.by_group == {
        "completed": 3, "voicemail": 0, "no_answer": 1, "busy": 1, "failed": 1, "canceled": 0,
        "live": 2, "queued": 0,
    }  # fmt: skip
    assert summary.total == 8
    assert (summary.answered_outbound, summary.ended_outbound) == (2, 5)
    assert summary.answer_rate == pytest.approx(0.4)
    # Talk time covers every answered call that ended, inbound ones too.
    assert summary.average_talk_seconds == pytest.approx(240)


def test_summary_of_no_calls_has_no_rate_and_no_talk_time():
    summary = call_summary(Call.objects.all())
    assert summary.total == 0
    assert summary.answer_rate is None
    assert summary.average_talk_seconds is None


def test_summary_is_two_queries_whatever_the_number_of_calls(make_call):
    for _ in range(30):
        make_call(S.COMPLETED, talk_seconds=10)
    with CaptureQueriesContext(connection) as queries:
        call_summary(Call.objects.all())
    assert len(queries) == 2


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(minutes=1), timedelta(minutes=1)),
        (timedelta(minutes=48), timedelta(minutes=1)),
        (timedelta(minutes=49), timedelta(minutes=2)),
        (timedelta(hours=3), timedelta(minutes=5)),
        (timedelta(hours=24), timedelta(minutes=30)),
        (timedelta(hours=48), timedelta(hours=1)),
        (timedelta(days=30), timedelta(days=1)),
        (timedelta(days=200), timedelta(days=5)),
    ],
)
def test_bucket_size_keeps_a_span_within_the_column_limit(span, bucket):
    assert bucket_size_for(span) == bucket
    assert span / bucket <= MAX_BUCKETS


def test_hourly_histogram_counts_each_call_in_its_hour_and_group(make_call):
    make_call(S.COMPLETED, created_at=NOON + timedelta(minutes=5))
    make_call(S.COMPLETED, created_at=NOON + timedelta(minutes=59, seconds=59))
    make_call(S.BUSY, created_at=NOON + timedelta(hours=1))
    make_call(S.DIALING, created_at=NOON + timedelta(hours=2, minutes=30))
    make_call(S.FAILED, created_at=NOON - timedelta(minutes=1))  # before the start
    make_call(S.FAILED, created_at=NOON + timedelta(hours=3))  # at the end: excluded

    histogram = call_histogram(
        Call.objects.all(), start=NOON, end=NOON + timedelta(hours=3), bucket=timedelta(hours=1)
    )

    assert histogram.starts == [NOON + timedelta(hours=h) for h in range(3)]
    assert histogram.counts["completed"] == [2, 0, 0]
    assert histogram.counts["busy"] == [0, 1, 0]
    assert histogram.counts["live"] == [0, 0, 1]
    assert histogram.counts["failed"] == [0, 0, 0]
    assert histogram.total == 4


def test_histogram_sums_minutes_into_larger_buckets(make_call):
    start = NOON + timedelta(minutes=2)  # the first bucket starts on the 5-minute boundary
    for minute in (0, 3, 4, 5, 9, 10, 14, 44):
        make_call(S.NO_ANSWER, created_at=NOON + timedelta(minutes=minute, seconds=30))

    histogram = call_histogram(Call.objects.all(), start=start, end=NOON + timedelta(minutes=45))

    assert histogram.bucket == timedelta(minutes=1)
    wide = call_histogram(
        Call.objects.all(), start=start, end=NOON + timedelta(minutes=45),
        bucket=timedelta(minutes=5),
    )  # fmt: skip
    # A bucket is the unit shown: one that starts before `start` counts whole.
    assert wide.starts[0] == NOON
    assert wide.counts["no_answer"] == [3, 2, 2, 0, 0, 0, 0, 0, 1]
    assert len(histogram.starts) == 43
    assert sum(histogram.counts["no_answer"]) == 7  # not the one at 12:00:30


def test_histogram_reads_grouped_rows_not_calls(make_call):
    for second in range(40):
        make_call(S.COMPLETED, created_at=NOON + timedelta(seconds=second))
    with CaptureQueriesContext(connection) as queries:
        histogram = call_histogram(Call.objects.all(), start=NOON, end=NOON + timedelta(hours=1))
    assert len(queries) == 1
    assert histogram.total == 40
