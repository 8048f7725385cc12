"""The receiver at /webhooks/agora/: verified, stored once, answered fast, processed later."""

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from unittest import mock

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from telephony import tasks
from telephony.agora import PhoneNumberImport
from telephony.models import Call, PhoneNumber, WebhookEvent
from telephony.services import webhooks as webhooks_module
from telephony.services.calls import call_create_inbound, call_finalize_end
from telephony.services.webhooks import (
    _claim_batch,
    webhook_process,
    webhook_reprocess,
    webhooks_drain,
    webhooks_sweep,
)
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
URL = "/webhooks/agora/"


def envelope(notice_id="n-1", event_type=202, **payload) -> bytes:
    body = {
        "noticeId": notice_id,
        "productId": 17,
        "eventType": event_type,
        "notifyMs": 1_800_000_000_000,
        "sid": "SID1",
        "payload": {"agent_id": "AGENT1", "channel": "c", "report_ms": 1, **payload},
    }
    return json.dumps(body).encode()


def signed(body: bytes, secret: str, *, v1=True, v2=True) -> dict[str, str]:
    headers = {}
    if v2:
        headers["HTTP_AGORA_SIGNATURE_V2"] = hmac.new(
            secret.encode(), body, hashlib.sha256
        ).hexdigest()
    if v1:
        headers["HTTP_AGORA_SIGNATURE"] = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return headers


@pytest.fixture
def secret(settings) -> str:
    settings.AGORA_WEBHOOK_SECRET = "test-webhook-secret"
    return settings.AGORA_WEBHOOK_SECRET


def post(client, body: bytes, headers: dict[str, str]):
    return client.post(URL, data=body, content_type="application/json", **headers)


# -- receiving --------------------------------------------------------------------------------


def test_a_valid_v2_signature_is_stored_and_processing_queued_after_commit(
    client, secret, django_capture_on_commit_callbacks
):
    body = envelope()
    with django_capture_on_commit_callbacks() as queued:
        response = post(client, body, signed(body, secret, v1=False))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    event = WebhookEvent.objects.get()
    assert (event.notice_id, event.event_type, event.agent_id) == ("n-1", 202, "AGENT1")
    assert (event.status, event.signature_version, event.deliveries) == ("received", "v2", 1)
    assert len(queued) == 1


def test_webhooks_skip_the_staff_facing_middleware(client, secret):
    # Sessions, auth, CSRF, messages, lockout: none runs for Agora's webhooks (the hot path) ...
    body = envelope()
    with mock.patch(
        "django.contrib.sessions.middleware.SessionMiddleware.process_request",
        side_effect=AssertionError("the session middleware ran"),
    ) as sessions:
        assert post(client, body, signed(body, secret)).status_code == 200
        assert not sessions.called
        # ... while every other request still goes through them
        with pytest.raises(AssertionError, match="session middleware ran"):
            client.get("/admin/login/")


def test_a_v1_only_signature_is_accepted(client, secret):
    body = envelope()
    assert post(client, body, signed(body, secret, v2=False)).status_code == 200
    assert WebhookEvent.objects.get().signature_version == "v1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AGORA_SIGNATURE_V2": "0" * 64},
        {"HTTP_AGORA_SIGNATURE": "0" * 40},
        "truncated",
        "wrong-secret",
        "v2-wrong-v1-right",
    ],
)
def test_missing_or_wrong_signatures_are_refused_and_nothing_is_stored(
    client, secret, caplog, headers
):
    body = envelope()
    if headers == "truncated":
        headers = {"HTTP_AGORA_SIGNATURE_V2": signed(body, secret)["HTTP_AGORA_SIGNATURE_V2"][:40]}
    elif headers == "wrong-secret":
        headers = signed(body, "not-the-secret")
    elif headers == "v2-wrong-v1-right":
        headers = {**signed(body, secret), "HTTP_AGORA_SIGNATURE_V2": "f" * 64}
    caplog.set_level(logging.WARNING, logger="telephony.services.webhooks")

    response = post(client, body, headers)

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert "webhook refused" in caplog.text
    for value in headers.values():
        assert value not in caplog.text
    assert secret not in caplog.text


