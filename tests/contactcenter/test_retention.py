"""Retention against PostgreSQL: what outlived its time goes, in bounded batches, and nothing
else; an old webhook notification replayed after its event was pruned is refused by its own
time (notifyMs)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import ContactImport
from contactcenter.crm_webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)
from contactcenter.models import IdempotencyRecord
from contactcenter.retention import prune_expired
from telephony.models import CallEvent, RefusedCall, WebhookEvent
from telephony.states import CallStatus
from tests.support.factories import CallFactory, ContactListFactory
from tests.telephony.test_webhooks import envelope, post, signed

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def secret(settings) -> str:
    settings.AGORA_WEBHOOK_SECRET = "test-webhook-secret"
    return settings.AGORA_WEBHOOK_SECRET


def webhook_event(notice_id: str, received_at, *, status=WebhookEvent.Status.PROCESSED):
    return WebhookEvent.objects.create(
        notice_id=notice_id, body={}, status=status, received_at=received_at,
        notify_ms=int(received_at.timestamp() * 1000),
    )  # fmt: skip


def test_webhook_events_go_a_day_after_their_window_unless_still_to_process(clock, settings):
    settings.RETAIN_WEBHOOK_EVENTS_DAYS = 30
    now = clock.now()
    webhook_event("old", now - 32 * DAY)
    webhook_event("old-failed", now - 32 * DAY, status=WebhookEvent.Status.FAILED)
    webhook_event("old-unprocessed", now - 32 * DAY, status=WebhookEvent.Status.RECEIVED)
    webhook_event("inside-the-margin", now - 30 * DAY - 12 * timedelta(hours=1))
    redelivered = webhook_event("redelivered-lately", now - 32 * DAY)
    WebhookEvent.objects.filter(pk=redelivered.pk).update(
        notify_ms=int((now - 2 * DAY).timestamp() * 1000)
    )  # a later delivery of it: a replay of that one would still be accepted
    webhook_event("recent", now - DAY)

    assert prune_expired(now=now) == {"webhook events": 2}

    assert set(WebhookEvent.objects.values_list("notice_id", flat=True)) == {
        "old-unprocessed", "inside-the-margin", "redelivered-lately", "recent",
    }  # fmt: skip


def test_a_notification_older_than_the_window_is_refused_and_a_redelivery_moves_it_on(
    client, secret, clock, settings
):
    settings.RETAIN_WEBHOOK_EVENTS_DAYS = 30
    now = clock.now()
    sent_long_ago = envelope("n-old").replace(
        b"1800000000000", str(int((now - 31 * DAY).timestamp() * 1000)).encode()
    )

    answer = post(client, sent_long_ago, signed(sent_long_ago, secret))

    assert answer.status_code == 400
    assert "more than 30 days ago (RETAIN_WEBHOOK_EVENTS_DAYS)" in answer.json()["error"]
    assert "possible replay" in answer.json()["error"]
    assert not WebhookEvent.objects.exists()

    first = envelope("n-1").replace(b"1800000000000", str(int(now.timestamp() * 1000)).encode())
    assert post(client, first, signed(first, secret)).status_code == 200
    later_ms = int((now + DAY).timestamp() * 1000)
    again = envelope("n-1").replace(b"1800000000000", str(later_ms).encode())
    assert post(client, again, signed(again, secret)).json()["duplicate"] is True
    assert WebhookEvent.objects.get().notify_ms == later_ms
    earlier = envelope("n-1").replace(b"1800000000000", str(later_ms - 5000).encode())
    post(client, earlier, signed(earlier, secret))
    assert WebhookEvent.objects.get().notify_ms == later_ms  # the latest, not the last

    settings.RETAIN_WEBHOOK_EVENTS_DAYS = 0  # kept forever: every notification is accepted
    assert post(client, sent_long_ago, signed(sent_long_ago, secret)).status_code == 200


def test_a_replay_after_the_event_is_pruned_is_refused(client, secret, clock, settings):
    settings.RETAIN_WEBHOOK_EVENTS_DAYS = 30
    body = envelope("n-replayed").replace(
        b"1800000000000", str(int(clock.now().timestamp() * 1000)).encode()
    )
    assert post(client, body, signed(body, secret)).status_code == 200
    WebhookEvent.objects.update(status=WebhookEvent.Status.PROCESSED)
    clock.advance(days=31, hours=1)

    assert prune_expired(now=clock.now()) == {"webhook events": 1}
    replay = post(client, body, signed(body, secret))

    assert replay.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_call_events_go_once_their_call_ended_that_long_ago(clock, settings):
    settings.RETAIN_CALL_EVENTS_DAYS = 180
    now = clock.now()
    ended_long_ago = CallFactory(status=CallStatus.FAILED, ended_at=now - 200 * DAY)
    ended_lately = CallFactory(status=CallStatus.FAILED, ended_at=now - 10 * DAY)
    still_scheduled = CallFactory(status=CallStatus.QUEUED)  # booked long ago, not ended
    for call in (ended_long_ago, ended_lately, still_scheduled):
        for _ in range(3):
            CallEvent.objects.create(
                call=call, source="system", kind="note", created_at=now - 201 * DAY
            )

    assert prune_expired(now=now) == {"call events": 3}

    assert not ended_long_ago.events.exists()
    assert ended_lately.events.count() == still_scheduled.events.count() == 3
    ended_long_ago.refresh_from_db()  # the call itself stays
    assert ended_long_ago.status == CallStatus.FAILED


def test_crm_deliveries_go_with_their_attempts_pending_ones_stay(clock, settings):
    settings.RETAIN_CRM_DELIVERIES_DAYS = 30
    now = clock.now()
    subscription = WebhookSubscription.objects.create(name="CRM", url="https://crm.example/h")
    old = [
        WebhookDelivery.objects.create(subscription=subscription, event_type="call.ended",
                                       status=status, created_at=now - 40 * DAY)
        for status in ("delivered", "failed", "pending")
    ]  # fmt: skip
    for delivery in old:
        WebhookDeliveryAttempt.objects.create(delivery=delivery, status_code=500)

    assert prune_expired(now=now) == {"CRM webhook deliveries": 2}

    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending"]
    assert WebhookDeliveryAttempt.objects.count() == 1


def test_finished_imports_lose_their_files_and_keep_their_record(clock, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.RETAIN_IMPORT_FILES_DAYS = 7
    contact_list = ContactListFactory()
    imports = {}
    for name, status in (("done", "done"), ("failed", "failed"), ("running", "running")):
        (tmp_path / f"{name}.csv").write_text("phone\n+14155550150\n")
        imports[name] = ContactImport.objects.create(
            contact_list=contact_list, file_name=f"{name}.csv", stored_path=f"{name}.csv",
            status=status, imported=1,
        )  # fmt: skip
    ContactImport.objects.update(created_at=clock.now() - 8 * DAY)

    assert prune_expired(now=clock.now()) == {"contact import files": 2}

    assert sorted(path.name for path in tmp_path.iterdir()) == ["running.csv"]
    done = ContactImport.objects.get(pk=imports["done"].pk)
    assert (done.stored_path, done.imported, done.file_name) == ("", 1, "done.csv")
    assert ContactImport.objects.get(pk=imports["running"].pk).stored_path == "running.csv"


def test_refused_calls_and_idempotency_records_go_at_their_time(clock, settings):
    settings.RETAIN_REFUSED_CALLS_DAYS = 365
    now = clock.now()
    for days in (400, 10):
        RefusedCall.objects.create(to_number="+14155550150", source="api", rule="do_not_call",
                                   message="listed", refused_at=now - days * DAY)  # fmt: skip
    for hours in (25, 1):
        IdempotencyRecord.objects.create(caller="key:1", key=f"k{hours}", method="POST",
                                         path="/api/v1/calls/", request_hash="h",
                                         created_at=now - timedelta(hours=hours))  # fmt: skip

    assert prune_expired(now=now) == {"refused calls": 1, "idempotency records": 1}
    assert RefusedCall.objects.count() == IdempotencyRecord.objects.count() == 1


def test_pruning_goes_in_bounded_batches_and_stops_after_its_time(clock, settings):
    settings.RETAIN_WEBHOOK_EVENTS_DAYS = 30
    now = clock.now()
    for index in range(5):
        webhook_event(f"old-{index}", now - 40 * DAY)

    with CaptureQueriesContext(connection) as queries:
        assert prune_expired(now=now, batch_size=2, seconds=0) == {"webhook events": 2}
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1 and "LIMIT" not in deletes[0]  # ids first, then IN (...)
    assert WebhookEvent.objects.count() == 3

    assert prune_expired(now=now, batch_size=2) == {"webhook events": 3}  # 2 + 1
    assert not WebhookEvent.objects.exists()


def test_zero_keeps_forever(clock, settings):
    for name in ("RETAIN_WEBHOOK_EVENTS_DAYS", "RETAIN_CALL_EVENTS_DAYS",
                 "RETAIN_CRM_DELIVERIES_DAYS", "RETAIN_IMPORT_FILES_DAYS",
                 "RETAIN_REFUSED_CALLS_DAYS"):  # fmt: skip
        setattr(settings, name, 0)
    now = clock.now()
    webhook_event("ancient", now - 3000 * DAY)
    RefusedCall.objects.create(to_number="+14155550150", source="api", rule="do_not_call",
                               message="listed", refused_at=now - 3000 * DAY)  # fmt: skip

    assert prune_expired(now=now) == {}
    assert WebhookEvent.objects.count() == RefusedCall.objects.count() == 1
