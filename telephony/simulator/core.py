"""The simulator's state machine: calls, phone numbers, agents, the ledger and webhooks.

No HTTP here (see `http.py`) and no Django: requests come in as plain values, checked by
`validation.py`, and answers go out as dicts or `ApiError`. Time comes from a clock; call
lifecycles are events on a heap, applied in time order by `run_due()`, so a manual clock plays a
whole call in microseconds. Faults on requests are `faults.py`'s, on webhooks `webhooks.py`'s.
"""

import base64
import binascii
import heapq
import itertools
import random
import secrets
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from telephony.agora.tokens import rtc_token_problem
from telephony.agora.webhooks import EventType
from telephony.simulator import conversation
from telephony.simulator.agent_tools import ToolCaller, in_background, mcp_tool_call
from telephony.simulator.callees import CALLBACK_WHEN, callee_for, script_for
from telephony.simulator.clock import Clock, SystemClock
from telephony.simulator.faults import FaultInjector, HttpFaults
from telephony.simulator.ledger import Ledger, RequestRecord
from telephony.simulator.outcomes import CallPlan, Outcome, RandomMix, Timings, plan_by_rules
from telephony.simulator.records import (
    PhoneNumber,
    SimCall,
    call_object,
    load_numbers,
    save_numbers,
)
from telephony.simulator.validation import (
    ApiError,
    check_phone_number,
    labels_of,
    mcp_servers_of,
    system_prompt_of,
    validate_inbound_call,
    validate_list_calls,
    validate_number_import,
    validate_number_update,
    validate_place_call,
    validate_speak,
    validate_think,
    validate_turns_page,
)
from telephony.simulator.webhooks import Sender, WebhookFaults, WebhookOutbox
from telephony.transcripts import history_window

AGENT_JOIN_SECONDS = 0.2


@dataclass(frozen=True)
class SimulatorConfig:
    app_id: str | None = None  # None: any app id in the path is accepted
    customer_id: str | None = None  # None: any well-formed Basic credential is accepted
    customer_secret: str | None = None
    app_certificate: str | None = None  # set: RTC tokens in place-call bodies are verified
    max_concurrent_calls: int = 20
    mode: str = "rules"  # "rules" (by callee number) or "random" (seeded mix)
    seed: int = 0
    mix: RandomMix = field(default_factory=RandomMix)
    timings: Timings = field(default_factory=Timings)
    webhook_url: str | None = None
    webhook_secret: str = ""
    webhook_retry_delays: tuple[float, ...] = (0.0, 2.0, 8.0)
    webhook_faults: WebhookFaults = field(default_factory=WebhookFaults)
    http_faults: HttpFaults = field(default_factory=HttpFaults)
    history_limit: int = 100_000  # request records kept in the ledger
    # Imported phone numbers survive a restart here (calls do not); None keeps them in memory.
    state_file: str | None = None
    callback_when: str = CALLBACK_WHEN  # what the scripted callback callee asks for

    def __post_init__(self) -> None:
        if self.mode not in ("rules", "random"):
            raise ValueError(f"mode: must be 'rules' or 'random', got {self.mode!r}")
        if self.max_concurrent_calls < 1:
            raise ValueError("max_concurrent_calls: must be at least 1")


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    agent_id: str = field(compare=False)
    action: str = field(compare=False)


