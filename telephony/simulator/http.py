"""The simulator's HTTP face: Agora's paths under `/api/conversational-ai-agent` (and the CN
prefix), plus the simulator's own control paths under `/_simulator/`.

One `handle()` serves both a WSGI server (`wsgi_app`) and, in process, an httpx transport
(`SimulatorTransport`), so tests and servers run the same code.
"""

import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from telephony.simulator.core import Simulator
from telephony.simulator.faults import FAULT_KINDS, HttpFaults
from telephony.simulator.llm import chat_completion
from telephony.simulator.validation import ApiError
from telephony.simulator.webhooks import WebhookFaults

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/conversational-ai-agent", "/cn/api/conversational-ai-agent")
CONTROL_PREFIX = "/_simulator"
LLM_PATH = "/llm/v1/chat/completions"  # an OpenAI-compatible stand-in (llm.py)
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # lost response: the request took effect, the answer is never sent
    delay: float = 0.0

    def content(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    shape: str  # error body shape: "error_type" or "detail"
    account_level: bool  # phone numbers: no app id, Basic auth only
    handler: Callable[..., Answer]


def _route(method, path, operation, handler, *, shape="error_type", account_level=False):
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), operation, shape, account_level, handler)


def _body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_request_body", "Request body is not valid JSON") from None