def test_a_body_changed_after_signing_is_refused(client, secret):
    body = envelope()
    headers = signed(body, secret)
    assert post(client, body.replace(b"AGENT1", b"AGENT2"), headers).status_code == 401


def test_without_a_configured_secret_nothing_is_accepted(client, settings):
    settings.AGORA_WEBHOOK_SECRET = ""
    body = envelope()
    assert post(client, body, signed(body, "")).status_code == 401


def test_a_duplicate_delivery_answers_200_and_is_not_processed_again(
    client, secret, django_capture_on_commit_callbacks
):
    body = envelope()
    with django_capture_on_commit_callbacks() as queued:
        post(client, body, signed(body, secret))
        again = envelope().replace(b"1800000000000", b"1800000009999")  # notifyMs changes
        response = post(client, again, signed(again, secret))

    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": True}
    assert WebhookEvent.objects.get().deliveries == 2
    assert len(queued) == 1


def test_receiving_is_one_prepared_statement_stored_from_the_raw_body(client, secret):
    from django.db import connection

    body = envelope(notice_id="n-prepared", note="caf\u00e9")
    assert post(client, body, signed(body, secret)).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [sql for sql in prepared if sql.startswith('INSERT INTO "telephony_webhookevent"')]
    assert WebhookEvent.objects.get().body == json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_and_the_webhook_still_stored(client, secret):
    from django.db import connection

    from telephony.services.webhooks import _insert_cursor

    first = envelope(notice_id="n-before")
    assert post(client, first, signed(first, secret)).status_code == 200
    kept = _insert_cursor(connection.connection)
    again = envelope(notice_id="n-again")
    assert post(client, again, signed(again, secret)).status_code == 200
    assert _insert_cursor(connection.connection) is kept  # one cursor per connection, reused
    dropped = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:  # as a restart does, between requests
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])

    second = envelope(notice_id="n-after")
    assert post(client, second, signed(second, secret)).status_code == 200
    assert connection.connection.info.backend_pid != dropped
    assert _insert_cursor(connection.connection) is not kept
    assert set(WebhookEvent.objects.values_list("notice_id", flat=True)) == {
        "n-before",
        "n-again",
        "n-after",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"noticeId":"n-nan","productId":17,"eventType":202,"notifyMs":1800000000000,"sid":"S",'
         b'"payload":{"agent_id":"A","value":NaN}}', "json"),
        (b'{"noticeId":"n-nul","productId":17,"eventType":202,"notifyMs":1800000000000,"sid":"S",'
         b'"payload":{"agent_id":"A","note":"a\\u0000b"}}', "unicode"),
    ],
)  # fmt: skip
# Committed for real: the refused statement would abort a test's enclosing transaction.
@pytest.mark.django_db(transaction=True)
def test_json_python_reads_but_postgresql_cannot_store_is_a_400_naming_it(
    client, secret, body, problem
):
    response = post(client, body, signed(body, secret))

    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not accepted: ")
    assert problem in response.json()["error"].lower()
    assert not WebhookEvent.objects.exists()