class Simulator:
    """A stand-in for Agora's telephony, phone-number and agent APIs. Thread-safe."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Clock | None = None,
        webhook_sender: Sender | None = None,
        tool_caller: ToolCaller = mcp_tool_call,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.tool_caller = tool_caller
        self.clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._events: list[_Event] = []
        self._calls: dict[str, SimCall] = {}
        self._names: dict[str, str] = {}
        self._live: set[str] = set()
        self._numbers: dict[str, PhoneNumber] = load_numbers(self.config.state_file)
        self.faults = FaultInjector(self.config.http_faults, seed=self.config.seed)
        self.ledger = Ledger(self.config.history_limit)
        self.webhooks = WebhookOutbox(
            url=self.config.webhook_url,
            secret=self.config.webhook_secret,
            sender=webhook_sender,
            rng=random.Random(self.config.seed + 1),  # noqa: S311
            faults=self.config.webhook_faults,
            retry_delays=self.config.webhook_retry_delays,
        )

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def run_due(self, *, deliver: bool = True) -> None:
        """Apply every lifecycle event due by now, then (optionally) send due webhooks."""
        now = self.now()
        with self._lock:
            while self._events and self._events[0].due <= now:
                event = heapq.heappop(self._events)
                self._apply(event)
        if deliver:
            self.deliver_due_webhooks()

    def deliver_due_webhooks(self) -> int:
        sent = 0
        for pending in self.webhooks.take_due(self.now()):
            self.webhooks.send(pending, now=self.now())
            sent += 1
        return sent

    def next_due(self) -> float | None:
        with self._lock:
            call_due = self._events[0].due if self._events else None
        hook_due = self.webhooks.next_due()
        candidates = [due for due in (call_due, hook_due) if due is not None]
        return min(candidates) if candidates else None

    def advance(self, seconds: float) -> None:
        """Manual clocks only: move time forward, playing every event at its own instant."""
        set_time = getattr(self.clock, "set", None)
        if set_time is None:
            raise TypeError("advance() needs a ManualClock")
        target = self.now() + seconds
        while (due := self.next_due()) is not None and due <= target:
            set_time(max(due, self.now()))
            self.run_due()
        set_time(target)
        self.run_due()

    def _schedule(self, at: float, agent_id: str, action: str) -> None:
        heapq.heappush(self._events, _Event(at, next(self._seq), agent_id, action))

    # -- faults (the control API; see faults.py) ----------------------------------------------

    def set_http_faults(self, faults: HttpFaults) -> None:
        self.faults.set_http_faults(faults)

    def set_webhook_faults(self, faults: WebhookFaults) -> None:
        self.webhooks.faults = faults

    def inject_fault(
        self,
        kind: str,
        *,
        operation: str | None = None,
        times: int = 1,
        status: int = 503,
        retry_after: float = 1.0,
        seconds: float = 0.0,
    ) -> None:
        """Make the next `times` requests (of `operation`, or any) fail in this way."""
        self.faults.inject(
            kind,
            operation=operation,
            times=times,
            status=status,
            retry_after=retry_after,
            seconds=seconds,
        )

    def record_request(
        self, *, method: str, path: str, operation: str, status: int, fault: str | None
    ) -> None:
        with self._lock:
            self.ledger.record_request(
                RequestRecord(self.now(), method, path, operation, status, fault)
            )

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, header: str | None, *, account_level: bool, shape: str) -> None:
        """Basic (customer id/secret) everywhere; `agora token=` only for project endpoints."""
        if not header:
            raise ApiError(401, "unauthorized", "Missing Authorization header", shape=shape)
        scheme, _, credential = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme in ("basic", "bearer"):
            self._check_customer_credential(credential.strip(), shape=shape)
            return
        if scheme == "agora" and credential.startswith("token="):
            if account_level:
                raise ApiError(
                    401,
                    "unauthorized",
                    "Phone-number endpoints need Basic authentication",
                    shape=shape,
                )
            token = credential[len("token=") :].strip()
            if not (token.startswith(("006", "007")) and len(token) > 32):
                raise ApiError(401, "unauthorized", "Malformed Agora token", shape=shape)
            return
        raise ApiError(401, "unauthorized", "Unsupported Authorization scheme", shape=shape)

    def _check_customer_credential(self, credential: str, *, shape: str) -> None:
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "unauthorized", "Malformed credentials", shape=shape) from None
        customer_id, colon, secret = decoded.partition(":")
        if not colon or not customer_id or not secret:
            raise ApiError(401, "unauthorized", "Malformed credentials", shape=shape)
        expected = self.config
        if expected.customer_id is not None and (
            customer_id != expected.customer_id or secret != expected.customer_secret
        ):
            raise ApiError(
                401,
                "unauthorized",
                "Authentication failed. Please check your credentials.",
                shape=shape,
            )

    def check_app(self, app_id: str, *, shape: str) -> None:
        if self.config.app_id is not None and app_id != self.config.app_id:
            raise ApiError(
                403,
                "InvalidPermission",
                f"No access to app id {app_id}",
                shape="detail" if shape == "detail" else "error_type",
            )

    # -- telephony ----------------------------------------------------------------------------

    def place_call(self, body: Any) -> dict[str, str]:
        request = validate_place_call(body)
        sip, properties = request["sip"], request["properties"]
        with self._lock:
            number = self._numbers.get(sip["from_number"])
            if number is None or not number.outbound:
                raise ApiError(
                    422,
                    "unprocessable_content",
                    f"from_number {sip['from_number']} is not an imported number with "
                    "outbound calling enabled",
                )
            self._check_call_tokens(sip, properties)
            if request["name"] in self._names:
                raise ApiError(
                    409,
                    "TaskConflict",
                    f"A call named {request['name']!r} already exists",
                    shape="detail",
                )
            if len(self._live) >= self.config.max_concurrent_calls:
                self.ledger.refused_over_cap += 1
                raise ApiError(
                    422,
                    "ConcurrencyLimitExceeded",
                    f"Concurrent call limit of {self.config.max_concurrent_calls} reached",
                    shape="detail",
                )
            llm = properties.get("llm") if isinstance(properties.get("llm"), dict) else {}
            servers = mcp_servers_of(llm)
            call = self._start_call(
                callee=callee_for(sip["to_number"]).value,
                mcp_server=servers[0] if servers else None,
                name=request["name"],
                type="outbound",
                to_number=sip["to_number"],
                from_number=sip["from_number"],
                channel=properties["channel"],
                pipeline_id=request.get("pipeline_id"),
                labels=labels_of(properties.get("labels")),
                greeting=llm.get("greeting_message"),
                prompt=system_prompt_of(llm),
                plan=self._plan(request["name"], sip["to_number"]),
                history_window=history_window(properties),
            )
            return {"agent_id": call.agent_id}

    def _check_call_tokens(self, sip: dict, properties: dict) -> None:
        if not (self.config.app_certificate and self.config.app_id):
            return
        for where, token, uid in (
            ("sip.rtc_token", sip["rtc_token"], sip["rtc_uid"]),
            ("properties.token", properties["token"], properties["agent_rtc_uid"]),
        ):
            problem = rtc_token_problem(
                token,
                app_id=self.config.app_id,
                app_certificate=self.config.app_certificate,
                channel=properties["channel"],
                uid=uid,
                now=self.now(),
            )
            if problem:
                raise ApiError(422, "unprocessable_content", f"{where}: {problem}")

    def _plan(self, name: str, to_number: str) -> CallPlan:
        timings = self.config.timings
        if self.config.mode == "random":
            return self.config.mix.plan(seed=self.config.seed, name=name, timings=timings)
        return plan_by_rules(to_number, timings)

    def _start_call(self, **fields: Any) -> SimCall:
        now = self.now()
        agent_id = secrets.token_hex(16).upper()
        call = SimCall(agent_id=agent_id, created_at=now, **fields)
        self._calls[agent_id] = call
        self._names[call.name] = agent_id
        self._live.add(agent_id)
        self.ledger.calls.append(call)
        self.ledger.peak_live_calls = max(self.ledger.peak_live_calls, len(self._live))
        self._state(call, "START", now)
        self._schedule(now + AGENT_JOIN_SECONDS, agent_id, "agent_joined")
        timings = self.config.timings
        plan = call.plan
        if call.type == "inbound":
            self._schedule(now + timings.inbound_answer_seconds, agent_id, "answered")
        elif plan.outcome is Outcome.FAILED:
            self._schedule(now + timings.fail_after_seconds, agent_id, "failed")
        else:
            self._schedule(now + timings.dial_seconds, agent_id, "calling")
        return call

    def _apply(self, event: _Event) -> None:
        call = self._calls.get(event.agent_id)
        if call is None or not call.live:
            return  # hung up (or reset) before this event came due
        now = event.due
        timings = self.config.timings
        plan = call.plan
        if event.action == "agent_joined":
            call.agent_status = "RUNNING"
            self._notify(call, EventType.AGENT_JOINED, {}, now)
        elif event.action == "calling":
            call.calling_at = now
            self._state(call, "CALLING", now)
            if plan.outcome is Outcome.BUSY:
                self._schedule(now + timings.busy_after_seconds, call.agent_id, "busy")
            else:
                self._schedule(now + timings.ring_after_seconds, call.agent_id, "ringing")
        elif event.action == "ringing":
            call.ringing_at = now
            self._state(call, "RINGING", now)
            next_action = "answered" if plan.outcome is Outcome.ANSWERED else "no_answer"
            self._schedule(now + plan.ring_seconds, call.agent_id, next_action)
        elif event.action == "answered":
            call.answered_at = now
            talk = plan.talk_seconds
            self._converse(call, now, talk if talk is not None else 60.0)
            self._state(call, "ANSWERED", now)
            if talk is not None:
                self._schedule(now + talk, call.agent_id, "callee_hangup")
        elif event.action.startswith("tool:"):
            self._call_tool(call, int(event.action.removeprefix("tool:")), now)
        elif event.action == "callee_hangup":
            self._end(call, "hangup", now, message="the other party hung up")
        elif event.action == "no_answer":
            self._end(call, "failed", now, message="the callee did not answer")
        elif event.action == "busy":
            self._end(call, "failed", now, message="the callee was busy")
        elif event.action == "failed":
            self._notify(
                call,
                EventType.AGENT_ERROR,
                {"code": 503, "message": "SIP call could not be set up"},
                now,
            )
            self._end(call, "failed", now, message="the call could not be set up", failed=True)

    def _converse(self, call: SimCall, now: float, talk: float) -> None:
        """What is said once answered; a scripted callee's tools come due as it is spoken."""
        script = (
            script_for(call.callee, callback_when=self.config.callback_when)
            if call.type == "outbound"
            else None
        )
        if script is None:
            call.messages = conversation.conversation(
                seed=call.agent_id, greeting=call.greeting, prompt=call.prompt, talk_seconds=talk
            )
            return
        greeting = {"role": "assistant", "content": call.greeting or conversation.DEFAULT_GREETING}
        said = [{"role": role, "content": content} for role, content in script.messages]
        call.messages = [greeting, *said]
        # Every message is spoken before the callee would hang up, so the agent's last tool
        # (end_call) comes first.
        call.pace = talk / len(call.messages)
        if call.mcp_server is None:
            return
        for index, step in enumerate(script.steps):
            due = now + step.after_message * call.pace + 0.01 * (index + 1)
            self._schedule(due, call.agent_id, f"tool:{index}")

    def _call_tool(self, call: SimCall, index: int, now: float) -> None:
        step = script_for(call.callee, callback_when=self.config.callback_when).steps[index]
        record = {"tool": step.tool, "arguments": dict(step.arguments), "at": now}
        call.tool_calls.append(record)

        def done(result: dict) -> None:
            with self._lock:
                record["result"] = result

        in_background(self.tool_caller, call.mcp_server, step.tool, step.arguments, done)

    def _state(self, call: SimCall, state: str, at: float) -> None:
        call.states.append((state, at))
        event_type = (
            EventType.INBOUND_CALL_STATE
            if call.type == "inbound"
            else EventType.OUTBOUND_CALL_STATE
        )
        self._notify(call, event_type, {"name": call.name, "state": state}, at)

    def _notify(self, call: SimCall, event_type: EventType, extra: dict, at: float) -> None:
        payload = {
            "agent_id": call.agent_id,
            "channel": call.channel,
            **extra,
            "report_ms": int(at * 1000),
            "labels": dict(call.labels),
        }
        self.webhooks.emit(event_type=event_type, payload=payload, at=at)

    def _end(
        self, call: SimCall, reason: str, at: float, *, message: str, failed: bool = False
    ) -> None:
        call.ended_at = at
        call.reason = reason
        call.agent_status = "FAILED" if failed else "STOPPED"
        call.agent_message = message
        self._live.discard(call.agent_id)
        self._state(call, "HANGUP", at)
        self._notify(
            call, EventType.AGENT_LEFT, {"status": call.agent_status, "message": message}, at
        )
        if call.answered_at is not None:
            self._notify(call, EventType.AGENT_HISTORY, {"contents": self._spoken(call, at)}, at)

    def _spoken(self, call: SimCall, at: float) -> list[dict[str, str]]:
        if call.answered_at is None:
            return []
        talk = call.plan.talk_seconds or 60.0
        if call.pace is not None:
            talk = call.pace * (len(call.messages) - 1)
        return conversation.messages_so_far(call.messages, elapsed=at - call.answered_at, talk=talk)

    def _call(self, agent_id: str, *, shape: str = "error_type") -> SimCall:
        call = self._calls.get(agent_id)
        if call is None:
            if shape == "detail":
                raise ApiError(404, "TaskNotFound", f"Agent {agent_id} not found", shape=shape)
            raise ApiError(404, "not_found", "The specified call session was not found.")
        return call

    def get_call(self, agent_id: str) -> dict[str, Any]:
        with self._lock:
            return call_object(self._call(agent_id), with_reason=True)

    def list_calls(self, query: dict[str, str]) -> dict[str, Any]:
        wanted = validate_list_calls(query, now=self.now())
        from_time, to_time, limit = wanted.from_time, wanted.to_time, wanted.limit
        call_type, number, cursor = wanted.call_type, wanted.number, wanted.cursor
        with self._lock:
            matching = [
                call
                for call in self._calls.values()
                if from_time <= int(call.created_at) <= to_time
                and (call_type is None or call.type == call_type)
                and (not number or number in (call.to_number, call.from_number))
            ]
            # Newest first; agent_id breaks ties so the order (and the cursor) is stable.
            matching.sort(key=lambda call: (-call.created_at, call.agent_id))
            start = 0
            if cursor:
                positions = [i for i, call in enumerate(matching) if call.agent_id == cursor]
                if not positions:
                    raise ApiError(422, "unprocessable_content", "Unknown cursor")
                start = positions[0] + 1
            page = matching[start : start + limit]
            more = start + limit < len(matching)
            return {
                "data": {
                    "count": len(page),
                    "list": [call_object(call, with_reason=False) for call in page],
                },
                "meta": {
                    "cursor": page[-1].agent_id if more and page else "",
                    "total": len(matching),
                },
                "status": "ok",
            }

    def hangup(self, agent_id: str) -> dict:
        with self._lock:
            call = self._call(agent_id)
            if call.live:
                self._end(call, "request", self.now(), message="hung up by request")
            return {}

    def callees_hang_up(self, count: int) -> list[str]:
        """The callees of up to `count` answered calls hang up now, those answered first first
        (a load test's churn: calls ending on the callee's side while others go on)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a whole number of calls, 0 or more (got {count!r})")
        with self._lock:
            now = self.now()
            talking = sorted(
                (call for call in (self._calls[agent_id] for agent_id in self._live)
                 if call.answered_at is not None),
                key=lambda call: (call.answered_at, call.agent_id),
            )  # fmt: skip
            ended = talking[:count]
            for call in ended:
                self._end(call, "hangup", now, message="the other party hung up")
            return [call.agent_id for call in ended]

    # -- inbound calls (triggered by tests and demos) -----------------------------------------

    def trigger_inbound_call(
        self, *, from_number: str, to_number: str, talk_seconds: float | None = None
    ) -> dict[str, str]:
        """Someone dials `to_number` (an imported number with inbound calling enabled)."""
        validate_inbound_call(from_number=from_number, to_number=to_number)
        with self._lock:
            number = self._numbers.get(to_number)
            if number is None or not number.inbound:
                raise ApiError(
                    422,
                    "unprocessable_content",
                    f"{to_number} is not an imported number with inbound calling enabled",
                )
            if len(self._live) >= self.config.max_concurrent_calls:
                self.ledger.refused_over_cap += 1
                raise ApiError(
                    422, "ConcurrencyLimitExceeded", "Concurrent call limit reached", shape="detail"
                )
            timings = self.config.timings
            talk = float(talk_seconds) if talk_seconds is not None else timings.default_talk_seconds
            call = self._start_call(
                name=f"inbound-{secrets.token_hex(6)}",
                type="inbound",
                to_number=to_number,
                from_number=from_number,
                channel=f"inbound-{secrets.token_hex(8)}",
                pipeline_id=(number.inbound_config or {}).get("pipeline_id"),
                labels={},
                greeting=None,
                plan=CallPlan(Outcome.ANSWERED, timings.inbound_answer_seconds, talk),
            )
            return {"agent_id": call.agent_id, "channel": call.channel}

    # -- phone numbers ------------------------------------------------------------------------

    def list_numbers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [number.as_api() for number in self._numbers.values()]

    def import_number(self, body: Any) -> dict[str, Any]:
        number = validate_number_import(body)
        with self._lock:
            if number.phone_number in self._numbers:
                raise ApiError(
                    409,
                    "phone_number_exists",
                    "Phone number already exists, duplicate import not allowed.",
                )
            self._numbers[number.phone_number] = number
            self._save_numbers()
            return number.as_api(full=False)

    def get_number(self, phone_number: str) -> dict[str, Any]:
        with self._lock:
            return self._number(phone_number).as_api()

    def update_number(self, phone_number: str, body: Any) -> dict[str, Any]:
        changes = validate_number_update(body)
        with self._lock:
            number = self._number(phone_number)
            for key, value in changes.items():
                if value is None:
                    setattr(number, key, None)
                else:
                    setattr(number, key, {**(getattr(number, key) or {}), **value})
            self._save_numbers()
            return number.as_api()

    def delete_number(self, phone_number: str) -> None:
        with self._lock:
            self._number(phone_number)
            del self._numbers[phone_number]
            self._save_numbers()

    def _save_numbers(self) -> None:
        save_numbers(self.config.state_file, list(self._numbers.values()))

    def _number(self, phone_number: str) -> PhoneNumber:
        check_phone_number(phone_number)
        number = self._numbers.get(phone_number)
        if number is None:
            raise ApiError(404, "not_found", "The specified phone number was not found.")
        return number

    # -- agents -------------------------------------------------------------------------------

    def agent_status(self, agent_id: str) -> dict[str, Any]:
        with self._lock:
            call = self._call(agent_id, shape="detail")
            body: dict[str, Any] = {
                "message": call.agent_message or f"agent is {call.agent_status.lower()}",
                "start_ts": int(call.created_at),
                "status": call.agent_status,
                "agent_id": call.agent_id,
            }
            if call.ended_at is not None:
                body["stop_ts"] = int(call.ended_at)
            return body

    def agent_history(self, agent_id: str) -> dict[str, Any]:
        with self._lock:
            call = self._call(agent_id, shape="detail")
            if not call.live:
                raise ApiError(
                    404, "TaskNotFound", "The agent has exited; history is kept only while it runs",
                    shape="detail",
                )  # fmt: skip
            return {
                "agent_id": call.agent_id,
                "start_ts": int(call.created_at),
                "status": "RUNNING",
                # Agora caches only the newest llm.max_history messages
                "contents": (self._spoken(call, self.now()) + list(call.instructions))[
                    -call.history_window :
                ],
            }

    def agent_turns(self, agent_id: str, query: dict[str, str]) -> dict[str, Any]:
        page_index, page_size = validate_turns_page(query)
        with self._lock:
            call = self._call(agent_id, shape="detail")
            all_turns: list[dict] = []
            if call.answered_at is not None:
                spoken_until = call.ended_at if call.ended_at is not None else self.now()
                all_turns = conversation.turns(
                    seed=call.agent_id,
                    agent_id=call.agent_id,
                    channel=call.channel,
                    messages=self._spoken(call, spoken_until),
                    answered_ms=int(call.answered_at * 1000),
                    talk_ms=int((spoken_until - call.answered_at) * 1000),
                )
            total_pages = max(1, -(-len(all_turns) // page_size))
            start = (page_index - 1) * page_size
            return {
                "agent_id": call.agent_id,
                "name": call.name,
                "channel": call.channel,
                "total_turn_count": len(all_turns),
                "pagination": {
                    "page_index": page_index,
                    "total_pages": total_pages,
                    "is_last_page": page_index >= total_pages,
                },
                "turns": all_turns[start : start + page_size],
            }

    def agent_leave(self, agent_id: str) -> None:
        with self._lock:
            call = self._call(agent_id, shape="detail")
            if call.live:
                self._end(call, "request", self.now(), message="the agent was asked to leave")

    def agent_speak(self, agent_id: str, body: Any, *, interrupt: bool = False) -> dict:
        """Speak (its text then shows in the history as the agent's) or interrupt; each is
        kept in the call's `controls`, in order."""
        if not interrupt:
            validate_speak(body)
        with self._lock:
            call = self._running_agent(agent_id)
            if interrupt:
                call.controls.append({"action": "interrupt", "at": self.now()})
            else:
                call.controls.append(
                    {
                        "action": "speak",
                        "text": body["text"],
                        "priority": body.get("priority", "INTERRUPT"),
                        "interruptable": body.get("interruptable", True),
                        "at": self.now(),
                    }
                )
                call.instructions.append({"role": "assistant", "content": body["text"]})
            return self._agent_answer(call)

    def agent_think(self, agent_id: str, body: Any) -> dict:
        """An injected instruction: answered like the callee's words, so it shows in the
        agent's history as a user turn."""
        validate_think(body)
        with self._lock:
            call = self._running_agent(agent_id)
            call.controls.append({"action": "think", "text": body["text"], "at": self.now()})
            call.instructions.append({"role": "user", "content": body["text"]})
            return self._agent_answer(call)

    def _running_agent(self, agent_id: str) -> SimCall:
        """The call of a running agent (speak, think and interrupt need one); else Agora's 400."""
        call = self._call(agent_id, shape="detail")
        if not call.live or call.agent_status != "RUNNING":
            raise ApiError(
                400, "invalid_agent_state", "Agent not found or not in correct state",
                shape="detail",
            )  # fmt: skip
        return call

    def _agent_answer(self, call: SimCall) -> dict:
        return {"agent_id": call.agent_id, "channel": call.channel, "start_ts": int(self.now())}

    # -- the ledger ---------------------------------------------------------------------------

    def live_calls(self) -> int:
        with self._lock:
            return len(self._live)

    def ledger_summary(self) -> dict[str, Any]:
        with self._lock:
            ledger = self.ledger
            outcomes = Counter(
                call.reason or "live" for call in ledger.calls if call.type == "outbound"
            )
            return {
                "requests": {
                    "total": sum(ledger.request_counts.values()),
                    "by_operation": dict(ledger.request_counts),
                    "by_status": {str(k): v for k, v in ledger.status_counts.items()},
                    "faults": dict(ledger.fault_counts),
                },
                "calls": {
                    "placed": len(ledger.calls),
                    "live": len(self._live),
                    "peak_live": ledger.peak_live_calls,
                    "refused_over_cap": ledger.refused_over_cap,
                    "max_concurrent_calls": self.config.max_concurrent_calls,
                    "by_end_reason": dict(outcomes),
                    "duplicate_channels": ledger.duplicate_channels(),
                },
                "webhooks": {**self.webhooks.counts, "pending": self.webhooks.pending()},
            }

    def ledger_requests(self, *, operation: str | None = None) -> list[dict[str, Any]]:
        """The Agora API requests kept (the newest `history_limit`), oldest first; of one
        operation when given."""
        with self._lock:
            kept = list(self.ledger.requests)
        return [
            asdict(record) for record in kept if operation is None or record.operation == operation
        ]

    def ledger_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [call.as_ledger_entry() for call in self.ledger.calls]

    def reset(self) -> None:
        """Forget calls, numbers, requests and pending events (configuration stays)."""
        with self._lock:
            self._events.clear()
            self._calls.clear()
            self._names.clear()
            self._live.clear()
            self._numbers.clear()
            self._save_numbers()
            self.faults.clear_injected()
            self.ledger = Ledger(self.config.history_limit)
            self.webhooks.take_due(float("inf"))
            self.webhooks.counts.clear()
            self.webhooks.attempts.clear()

    def reconfigure(self, **changes: Any) -> None:
        """Change configuration at run time (e.g. the cap or the outcome mode)."""
        with self._lock:
            self.config = replace(self.config, **changes)
            if "http_faults" in changes:
                self.faults.set_http_faults(self.config.http_faults)
            if "webhook_faults" in changes:
                self.webhooks.faults = self.config.webhook_faults
            if "webhook_url" in changes:
                self.webhooks.url = self.config.webhook_url
