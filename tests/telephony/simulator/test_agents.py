import pytest

from telephony.agora import BadRequest, NotFound
from tests.support.simulator import APP_ID, BASIC, call_request, raw


def test_agent_status_follows_the_call(sim, client, caller):
    placed = client.place_call(call_request("+14155550150", name="s1"))
    assert client.get_agent_status(placed.agent_id).status == "STARTING"
    sim.advance(1)
    running = client.get_agent_status(placed.agent_id)
    assert (running.status, running.status_code, running.stop_ts) == ("RUNNING", 2, None)
    sim.advance(30)
    stopped = client.get_agent_status(placed.agent_id)
    assert (stopped.status, stopped.status_code) == ("STOPPED", 4)
    assert stopped.stop_ts == stopped.start_ts + 19


def test_a_failed_call_leaves_a_failed_agent(sim, client, caller):
    placed = client.place_call(call_request("+14155550003", name="s2"))
    sim.advance(5)
    status = client.get_agent_status(placed.agent_id)
    assert status.status == "FAILED"
    assert "could not be set up" in status.message


def test_history_grows_while_running_and_is_gone_after(sim, client, caller):
    placed = client.place_call(call_request("+14155550990", name="h1"))  # talks 99 s
    sim.advance(4.5)  # answered: the greeting is said
    early = client.get_agent_history(placed.agent_id)
    assert [m.role for m in early.contents] == ["assistant"]
    sim.advance(60)
    later = client.get_agent_history(placed.agent_id)
    assert len(later.contents) > len(early.contents)
    assert {m.role for m in later.contents} == {"user", "assistant"}

    sim.advance(60)
    with pytest.raises(NotFound) as error:
        client.get_agent_history(placed.agent_id)
    assert error.value.reason == "TaskNotFound"


def test_turns_are_paged_and_kept_after_the_call(sim, client, caller):
    placed = client.place_call(call_request("+14155550990", name="t1"))
    sim.advance(200)

    first = client.get_agent_turns(placed.agent_id, page_size=10)
    assert first.total_turn_count == len(list(client.iter_agent_turns(placed.agent_id)))
    assert first.turns[0].start_type == "greeting"
    assert first.turns[0].e2e_latency_ms > 0
    assert set(first.turns[0].segmented_latency_ms) == {"asr_ttlw", "llm_ttft", "tts_ttfb"}
    assert first.is_last_page is (first.total_turn_count <= 10)


def test_unanswered_calls_have_no_turns(sim, client, caller):
    placed = client.place_call(call_request("+14155550001", name="t2"))
    sim.advance(60)
    page = client.get_agent_turns(placed.agent_id)
    assert (page.total_turn_count, page.turns, page.is_last_page) == (0, [], True)


def test_turns_page_size_is_validated(sim, client, caller):
    placed = client.place_call(call_request("+14155550150", name="t3"))
    response = raw(
        sim, "GET", f"/v2/projects/{APP_ID}/agents/{placed.agent_id}/turns?page_size=5",
        headers=BASIC,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {
        "detail": "page_index must be >= 1 and page_size between 10 and 200",
        "reason": "InvalidFieldValue",
    }


def test_leave_hangs_up_and_speak_interrupt_need_a_running_agent(sim, client, caller):
    placed = client.place_call(call_request("+14155550004", name="l1"))
    sim.advance(10)
    spoken = client.speak(placed.agent_id, text="One moment please", priority="APPEND")
    assert spoken.agent_id == placed.agent_id
    assert client.interrupt_agent(placed.agent_id).channel == "ch-l1"

    client.leave_agent(placed.agent_id)
    assert (client.get_call(placed.agent_id).reason) == "request"
    with pytest.raises(BadRequest) as error:
        client.speak(placed.agent_id, text="Hello?")
    assert error.value.reason == "invalid_agent_state"


def test_speak_validation_and_unknown_agents(sim, client, caller):
    placed = client.place_call(call_request("+14155550004", name="l2"))
    sim.advance(1)
    response = raw(
        sim, "POST", f"/v2/projects/{APP_ID}/agents/{placed.agent_id}/speak",
        json={"text": "x", "priority": "LOUD"}, headers=BASIC,
    )  # fmt: skip
    assert response.status_code == 400
    for call in (
        lambda: client.get_agent_status("NOPE"),
        lambda: client.get_agent_turns("NOPE"),
        lambda: client.leave_agent("NOPE"),
    ):
        with pytest.raises(NotFound) as error:
            call()
        assert error.value.reason == "TaskNotFound"


def test_think_shows_in_the_history_as_the_callees_turn_and_needs_a_running_agent(
    sim, client, caller
):
    placed = client.place_call(call_request("+14155550004", name="th1"))
    sim.advance(10)

    answer = client.think(placed.agent_id, text="The customer is a VIP: offer the upgrade.",
                          on_listening_action="inject")  # fmt: skip

    assert (answer.agent_id, answer.channel) == (placed.agent_id, "ch-th1")
    history = client.get_agent_history(placed.agent_id)
    assert history.contents[-1].role == "user"
    assert history.contents[-1].content == "The customer is a VIP: offer the upgrade."
    bad = raw(
        sim, "POST", f"/v2/projects/{APP_ID}/agents/{placed.agent_id}/think",
        json={"text": "x", "on_thinking_action": "inject"}, headers=BASIC,
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["reason"] == "InvalidFieldValue"
    client.leave_agent(placed.agent_id)
    with pytest.raises(BadRequest) as error:
        client.think(placed.agent_id, text="Too late")
    assert error.value.reason == "invalid_agent_state"
