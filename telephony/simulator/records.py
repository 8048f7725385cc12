"""What the simulator keeps about calls and phone numbers, and how Agora's API shows them."""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from telephony.simulator.outcomes import CallPlan


@dataclass
class SimCall:
    agent_id: str
    name: str
    type: str  # outbound | inbound
    to_number: str
    from_number: str
    channel: str
    pipeline_id: str | None
    labels: dict[str, str]
    greeting: str | None
    plan: CallPlan
    created_at: float
    calling_at: float | None = None
    ringing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None  # request | hangup | failed
    prompt: str = ""  # the agent's system prompt: the conversation keeps to its topic
    # What speak (the agent's words) and think (the callee's, as Agora injects it) added to
    # the history, in order; `controls` keeps every speak, think and interrupt request.
    instructions: list[dict[str, str]] = field(default_factory=list)
    controls: list[dict] = field(default_factory=list)
    agent_status: str = "STARTING"
    agent_message: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    states: list[tuple[str, float]] = field(default_factory=list)  # the webhook states, in order
    callee: str = "person"  # who answers (callees.py): a person, a voicemail box, ...
    mcp_server: dict | None = None  # the place-call body's first `llm.mcp_servers` entry
    tool_calls: list[dict] = field(default_factory=list)  # the agent's tool calls and results
    pace: float | None = None  # seconds per message of a scripted callee (else talk-wide)
    history_window: int = 32  # llm.max_history: the history endpoint returns this many, newest

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def as_ledger_entry(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "type": self.type,
            "to_number": self.to_number,
            "from_number": self.from_number,
            "channel": self.channel,
            "labels": dict(self.labels),
            "planned_outcome": self.plan.outcome.value,
            "created_at": self.created_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "reason": self.reason,
            "states": [state for state, _ in self.states],
            "callee": self.callee,
            "tool_calls": [dict(call) for call in self.tool_calls],
            "controls": [dict(control) for control in self.controls],
        }


@dataclass
class PhoneNumber:
    phone_number: str
    provider: str
    label: str
    inbound: bool
    outbound: bool
    inbound_config: dict | None
    outbound_config: dict | None

    def as_api(self, *, full: bool = True) -> dict[str, Any]:
        pipeline_id = None
        for config in (self.inbound_config, self.outbound_config):
            if config and config.get("pipeline_id"):
                pipeline_id = config["pipeline_id"]
                break
        body: dict[str, Any] = {
            "provider": self.provider,
            "phone_number": self.phone_number,
            "label": self.label,
            "inbound": self.inbound,
            "outbound": self.outbound,
            "associated_pipeline": (
                {"pipeline_id": pipeline_id, "pipeline_name": f"Pipeline {pipeline_id}"}
                if pipeline_id
                else None
            ),
        }
        if full:
            body["inbound_config"] = public_config(self.inbound_config)
            body["outbound_config"] = public_config(self.outbound_config)
        return body


def public_config(config: dict | None) -> dict | None:
    # Agora never returns SIP credentials once stored.
    if config is None:
        return None
    return {key: value for key, value in config.items() if key not in ("password", "user")}


def call_object(call: SimCall, *, with_reason: bool) -> dict[str, Any]:
    """A call as the REST API shows it (list items carry no end reason)."""
    body: dict[str, Any] = {
        "to_number": call.to_number,
        "from_number": call.from_number,
        "type": call.type,
        "agent_id": call.agent_id,
        "channel": call.channel,
        "create_ts": int(call.created_at),
    }
    if call.pipeline_id:
        body["pipeline_id"] = call.pipeline_id
    if call.ended_at is not None:
        body["state"] = "hangup"
        body["stop_ts"] = int(call.ended_at)
        if with_reason and call.reason:
            body["reason"] = call.reason
    else:
        # The REST API knows only "answered" and "hangup": before an answer, no state.
        if call.answered_at is not None:
            body["state"] = "answered"
        body["stop_ts"] = 0
    return body


def load_numbers(path: str | None) -> dict[str, PhoneNumber]:
    """The numbers kept in `path` by `save_numbers` (none without a file)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        items = json.load(handle).get("phone_numbers", [])
    return {item["phone_number"]: PhoneNumber(**item) for item in items}


def save_numbers(path: str | None, numbers: list[PhoneNumber]) -> None:
    """Write the numbers atomically (a crash mid-write leaves the old file)."""
    if not path:
        return
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        # Credentials are not needed to simulate calls: they never reach the disk.
        stored = [
            {**asdict(n), "outbound_config": public_config(n.outbound_config)} for n in numbers
        ]
        json.dump({"phone_numbers": stored}, handle)
    os.replace(temporary, path)
