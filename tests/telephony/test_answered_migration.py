"""The data migration gives completed calls without an answer time one (Agora's ANSWERED report
when kept, else the end), after which the constraint (0007) holds. Runs the real migrations
inside the test's transaction (PostgreSQL's DDL is transactional: rolled back after)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

BEFORE = [("telephony", "0005_encrypt_secrets")]
AFTER = [("telephony", "0007_call_completed_was_answered")]
ENDED = datetime(2026, 3, 4, 15, 0, 30, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_completed_calls_get_an_answer_time_and_a_duration():
    old = migrate(BEFORE)
    try:
        Call = old.get_model("telephony", "Call")
        CallEvent = old.get_model("telephony", "CallEvent")

        def completed(**fields):
            call_id = uuid.uuid4()
            return Call.objects.create(
                id=call_id, to_number="+14155550150", from_number="+14155550100",
                agora_name=f"cc-{call_id}", channel=f"cc{call_id.hex}", status="completed",
                dialed_at=ENDED - timedelta(seconds=40), ended_at=ENDED, **fields,
            )  # fmt: skip

        reported = completed()
        answer_ms = int((ENDED - timedelta(seconds=18)).timestamp() * 1000)
        for report_ms in (answer_ms + 2000, answer_ms):  # a duplicate, later, kept too
            CallEvent.objects.create(
                call=reported, source="webhook", kind="signal", agora_state="ANSWERED",
                report_ms=report_ms,
            )  # fmt: skip
        unreported = completed()
        answered_already = completed(answered_at=ENDED - timedelta(seconds=5), duration_seconds=5)
        no_answer = Call.objects.create(
            id=uuid.uuid4(), to_number="+14155550151", from_number="+14155550100",
            agora_name="cc-x", channel="ccx", status="no_answer", ended_at=ENDED,
        )  # fmt: skip
    finally:
        with connection.cursor() as cursor:  # the rows' deferred checks, before ALTER TABLE
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        new = migrate(AFTER)

    Call = new.get_model("telephony", "Call")
    reported = Call.objects.get(pk=reported.pk)
    assert (reported.answered_at, reported.duration_seconds) == (ENDED - timedelta(seconds=18), 18)
    unreported = Call.objects.get(pk=unreported.pk)
    assert (unreported.answered_at, unreported.duration_seconds) == (ENDED, 0)
    kept = Call.objects.get(pk=answered_already.pk)
    assert (kept.answered_at, kept.duration_seconds) == (ENDED - timedelta(seconds=5), 5)
    assert Call.objects.get(pk=no_answer.pk).answered_at is None
