"""Webhooks: NCS envelopes, signatures, redelivery, faults and simulated inbound calls."""

import itertools
import json

import pytest

from telephony.simulator import ApiError, WebhookFaults
from tests.support.simulator import (
    WEBHOOK_URL,
    call_request,
    import_number,
    verify_signatures,
)


def test_an_answered_call_reports_every_step_signed(sim, client, caller, catcher):
    placed = client.place_call(
        call_request("+14155550150", name="w1", labels={"call_id": "our-42", "campaign": "7"})
    )
    sim.advance(60)

    assert catcher.events(placed.agent_id) == [
        (202, "START"), (101, None), (202, "CALLING"), (202, "RINGING"), (202, "ANSWERED"),
        (202, "HANGUP"), (102, None), (103, None),
    ]  # fmt: skip
    envelopes = catcher.envelopes()
    for item in catcher.received:
        assert item["url"] == WEBHOOK_URL
        assert item["headers"]["Content-Type"] == "application/json"
        verify_signatures(item["body"], item["headers"])
    assert len({envelope["noticeId"] for envelope in envelopes}) == len(envelopes)
    first = envelopes[0]
    assert (first["productId"], first["eventType"]) == (17, 202)
    assert set(first) == {"noticeId", "productId", "eventType", "notifyMs", "sid", "payload"}
    assert first["payload"] == {
        "agent_id": placed.agent_id,
        "channel": "ch-w1",
        "name": "w1",
        "state": "START",
        "report_ms": first["notifyMs"],
        "labels": {"call_id": "our-42", "campaign": "7"},
    }
    states = [e["payload"] for e in envelopes if e["eventType"] == 202]
    assert [s["report_ms"] for s in states] == sorted(s["report_ms"] for s in states)
    left = next(e["payload"] for e in envelopes if e["eventType"] == 102)
    assert left["status"] == "STOPPED"
    history = next(e["payload"] for e in envelopes if e["eventType"] == 103)
    assert history["contents"][0]["role"] == "assistant"
    assert history["labels"] == {"call_id": "our-42", "campaign": "7"}


def test_a_failed_call_reports_an_agent_error(sim, client, caller, catcher):
    placed = client.place_call(call_request("+14155550003", name="w2"))
    sim.advance(5)
    assert catcher.events(placed.agent_id) == [
        (202, "START"), (101, None), (110, None), (202, "HANGUP"), (102, None),
    ]  # fmt: skip


def test_not_200_is_redelivered_three_times_with_growing_delays(sim, client, caller, catcher):
    catcher.status = 500
    client.place_call(call_request("+14155550003", name="w3"))
    sim.advance(0.1)  # only START is due: delivered, refused, retried at once (as Agora does)
    assert len(catcher.received) == 2

    sim.advance(30)
    start = [json.loads(item["body"]) for item in catcher.received][:1]
    attempts = [
        json.loads(item["body"])
        for item in catcher.received
        if json.loads(item["body"])["noticeId"] == start[0]["noticeId"]
    ]
    assert len(attempts) == 4  # the first delivery and 3 retries
    gaps = [b["notifyMs"] - a["notifyMs"] for a, b in itertools.pairwise(attempts)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]
    for item in catcher.received:
        verify_signatures(item["body"], item["headers"])  # re-signed: notifyMs changed
    assert sim.webhooks.counts["failed"] == sim.webhooks.counts["emitted"]


def test_an_exception_in_delivery_counts_as_a_failed_attempt(sim, client, caller, catcher):
    catcher.error = ConnectionError("refused")
    client.place_call(call_request("+14155550003", name="w4"))
    sim.advance(30)
    assert sim.webhooks.counts["delivered"] == 0
    assert all(not attempt.ok for attempt in sim.webhooks.attempts)
    assert "refused" in sim.webhooks.attempts[0].error


def test_duplicates_share_their_notice_id(make_sim, make_client, catcher):
    sim = make_sim(webhook_faults=WebhookFaults(duplicate_rate=1.0))
    client = make_client(sim)
    import_number(client)
    client.place_call(call_request("+14155550003", name="d1"))
    sim.advance(30)
    ids = [envelope["noticeId"] for envelope in catcher.envelopes()]
    assert len(ids) == 2 * len(set(ids))


def test_reordering_lets_later_events_overtake(make_sim, make_client, catcher):
    sim = make_sim(webhook_faults=WebhookFaults(reorder_rate=0.5, reorder_delay=5.0), seed=3)
    client = make_client(sim)
    import_number(client)
    client.place_call(call_request("+14155550150", name="o1"))
    sim.advance(120)
    # The middle part of a noticeId is the emission sequence.
    emitted_order = [int(e["noticeId"].split(":")[1]) for e in catcher.envelopes()]
    assert emitted_order != sorted(emitted_order)
    assert sim.webhooks.counts["reordered"] > 0


def test_delay_and_drop(make_sim, make_client, catcher):
    sim = make_sim(webhook_faults=WebhookFaults(delay_seconds=10.0))
    client = make_client(sim)
    import_number(client)
    client.place_call(call_request("+14155550003", name="x1"))
    sim.advance(9)
    assert catcher.received == []
    sim.advance(2)
    assert len(catcher.received) == 5

    sim.set_webhook_faults(WebhookFaults(drop_rate=1.0))
    client.place_call(call_request("+14155550003", name="x2"))
    sim.advance(30)
    assert len(catcher.received) == 5
    assert sim.webhooks.counts["dropped"] == 5


def test_inbound_calls_report_201_states(sim, client, catcher):
    import_number(client, "+14155550177", inbound=True, outbound=False)
    client.update_phone_number("+14155550177", inbound_pipeline_id="receptionist")

    started = sim.trigger_inbound_call(
        from_number="+12125550123", to_number="+14155550177", talk_seconds=12
    )
    sim.advance(30)

    assert catcher.events(started["agent_id"]) == [
        (201, "START"), (101, None), (201, "ANSWERED"), (201, "HANGUP"), (102, None), (103, None),
    ]  # fmt: skip
    call = client.get_call(started["agent_id"])
    assert (call.type, call.pipeline_id, call.reason) == ("inbound", "receptionist", "hangup")
    assert [c.agent_id for c in client.iter_calls(type="inbound")] == [started["agent_id"]]


def test_inbound_calls_need_an_inbound_number(sim, client):
    import_number(client, "+14155550178", inbound=False)
    with pytest.raises(ApiError, match="inbound calling enabled") as refused:
        sim.trigger_inbound_call(from_number="+12125550123", to_number="+14155550178")
    assert refused.value.status == 422
    with pytest.raises(ApiError, match=r"E\.164") as invalid:
        sim.trigger_inbound_call(from_number="12125550123", to_number="+14155550178")
    assert invalid.value.status == 400
    assert sim.ledger.calls == []
