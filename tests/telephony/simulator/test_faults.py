"""HTTP fault injection, seen through the project's client (which retries what is safe)."""

import httpx
import pytest

from telephony.agora import AgoraTransportError, CallNameConflict, RateLimited, ServerError
from telephony.simulator import HttpFaults
from tests.support.simulator import call_request


def test_an_injected_5xx_has_no_effect_and_the_retry_succeeds(sim, client, caller, sleeps):
    sim.inject_fault("error", operation="place_call", status=503)

    placed = client.place_call(call_request("+14155550150", name="e1"))

    assert len(sim.ledger.calls) == 1
    assert sim.ledger.calls[0].agent_id == placed.agent_id
    assert sim.ledger.fault_counts["error"] == 1
    assert len(sleeps) == 1


def test_a_non_retryable_5xx_is_raised(sim, client, caller):
    sim.inject_fault("error", operation="get_call", status=500)
    with pytest.raises(ServerError) as error:
        client.get_call("X")
    assert error.value.status_code == 500


def test_429_carries_retry_after_and_the_client_waits_exactly(sim, client, caller, sleeps):
    sim.inject_fault("rate_limit", operation="list_calls", retry_after=2)

    client.list_calls()

    assert sleeps == [2.0]
    assert sim.ledger.status_counts[429] == 1


def test_429_beyond_the_client_patience_is_raised(sim, make_client, caller):
    client = make_client(sim, max_retry_after=1)
    sim.inject_fault("rate_limit", operation="list_calls", retry_after=30)
    with pytest.raises(RateLimited) as error:
        client.list_calls()
    assert error.value.retry_after == 30


def test_latency_beyond_the_read_timeout_is_a_timeout_after_the_effect(sim, make_client, caller):
    client = make_client(sim, read_timeout=1.0, max_retries=0)
    sim.inject_fault("latency", operation="place_call", seconds=5)
    with pytest.raises(AgoraTransportError) as error:
        client.place_call(call_request("+14155550150", name="slow"))
    assert error.value.response_lost is True
    assert len(sim.ledger.calls) == 1


def test_small_latency_is_slept(make_sim, make_client, caller):
    slept = []
    sim = make_sim()
    from telephony.simulator import SimulatorHTTP, SimulatorTransport

    transport = SimulatorTransport(SimulatorHTTP(sim, sleep=slept.append))
    sim.inject_fault("latency", seconds=0.25)
    with httpx.Client(transport=transport) as http:
        http.get("http://sim.test/api/conversational-ai-agent/v2/phone-numbers")
    assert slept == [0.25]


def test_rates_apply_only_to_the_chosen_operations(sim, client, caller):
    sim.set_http_faults(HttpFaults(error_rate=1.0, operations=frozenset({"get_call"})))
    placed = client.place_call(call_request("+14155550150", name="r1"))
    with pytest.raises(ServerError):
        client.get_call(placed.agent_id)
    assert sim.ledger.request_counts["get_call"] == 4  # first try + 3 retries, all 503


def test_rates_are_seeded(make_sim, make_client):
    def statuses(seed):
        sim = make_sim(seed=seed, http_faults=HttpFaults(error_rate=0.3, rate_limit_rate=0.2))
        client = make_client(sim, max_retries=0)
        seen = []
        for _ in range(40):
            try:
                client.list_phone_numbers()
                seen.append(200)
            except (ServerError, RateLimited) as error:
                seen.append(error.status_code)
        return seen

    assert statuses(1) == statuses(1)
    assert {200, 429, 503} <= set(statuses(1))


def test_lost_response_rate_over_many_calls_never_duplicates(make_sim, make_client, caller):
    sim = make_sim(http_faults=HttpFaults(lost_response_rate=0.3), max_concurrent_calls=500)
    client = make_client(sim)
    from tests.support.simulator import import_number

    import_number(client, "+14155550101")
    placed, conflicts = 0, 0
    for index in range(100):
        try:
            client.place_call(
                call_request("+14155550150", name=f"n{index}", from_number="+14155550101")
            )
            placed += 1
        except (CallNameConflict, AgoraTransportError):
            conflicts += 1
    assert placed + conflicts == 100
    assert len(sim.ledger.calls) == 100
    assert sim.ledger.duplicate_channels() == {}
    assert sim.ledger.fault_counts["lost_response"] > 10