def test_a_burst_of_webhooks_wakes_one_drain_which_processes_them_all(
    client, secret, redis_db, django_capture_on_commit_callbacks
):
    # given: ten notifications received while no drain has run yet
    with (
        mock.patch.object(tasks.process_webhook_events, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for index in range(10):
            body = envelope(notice_id=f"n-{index}", agent_id=f"UNKNOWN-{index}")
            assert post(client, body, signed(body, secret)).status_code == 200
    assert delay.call_count == 1  # one task for the burst, not one per webhook

    # when: the drain runs: each full claim (3 of the 10) wakes one more drain to share the rest
    with mock.patch.object(tasks.process_webhook_events, "delay") as helpers:
        assert webhooks_drain(batch=3) == 10
    assert helpers.call_count == 3  # after the claims of 3, 3 and 3; not after the last one

    # then: each processed once, and the next webhook wakes a new drain
    assert set(WebhookEvent.objects.values_list("status", "attempts")) == {
        (WebhookEvent.Status.UNMATCHED, 1)
    }
    with (
        mock.patch.object(tasks.process_webhook_events, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        body = envelope(notice_id="n-late")
        post(client, body, signed(body, secret))
    assert delay.call_count == 1


def test_a_drain_applies_hang_ups_and_their_refills_before_the_rest_of_its_batch(
    client, secret, redis_db, monkeypatch
):
    """A freed place waits for no other event of the batch; a call's own events keep their
    order (its hang-up after its answer)."""
    from contactcenter.batches import after_batch

    arrivals = [("A", "ANSWERED"), ("B", "RINGING"), ("C", "HANGUP"), ("A", "HANGUP"),
                ("D", "START"), ("E", "HANGUP")]  # fmt: skip
    with mock.patch.object(tasks.process_webhook_events, "delay"):
        for index, (agent, state) in enumerate(arrivals):
            body = envelope(notice_id=f"n-{index}", agent_id=agent, state=state)
            assert post(client, body, signed(body, secret)).status_code == 200
    applied = []
    real = webhooks_module._apply_claimed

    def recording(event, **known):
        payload = event.body["payload"]
        applied.append(f"{payload['agent_id']} {payload['state']}")
        if payload["state"] == "HANGUP":
            after_batch("refill", lambda: applied.append("refill"))
        return real(event, **known)

    monkeypatch.setattr(webhooks_module, "_apply_claimed", recording)
    with mock.patch.object(tasks.process_webhook_events, "delay"):
        assert webhooks_drain(batch=10) == 6

    assert applied == ["C HANGUP", "E HANGUP", "refill",
                       "A ANSWERED", "B RINGING", "A HANGUP", "D START", "refill"]  # fmt: skip


def test_an_event_has_one_claimer_until_its_lease_ends(client, secret, settings):
    settings.WEBHOOK_PROCESSING_LEASE_SECONDS = 60
    for index in range(4):
        body = envelope(notice_id=f"n-{index}")
        post(client, body, signed(body, secret))

    # when: two drains claim at once, and a task for one of the claimed events comes too
    first, second = _claim_batch(3), _claim_batch(3)
    claimed = WebhookEvent.objects.get(pk=first[0].pk)

    # then: no event is claimed twice, nor processed by anyone else while claimed
    assert len(first) == 3 and len(second) == 1
    assert not {event.pk for event in first} & {event.pk for event in second}
    assert first[0].body == json.loads(envelope(notice_id="n-0"))  # read as it claims
    assert webhook_process(event_id=claimed.pk) == WebhookEvent.Status.PROCESSING
    assert webhooks_sweep(now=timezone.now() + timedelta(seconds=59)) == 0

    # when: its worker vanished: after the lease, the sweeper takes it
    assert webhooks_sweep(now=timezone.now() + timedelta(seconds=61)) == 4
    claimed.refresh_from_db()
    assert (claimed.status, claimed.attempts) == (WebhookEvent.Status.UNMATCHED, 1)


def test_an_unexpected_error_fails_the_event_instead_of_leaving_it_claimed(client, secret):
    body = envelope()
    post(client, body, signed(body, secret))
    event = WebhookEvent.objects.get()

    with (
        mock.patch("telephony.services.webhooks._find_call_id", side_effect=KeyError("boom")),
        pytest.raises(KeyError),
    ):
        webhook_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert "KeyError" in event.last_error


def test_a_drain_goes_on_past_an_event_that_fails(client, secret):
    for index in range(3):
        body = envelope(notice_id=f"n-{index}", agent_id=f"UNKNOWN-{index}")
        post(client, body, signed(body, secret))
    first = WebhookEvent.objects.order_by("id").first()
    real_find_call = webhooks_module._find_call_id

    def find_call(payload):
        if payload.get("agent_id") == first.agent_id:
            raise KeyError("boom")
        return real_find_call(payload)

    with mock.patch("telephony.services.webhooks._find_call_id", side_effect=find_call):
        assert webhooks_drain() == 3

    assert dict(WebhookEvent.objects.values_list("notice_id", "status")) == {
        "n-0": WebhookEvent.Status.FAILED,
        "n-1": WebhookEvent.Status.UNMATCHED,
        "n-2": WebhookEvent.Status.UNMATCHED,
    }


def test_malformed_json_with_a_valid_signature_is_a_400(client, secret):
    for body in (b"{not json", b"[1, 2]", json.dumps({"eventType": 202}).encode()):
        assert post(client, body, signed(body, secret)).status_code == 400
    assert not WebhookEvent.objects.exists()


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_with_a_valid_signature_is_a_400_naming_the_problem(
    client, secret, depth
):
    body = (b'{"noticeId": "n-deep", "payload": ' + b"[" * (depth - 1) + b"]" * (depth - 1)) + b"}"
    assert len(body) < 256 * 1024  # under the size limit: the nesting alone is refused

    response = post(client, body, signed(body, secret))

    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_json_nested_to_the_limit_is_stored_and_its_admin_page_renders(admin_client, secret):
    body = json.dumps(
        {"noticeId": "n-limit", "eventType": 999, "payload": {"agent_id": "A", "x": nested(30)}}
    ).encode()  # 32 levels: the envelope, its payload and 30 lists

    assert post(Client(), body, signed(body, secret)).status_code == 200

    event = WebhookEvent.objects.get()
    page = admin_client.get(f"/admin/telephony/webhookevent/{event.pk}/change/")
    assert page.status_code == 200
    assert "n-limit" in page.content.decode()


def test_oversized_bodies_are_refused_unread(client, secret, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = envelope(padding="x" * 2000)
    response = post(client, body, signed(body, secret))
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_an_undeclared_length_is_still_bounded(rf, secret, settings):
    from telephony.views import agora_webhook

    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = envelope(padding="x" * 2000)
    request = rf.post(URL, data=body, content_type="application/json", **signed(body, secret))
    del request.META["CONTENT_LENGTH"]
    assert agora_webhook(request).status_code == 413


def test_no_csrf_token_is_needed_and_only_post_is_allowed(secret):
    strict = Client(enforce_csrf_checks=True)
    body = envelope()
    assert post(strict, body, signed(body, secret)).status_code == 200
    assert strict.get(URL).status_code == 405


def test_unknown_event_types_are_stored_acknowledged_and_ignored(client, secret):
    body = envelope(event_type=999)
    assert post(client, body, signed(body, secret)).status_code == 200
    event = WebhookEvent.objects.get()
    assert webhook_process(event_id=event.id) == WebhookEvent.Status.IGNORED


# -- processing -------------------------------------------------------------------------------


def deliver(client, webhooks, *, order=None) -> list[WebhookEvent]:
    """Hand every notification the simulator sent to the receiver, signed as it signed them."""
    received = list(webhooks.received)
    if order:
        received = order(received)
    for item in received:
        headers = {
            "HTTP_AGORA_SIGNATURE": item["headers"]["Agora-Signature"],
            "HTTP_AGORA_SIGNATURE_V2": item["headers"]["Agora-Signature-V2"],
        }
        assert post(client, item["body"], headers).status_code == 200
    return list(WebhookEvent.objects.order_by("id"))


def process_all() -> list[str]:
    return [webhook_process(event_id=event.id) for event in WebhookEvent.objects.order_by("id")]


def test_the_simulators_signed_webhooks_complete_an_answered_call(client, place, simulator,
                                                                   webhooks):  # fmt: skip
    call = place("+14155550150")
    simulator.advance(60)

    deliver(client, webhooks)
    statuses = process_all()

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert set(statuses) == {"processed"}
    assert call.transcript[0]["content"].startswith("Hi Ada")  # from the 103 history event
    assert call.transcript_final_at is not None  # the analysis need not wait any longer
    details = list(call.events.filter(source="webhook").values_list("detail", flat=True))
    assert "agent joined" in details
    assert any(detail.startswith("agent left: STOPPED") for detail in details)
    assert call.webhook_events.count() == 8


def test_a_drain_finds_its_batchs_calls_and_marks_its_events_in_one_statement_each(
    client, place, simulator, webhooks, redis_db
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calls = [place(f"+1415{200 + index}{index}150") for index in range(3)]
    simulator.advance(4.6)  # dialed, ringing, answered: no hang-up yet
    events = deliver(client, webhooks)

    with (
        mock.patch.object(tasks.process_webhook_events, "delay"),
        CaptureQueriesContext(connection) as captured,
    ):
        assert webhooks_drain(batch=len(events) + 1) == len(events)

    statements = [query["sql"] for query in captured.captured_queries]
    lookups = [sql for sql in statements if sql.startswith('SELECT "telephony_call"."id" AS')]
    marks = [sql for sql in statements if "processed_at = done.at" in sql]
    assert len(lookups) == 1 and len(marks) == 1  # not one of each per event
    stored = WebhookEvent.objects.order_by("id")
    assert {(event.status, event.attempts) for event in stored} == {("processed", 1)}
    assert all(event.processed_at and event.call_id for event in stored)
    assert {event.call_id for event in stored} == {call.pk for call in calls}
    assert {call.status for call in Call.objects.all()} == {CallStatus.ANSWERED}


def test_events_applied_by_a_worker_that_died_before_marking_them_are_applied_once_more_harmlessly(
    client, place, simulator, webhooks, redis_db, monkeypatch, settings
):
    settings.WEBHOOK_PROCESSING_LEASE_SECONDS = 60
    call = place("+14155550150")
    simulator.advance(60)  # answered, talked, hung up
    deliver(client, webhooks)

    def dies(applied):
        if applied:
            raise SystemExit("the worker was killed")

    monkeypatch.setattr(webhooks_module, "_mark_processed", dies)
    with mock.patch.object(tasks.process_webhook_events, "delay"), pytest.raises(SystemExit):
        webhooks_drain()
    monkeypatch.undo()
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    transitions = list(call.events.filter(kind="status").values_list("to_status", flat=True))

    assert webhooks_sweep(now=timezone.now() + timedelta(seconds=61)) == len(webhooks.received)

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert list(call.events.filter(kind="status").values_list("to_status", flat=True)) == (
        transitions
    )  # a state only moves forward: nothing is transitioned twice
    assert call.transcript[0]["content"].startswith("Hi Ada")  # merged, not doubled
    assert len(call.transcript) == len({m["content"] for m in call.transcript})
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_notice_that_changes_nothing_on_the_call_is_logged_without_locking_it(
    client, place, simulator, webhooks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call = place("+14155550150")
    simulator.advance(60)
    events = deliver(client, webhooks)
    joined = next(event for event in events if event.event_type == 101)

    with CaptureQueriesContext(connection) as captured:
        assert webhook_process(event_id=joined.id) == WebhookEvent.Status.PROCESSED

    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if "FOR UPDATE" in sql and "telephony_call" in sql]
    logged = [sql for sql in statements if sql.startswith('INSERT INTO "telephony_callevent"')]
    assert len(logged) == 1
    assert call.events.filter(source="webhook", detail="agent joined").exists()


def test_hangup_arriving_before_ringing(client, place, simulator, webhooks):
    call = place("+14155550001")
    simulator.advance(60)

    def hangup_first(items):
        return sorted(items, key=lambda item: b'"state":"HANGUP"' not in item["body"])

    deliver(client, webhooks, order=hangup_first)
    process_all()
    call.refresh_from_db()
    assert call.status == CallStatus.RINGING  # still settling: the late RINGING moved it on
    assert call.end_pending_since is not None
    call_finalize_end(call_id=call.id)
    call.refresh_from_db()
    assert call.status == CallStatus.NO_ANSWER


def test_an_agent_error_is_recorded_on_the_call(client, place, simulator, webhooks):
    call = place("+14155550003")
    simulator.advance(10)
    deliver(client, webhooks)
    process_all()
    call.refresh_from_db()
    assert "agent error 503" in call.last_error
    assert call.events.filter(kind="error", source="webhook").exists()


def test_events_for_unknown_calls_are_kept_and_marked(client, secret):
    body = envelope(labels={"call_id": "00000000-0000-0000-0000-000000000000"})
    post(client, body, signed(body, secret))
    event = WebhookEvent.objects.get()

    assert webhook_process(event_id=event.id) == WebhookEvent.Status.UNMATCHED
    event.refresh_from_db()
    assert event.processed_at is not None and event.call is None


def test_an_inbound_call_to_our_number_is_created_and_tracked(client, agora, simulator, webhooks):
    number = PhoneNumber.objects.create(
        e164="+14155550177", label="Front desk", inbound=True, outbound=False,
        sync_state=PhoneNumber.SyncState.SYNCED,
    )  # fmt: skip
    agora.import_phone_number(
        PhoneNumberImport(provider="byo", phone_number=number.e164, label="Front desk",
                          outbound=False)
    )  # fmt: skip
    agora.update_phone_number(number.e164, inbound_pipeline_id="receptionist")
    started = simulator.trigger_inbound_call(
        from_number="+12125550123", to_number=number.e164, talk_seconds=12
    )
    simulator.advance(30)

    deliver(client, webhooks)
    process_all()

    call = Call.objects.get(agent_id=started["agent_id"])
    assert (call.direction, call.caller_id, call.from_number) == (
        "inbound", number, "+12125550123",
    )  # fmt: skip
    assert call.pipeline_id == "receptionist"
    assert call.status == CallStatus.COMPLETED
    assert call.transcript


def test_inbound_calls_to_numbers_not_taking_calls_are_unmatched(client, agora, simulator,
                                                                  webhooks):  # fmt: skip
    PhoneNumber.objects.create(e164="+14155550178", label="Outbound only", inbound=False,
                               outbound_address="sip.example")  # fmt: skip
    agora.import_phone_number(
        PhoneNumberImport(provider="byo", phone_number="+14155550178", label="x",
                          outbound_address="sip.example")
    )  # fmt: skip
    simulator.trigger_inbound_call(from_number="+12125550123", to_number="+14155550178")
    simulator.advance(1)
    deliver(client, webhooks)
    assert set(process_all()) == {WebhookEvent.Status.UNMATCHED}
    assert not Call.objects.exists()


def test_the_calls_service_creates_an_inbound_call_once(agora, simulator):
    number = PhoneNumber.objects.create(e164="+14155550177", label="Desk", inbound=True,
                                        outbound=False, inbound_pipeline_id="desk")  # fmt: skip
    agora.import_phone_number(
        PhoneNumberImport(provider="byo", phone_number=number.e164, label="Desk", outbound=False)
    )
    started = simulator.trigger_inbound_call(from_number="+12125550123", to_number=number.e164)

    first = call_create_inbound(agent_id=started["agent_id"], agora_name="in-1")
    again = call_create_inbound(agent_id=started["agent_id"], agora_name="in-1")

    assert first is not None and again == first
    assert Call.objects.get() == first
    assert (first.direction, first.status, first.caller_id) == ("inbound", "queued", number)
    assert (first.agora_name, first.channel) == ("in-1", started["channel"])
    assert (first.pipeline_id, first.to_number) == ("desk", number.e164)
    event = first.events.get()
    assert (event.source, event.to_status) == ("webhook", "queued")
    assert event.detail == f"inbound call from +12125550123 to {number.e164}"
    assert call_create_inbound(agent_id="") is None


def test_the_sweeper_processes_stored_events_and_retries_failures(client, place, simulator,
                                                                   webhooks):  # fmt: skip
    call = place("+14155550003")
    simulator.advance(10)
    deliver(client, webhooks)  # stored; the queued tasks never ran (a worker died)

    assert webhooks_sweep(now=timezone.now()) == 0  # too fresh: their task may still come
    assert webhooks_sweep(now=timezone.now() + timedelta(minutes=1)) == 5
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    call_finalize_end(call_id=call.id)
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED


def test_a_failed_event_is_retried_by_the_sweeper(client, agora, simulator, webhooks):
    number = PhoneNumber.objects.create(e164="+14155550177", label="Desk", inbound=True,
                                        outbound=False)  # fmt: skip
    agora.import_phone_number(
        PhoneNumberImport(provider="byo", phone_number=number.e164, label="Desk", outbound=False)
    )
    simulator.trigger_inbound_call(from_number="+12125550123", to_number=number.e164)
    simulator.advance(0.1)
    deliver(client, webhooks)
    simulator.inject_fault("error", operation="get_call", status=500)

    first = WebhookEvent.objects.get(event_type=201)
    assert webhook_process(event_id=first.id) == WebhookEvent.Status.FAILED
    first.refresh_from_db()
    assert "500" in first.last_error and first.attempts == 1

    webhooks_sweep(now=timezone.now() + timedelta(minutes=1))
    first.refresh_from_db()
    assert first.status == WebhookEvent.Status.PROCESSED
    assert Call.objects.filter(direction="inbound").count() == 1


def test_staff_can_reprocess_an_event_that_came_before_its_call(admin_client, secret):
    body = envelope(agent_id="LATE-AGENT")
    post(admin_client, body, signed(body, secret))
    event = WebhookEvent.objects.get()
    assert webhook_process(event_id=event.id) == WebhookEvent.Status.UNMATCHED
    Call.objects.create(to_number="+14155550150", from_number="+14155550100",
                        agora_name="n", channel="c", agent_id="LATE-AGENT")  # fmt: skip

    response = admin_client.post(
        "/admin/telephony/webhookevent/",
        {"action": "reprocess", "_selected_action": [event.id]},
        follow=True,
    )

    assert "Reprocessed: 1 processed" in response.content.decode()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert webhook_reprocess(event_id=event.id) == WebhookEvent.Status.PROCESSED


def test_staff_who_may_only_view_the_log_cannot_reprocess(client, django_user_model, secret):
    body = envelope(agent_id="LATE-AGENT")
    post(client, body, signed(body, secret))
    event = WebhookEvent.objects.get()
    assert webhook_process(event_id=event.id) == WebhookEvent.Status.UNMATCHED
    Call.objects.create(to_number="+14155550150", from_number="+14155550100",
                        agora_name="n", channel="c", agent_id="LATE-AGENT")  # fmt: skip
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(viewer)

    page = client.get("/admin/telephony/webhookevent/").content.decode()
    client.post(
        "/admin/telephony/webhookevent/",
        {"action": "reprocess", "_selected_action": [event.id]},
    )

    assert "Reprocess selected events" not in page
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.UNMATCHED


def test_the_event_log_filters_searches_and_shows_the_payload(admin_client, secret):
    for index, event_type in enumerate((202, 103, 999)):
        body = envelope(notice_id=f"n-{index}", event_type=event_type, agent_id=f"AG{index}")
        post(admin_client, body, signed(body, secret))
    page = "/admin/telephony/webhookevent/"

    assert admin_client.get(page).status_code == 200
    assert "n-1" in admin_client.get(page, {"event_type": "103"}).content.decode()
    assert "n-0" not in admin_client.get(page, {"event_type": "103"}).content.decode()
    assert "n-2" in admin_client.get(page, {"q": "AG2"}).content.decode()
    assert admin_client.get(page, {"processed": "no"}).status_code == 200
    event = WebhookEvent.objects.get(notice_id="n-0")
    detail = admin_client.get(f"{page}{event.id}/change/").content.decode()
    assert "&quot;noticeId&quot;: &quot;n-0&quot;" in detail
    assert admin_client.get(f"{page}add/").status_code == 403