class SimulatorHTTP:
    def __init__(self, simulator: Simulator, *, sleep: Callable[[float], None] = time.sleep):
        self.sim = simulator
        self.sleep = sleep
        sim = simulator
        project = "/v2/projects/{appid}"
        self.routes = [
            _route("POST", f"{project}/call", "place_call",
                   lambda req, **_: Answer(200, sim.place_call(_body(req.body)))),
            _route("GET", f"{project}/call", "list_calls",
                   lambda req, **_: Answer(200, sim.list_calls(req.query))),
            _route("GET", f"{project}/calls/{{agent_id}}", "get_call",
                   lambda req, agent_id, **_: Answer(200, sim.get_call(agent_id))),
            _route("POST", f"{project}/calls/{{agent_id}}/hangup", "hangup_call",
                   lambda req, agent_id, **_: Answer(200, sim.hangup(agent_id))),
            _route("GET", "/v2/phone-numbers", "list_phone_numbers",
                   lambda req, **_: Answer(200, sim.list_numbers()), account_level=True),
            _route("POST", "/v2/phone-numbers", "import_phone_number",
                   lambda req, **_: Answer(201, sim.import_number(_body(req.body))),
                   account_level=True),
            _route("GET", "/v2/phone-numbers/{number}", "get_phone_number",
                   lambda req, number, **_: Answer(200, sim.get_number(number)),
                   account_level=True),
            _route("PATCH", "/v2/phone-numbers/{number}", "update_phone_number",
                   lambda req, number, **_: Answer(
                       200, sim.update_number(number, _body(req.body))),
                   account_level=True),
            _route("DELETE", "/v2/phone-numbers/{number}", "delete_phone_number",
                   lambda req, number, **_: (sim.delete_number(number), Answer(204))[1],
                   account_level=True),
            _route("GET", f"{project}/agents/{{agent_id}}", "get_agent_status",
                   lambda req, agent_id, **_: Answer(200, sim.agent_status(agent_id)),
                   shape="detail"),
            _route("GET", f"{project}/agents/{{agent_id}}/history", "get_agent_history",
                   lambda req, agent_id, **_: Answer(200, sim.agent_history(agent_id)),
                   shape="detail"),
            _route("GET", f"{project}/agents/{{agent_id}}/turns", "get_agent_turns",
                   lambda req, agent_id, **_: Answer(200, sim.agent_turns(agent_id, req.query)),
                   shape="detail"),
            _route("POST", f"{project}/agents/{{agent_id}}/leave", "leave_agent",
                   lambda req, agent_id, **_: (sim.agent_leave(agent_id), Answer(200))[1],
                   shape="detail"),
            _route("POST", f"{project}/agents/{{agent_id}}/speak", "speak",
                   lambda req, agent_id, **_: Answer(
                       200, sim.agent_speak(agent_id, _body(req.body))),
                   shape="detail"),
            _route("POST", f"{project}/agents/{{agent_id}}/think", "think",
                   lambda req, agent_id, **_: Answer(
                       200, sim.agent_think(agent_id, _body(req.body))),
                   shape="detail"),
            _route("POST", f"{project}/agents/{{agent_id}}/interrupt", "interrupt_agent",
                   lambda req, agent_id, **_: Answer(
                       200, sim.agent_speak(agent_id, None, interrupt=True)),
                   shape="detail"),
        ]  # fmt: skip

    # -- entry point --------------------------------------------------------------------------

    def handle(self, request: "SimRequest") -> Answer:
        self.sim.run_due(deliver=False)  # state as of now, whatever the background thread did
        if request.path.startswith(CONTROL_PREFIX + "/") or request.path == CONTROL_PREFIX:
            try:
                return self._control(request)
            except ApiError as error:
                return Answer(error.status, error.body())
        for prefix in API_PREFIXES:
            if request.path.startswith(prefix + "/"):
                return self._api(request, request.path[len(prefix) :])
        if request.path.rstrip("/") == LLM_PATH and request.method == "POST":
            return self._llm(request)
        return Answer(404, {"error_type": "not_found", "description": "No such path"})

    def _api(self, request: "SimRequest", path: str) -> Answer:
        route, params = self._match(request.method, path)
        if route is None:
            status = 405 if params == "method" else 404
            return Answer(status, {"error_type": "not_found", "description": "No such endpoint"})
        operation = route.operation
        fault = self.sim.faults.fault_for(operation)
        try:
            if fault and fault.kind == "error":
                raise ApiError(
                    fault.status, "ServiceUnavailable", "Simulated server error", shape="detail"
                )
            if fault and fault.kind == "rate_limit":
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Request rate limit exceeded",
                    shape="detail",
                    headers={"Retry-After": f"{fault.retry_after:g}"},
                )
            if len(request.body) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large", "Request body too large")
            self.sim.authenticate(
                request.headers.get("authorization"),
                account_level=route.account_level,
                shape=route.shape,
            )
            if "appid" in params:
                self.sim.check_app(params["appid"], shape=route.shape)
            answer = route.handler(request, **params)
        except ApiError as error:
            answer = Answer(error.status, error.body(), headers=dict(error.headers))
        if fault and fault.kind in ("lost_response", "latency"):
            answer.delay = fault.seconds
            answer.drop = fault.kind == "lost_response"
        self.sim.record_request(
            method=request.method,
            path=path,
            operation=operation,
            status=answer.status,
            fault=fault.kind if fault else None,
        )
        return answer

    def _llm(self, request: "SimRequest") -> Answer:
        """The LLM stand-in; HTTP faults injected for `chat_completions` apply to it too."""
        fault = self.sim.faults.fault_for("chat_completions")
        if fault and fault.kind in ("error", "rate_limit"):
            status = 429 if fault.kind == "rate_limit" else fault.status
            headers = {"Retry-After": f"{fault.retry_after:g}"} if status == 429 else {}
            answer = Answer(status, {"error": {"message": "simulated", "type": "server_error"}},
                            headers=headers)  # fmt: skip
        elif not request.headers.get("authorization", "").startswith("Bearer "):
            answer = Answer(401, {"error": {"message": "No API key", "type": "invalid_request"}})
        else:
            try:
                answer = Answer(200, chat_completion(_body(request.body)))
            except ApiError as error:
                answer = Answer(error.status, {"error": {"message": error.message}})
        self.sim.record_request(method=request.method, path=LLM_PATH,
                                operation="chat_completions", status=answer.status,
                                fault=fault.kind if fault else None)  # fmt: skip
        return answer

    def _match(self, method: str, path: str) -> tuple[Route | None, Any]:
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, {k: unquote(v) for k, v in found.groupdict().items()}
                path_matched = True
        return None, "method" if path_matched else None

    # -- the simulator's own control API ------------------------------------------------------

    def _control(self, request: "SimRequest") -> Answer:
        sim = self.sim
        path = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        method = request.method
        if method == "GET" and path in ("", "/ledger"):
            return Answer(200, sim.ledger_summary())
        if method == "GET" and path == "/calls":
            return Answer(200, sim.ledger_calls())
        if method == "GET" and path == "/requests":
            return Answer(200, sim.ledger_requests(operation=request.query.get("operation")))
        if method == "GET" and path == "/webhooks":
            attempts = [attempt.__dict__ for attempt in list(sim.webhooks.attempts)]
            return Answer(200, {"counts": dict(sim.webhooks.counts), "attempts": attempts})
        if method == "POST" and path == "/reset":
            sim.reset()
            return Answer(200, {"reset": True})
        if method == "POST" and path == "/inbound-calls":
            body = _body(request.body) or {}
            return Answer(
                201,
                sim.trigger_inbound_call(
                    from_number=body.get("from_number"),
                    to_number=body.get("to_number"),
                    talk_seconds=body.get("talk_seconds"),
                ),
            )
        if method == "POST" and path == "/callee-hangups":
            body = _body(request.body)
            count = body.get("count") if isinstance(body, dict) else None
            try:
                ended = sim.callees_hang_up(count)
            except ValueError as exc:
                raise ApiError(422, "unprocessable_content", str(exc)) from None
            return Answer(200, {"hung_up": ended})
        if method == "POST" and path == "/faults":
            return Answer(200, self._set_faults(_body(request.body) or {}))
        if method == "POST" and path == "/config":
            body = _body(request.body) or {}
            changes = {}
            if "max_concurrent_calls" in body:
                changes["max_concurrent_calls"] = int(body["max_concurrent_calls"])
            if "mode" in body:
                changes["mode"] = str(body["mode"])
            if "webhook_url" in body:
                changes["webhook_url"] = body["webhook_url"] or None
            try:
                sim.reconfigure(**changes)
            except ValueError as exc:
                raise ApiError(422, "unprocessable_content", str(exc)) from None
            return Answer(200, {"changed": sorted(changes)})
        return Answer(404, {"error_type": "not_found", "description": "No such simulator path"})

    def _set_faults(self, body: dict) -> dict:
        """{"http": {...HttpFaults}, "webhooks": {...WebhookFaults}, "inject": {...}}."""
        try:
            if "http" in body:
                http = dict(body["http"])
                if http.get("operations") is not None:
                    http["operations"] = frozenset(http["operations"])
                self.sim.set_http_faults(HttpFaults(**http))
            if "webhooks" in body:
                self.sim.set_webhook_faults(WebhookFaults(**body["webhooks"]))
            if "inject" in body:
                inject = dict(body["inject"])
                kind = inject.pop("kind", None)
                if kind not in FAULT_KINDS:
                    raise ValueError(f"inject.kind: must be one of {', '.join(FAULT_KINDS)}")
                self.sim.inject_fault(kind, **inject)
        except (TypeError, ValueError) as exc:
            raise ApiError(422, "unprocessable_content", f"faults: {exc}") from None
        return {
            "http": _faults_dict(self.sim.faults.http),
            "webhooks": dict(self.sim.webhooks.faults.__dict__),
        }

    # -- WSGI ---------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY_BYTES + 1)) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        request = SimRequest(
            method=environ["REQUEST_METHOD"].upper(),
            path=environ.get("PATH_INFO", "/"),
            query=dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
            headers=headers,
            body=body,
        )
        answer = self.handle(request)
        if answer.delay:
            self.sleep(answer.delay)
        if answer.drop:
            # Close the connection without an answer where the server lets us reach the
            # socket (gunicorn); otherwise promise a body and send none, which the client
            # also sees as a connection dropped mid-answer.
            client = environ.get("gunicorn.socket")
            if client is not None:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                start_response("200 OK", [("Content-Length", "1")])
                return []
            start_response("200 OK", [("Content-Length", "64"), ("Connection", "close")])
            return []
        content = answer.content()
        response_headers = [("Content-Length", str(len(content))), *answer.headers.items()]
        if answer.body is not None:
            response_headers.append(("Content-Type", "application/json"))
        start_response(f"{answer.status} {_reason(answer.status)}", response_headers)
        return [content]


