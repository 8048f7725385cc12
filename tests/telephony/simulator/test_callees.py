"""Scripted callees (telephony/simulator/callees.py): who answers is chosen by the number, and
when the call carries `mcp_servers` the simulated agent calls the in-call tools as the
conversation reaches them, with the headers it was given."""

import threading

import pytest

from telephony.simulator import ManualClock, Simulator, SimulatorConfig
from telephony.simulator.callees import VOICEMAIL_GREETING, Callee, callee_for
from tests.support.simulator import APP_ID, call_request, import_number

SERVER = {
    "name": "contactcenter",
    "endpoint": "https://cc.example/mcp",
    "transport": "streamable_http",
    "headers": {"Authorization": "Bearer call-token"},
    "allowed_tools": ["*"],
    "timeout_ms": 5000,
}


class Recorder:
    """Stands in for the MCP client: what the agent asked, in order."""

    def __init__(self):
        self.calls: list[tuple[str, dict, dict]] = []
        self.done = threading.Event()

    def __call__(self, server: dict, tool: str, arguments: dict) -> dict:
        self.calls.append((tool, arguments, server["headers"]))
        if tool in ("end_call", "voicemail_detected"):
            self.done.set()
        return {"ok": True, "text": "done", "structured": {"ok": True}}


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def tool_sim(recorder, catcher, make_client):
    """A simulator whose agents' tool calls `recorder` answers (no MCP server needed)."""
    simulator = Simulator(
        SimulatorConfig(app_id=APP_ID, callback_when="in 20 minutes"),
        clock=ManualClock(),
        webhook_sender=catcher,
        tool_caller=recorder,
    )
    import_number(make_client(simulator))
    return simulator


@pytest.mark.parametrize(
    ("number", "callee"),
    [
        ("+14155555150", Callee.VOICEMAIL),
        ("+14155556150", Callee.CALLBACK),
        ("+14155557150", Callee.OPT_OUT),
        ("+14155558150", Callee.OUTCOME),
        ("+14155550150", Callee.PERSON),
        ("+14155559004", Callee.PERSON),
        ("+14152056010", Callee.PERSON),  # outside the 555 exchange: the benchmark's callees
    ],
)
def test_the_callee_is_chosen_by_the_fourth_digit_from_the_end(number, callee):
    assert callee_for(number) == callee


def placed(simulator: Simulator, to_number: str, *, tools: bool = True) -> str:
    llm = {"greeting_message": "Hi Ada, this is Acme.", "mcp_servers": [SERVER] if tools else []}
    request = call_request(to_number, name=f"c{to_number[-5:]}", llm=llm)
    return simulator.place_call(request.to_body())["agent_id"]


def test_the_callback_callee_gets_its_callback_scheduled_then_the_call_ended(tool_sim, recorder):
    placed(tool_sim, "+14155556150")  # asks for a callback; would talk 15 s
    tool_sim.advance(0.5 + 1.0 + 3.0 + 15)
    assert recorder.done.wait(5)
    assert [(tool, args) for tool, args, _ in recorder.calls] == [
        ("schedule_callback", {"when": "in 20 minutes", "note": "driving"}),
        ("end_call", {"reason": "callback scheduled"}),
    ]
    assert all(headers == SERVER["headers"] for _, _, headers in recorder.calls)
    call = tool_sim.ledger_calls()[0]
    assert call["callee"] == "callback" and [t["tool"] for t in call["tool_calls"]] == [
        "schedule_callback",
        "end_call",
    ]


def test_the_voicemail_box_greets_like_a_machine_and_the_agent_says_so(tool_sim, recorder):
    agent_id = placed(tool_sim, "+14155555004")
    tool_sim.advance(0.5 + 1.0 + 3.0 + 41)  # greeting, beep: 20 s each (talks 60 s)
    history = tool_sim.agent_history(agent_id)["contents"]
    assert history[1] == {"role": "user", "content": VOICEMAIL_GREETING}
    assert recorder.done.wait(5)
    assert [tool for tool, _, _ in recorder.calls] == ["voicemail_detected"]


def test_without_mcp_servers_the_script_is_only_words(tool_sim, recorder):
    agent_id = placed(tool_sim, "+14155557004", tools=False)
    tool_sim.advance(0.5 + 1.0 + 3.0 + 59)
    contents = tool_sim.agent_history(agent_id)["contents"]
    assert "stop calling me" in contents[1]["content"]
    assert recorder.calls == []


def test_a_malformed_mcp_entry_is_refused_like_agora_would(tool_sim):
    from telephony.simulator.validation import ApiError

    bad = {**SERVER, "name": "has spaces and is far too long for agora's forty-eight limit"}
    request = call_request("+14155556150", name="bad", llm={"mcp_servers": [bad]})
    with pytest.raises(ApiError, match="name: 1-48 English letters and digits"):
        tool_sim.place_call(request.to_body())
