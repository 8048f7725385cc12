"""The ledger: what the simulator saw, readable in Python and over HTTP."""

import httpx

from telephony.simulator import sim_transport
from tests.support.simulator import BASIC, call_request, import_number, raw


def control(sim, method, path, **kwargs) -> httpx.Response:
    with httpx.Client(transport=sim_transport(sim), base_url="http://sim.test") as http:
        return http.request(method, f"/_simulator{path}", **kwargs)


def test_requests_calls_and_peak_are_recorded(sim, client, caller):
    for index in range(3):
        client.place_call(call_request("+14155550004", name=f"p{index}"))
    sim.advance(1)
    client.place_call(call_request("+14155550003", name="p3"))
    sim.advance(5)

    summary = control(sim, "GET", "/ledger").json()
    assert summary["calls"]["placed"] == 4
    assert summary["calls"]["peak_live"] == 4
    assert summary["calls"]["live"] == 3
    assert summary["calls"]["by_end_reason"] == {"live": 3, "failed": 1}
    assert summary["requests"]["by_operation"] == {"import_phone_number": 1, "place_call": 4}
    assert summary["webhooks"]["delivered"] > 0

    calls = control(sim, "GET", "/calls").json()
    assert [call["name"] for call in calls] == ["p0", "p1", "p2", "p3"]
    assert calls[0]["labels"] == {"call_id": "p0"}
    assert calls[3]["states"] == ["START", "HANGUP"]
    assert sim.ledger.calls_with_label("call_id", "p2")[0].name == "p2"
    assert [r.operation for r in sim.ledger.requests][-1] == "place_call"


def test_two_calls_on_one_channel_show_as_a_duplicate(sim, client, caller):
    client.place_call(call_request("+14155550004", name="a", channel="shared"))
    client.place_call(call_request("+14155550004", name="b", channel="shared"))
    assert sim.ledger.duplicate_channels() == {"shared": 2}
    assert control(sim, "GET", "/ledger").json()["calls"]["duplicate_channels"] == {"shared": 2}


def test_faults_config_inbound_and_reset_over_http(sim, client, caller, catcher):
    assert control(sim, "POST", "/faults", json={"http": {"error_rate": 2}}).status_code == 422
    set_faults = control(
        sim, "POST", "/faults",
        json={"http": {"rate_limit_rate": 0.5, "operations": ["get_call"]},
              "webhooks": {"duplicate_rate": 0.1}},
    )  # fmt: skip
    assert set_faults.json()["http"]["operations"] == ["get_call"]
    assert sim.webhooks.faults.duplicate_rate == 0.1
    inject = {"inject": {"kind": "error", "operation": "get_call"}}
    assert control(sim, "POST", "/faults", json=inject).status_code == 200
    assert control(sim, "POST", "/faults", json={"inject": {"kind": "nope"}}).status_code == 422

    assert control(sim, "POST", "/config", json={"max_concurrent_calls": 3}).status_code == 200
    assert sim.config.max_concurrent_calls == 3
    assert control(sim, "POST", "/config", json={"mode": "chaos"}).status_code == 422

    import_number(client, "+14155550188", inbound=True)
    started = control(
        sim, "POST", "/inbound-calls",
        json={"from_number": "+12125550100", "to_number": "+14155550188", "talk_seconds": 5},
    )  # fmt: skip
    assert started.status_code == 201
    sim.advance(10)
    assert control(sim, "GET", "/webhooks").json()["counts"]["emitted"] >= 6

    assert control(sim, "POST", "/reset").json() == {"reset": True}
    assert sim.ledger.calls == [] and sim.list_numbers() == []
    assert control(sim, "GET", "/nothing").status_code == 404


def test_control_paths_need_no_credentials_and_see_no_faults(sim):
    sim.inject_fault("error")
    assert control(sim, "GET", "/ledger").status_code == 200
    # The injected fault is still waiting for an Agora API request.
    assert raw(sim, "GET", "/v2/phone-numbers", headers=BASIC).status_code == 503
    assert raw(sim, "GET", "/v2/phone-numbers", headers=BASIC).status_code == 200


def test_callees_hang_up_on_request_answered_first_first(sim, client, caller, catcher):
    for index in range(3):
        client.place_call(call_request("+14155550004", name=f"h{index}"))
        sim.advance(1)
    client.place_call(call_request("+14155550001", name="ringing"))  # never answered
    sim.advance(5)
    first, second = (sim.ledger.calls_with_label("call_id", f"h{i}")[0] for i in range(2))

    ended = control(sim, "POST", "/callee-hangups", json={"count": 2})

    assert ended.status_code == 200
    assert ended.json() == {"hung_up": [first.agent_id, second.agent_id]}
    assert control(sim, "GET", "/ledger").json()["calls"]["live"] == 2  # h2 and the ringing one
    sim.advance(1)
    hung_up = {
        envelope["payload"]["agent_id"] for envelope in catcher.envelopes()
        if envelope["payload"].get("state") == "HANGUP"
    }  # fmt: skip
    assert hung_up == {first.agent_id, second.agent_id}
    assert first.reason == "hangup"
    # Only answered calls are hung up by their callee: one is left to end, not the ringing one.
    assert control(sim, "POST", "/callee-hangups", json={"count": 5}).json()["hung_up"] == [
        sim.ledger.calls_with_label("call_id", "h2")[0].agent_id
    ]
    for bad in ({"count": -1}, {"count": "2"}, {}, [1]):
        refused = control(sim, "POST", "/callee-hangups", json=bad)
        assert refused.status_code == 422
        assert "count must be a whole number" in refused.text


def test_the_requests_kept_are_listed_over_http_oldest_first_by_operation(sim, client, caller):
    placed = client.place_call(call_request("+14155550004", name="r0"))
    sim.advance(5)
    client.get_agent_history(placed.agent_id)

    everything = control(sim, "GET", "/requests").json()
    assert [r["operation"] for r in everything] == [
        "import_phone_number",
        "place_call",
        "get_agent_history",
    ]
    (history,) = control(sim, "GET", "/requests", params={"operation": "get_agent_history"}).json()
    assert placed.agent_id in history["path"]
    assert history["at"] == sim.now() and history["status"] == 200