@dataclass
class SimRequest:
    method: str
    path: str  # percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


class SimulatorTransport(httpx.BaseTransport):
    """Hands httpx requests straight to the simulator: no sockets, same behaviour.

    A lost response raises httpx.RemoteProtocolError after the request took effect; added
    latency beyond the request's read timeout raises httpx.ReadTimeout without waiting.
    """

    def __init__(self, http: SimulatorHTTP) -> None:
        self.http = http

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode("ascii")
        path, _, query_string = raw_path.partition("?")
        sim_request = SimRequest(
            method=request.method,
            path=unquote(path),
            query=dict(parse_qsl(query_string, keep_blank_values=True)),
            headers={key.lower(): value for key, value in request.headers.items()},
            body=request.read(),
        )
        answer = self.http.handle(sim_request)
        if answer.delay:
            read_timeout = (request.extensions.get("timeout") or {}).get("read")
            if read_timeout is not None and answer.delay >= read_timeout:
                raise httpx.ReadTimeout("simulated latency past the read timeout", request=request)
            self.http.sleep(answer.delay)
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = dict(answer.headers)
        if answer.body is not None:
            headers["Content-Type"] = "application/json"
        return httpx.Response(answer.status, headers=headers, content=answer.content())


def _faults_dict(faults: HttpFaults) -> dict:
    values = dict(faults.__dict__)
    if values.get("operations") is not None:
        values["operations"] = sorted(values["operations"])
    return values


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}  # fmt: skip


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")
