"""What a request to the simulated Agora API must be, and the error answers it gets.

Checked here, before the state machine (`core.py`) sees a request: bodies, query strings and
phone numbers, with Agora's status codes and error shapes. Plain values in, plain values out.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from telephony.simulator.records import PhoneNumber

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SIXTY_DAYS = 60 * 86_400
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 500


class ApiError(Exception):
    """An error answer. `shape` picks Agora's body: telephony/number endpoints use
    {error_type, description}, agent endpoints (and a few others) {detail, reason}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        shape: str = "error_type",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.shape = shape
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        if self.shape == "detail":
            return {"detail": self.message, "reason": self.code}
        return {"error_type": self.code, "description": self.message}


def query_int(query: dict[str, str], name: str, *, default: int, shape: str = "error_type") -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        code = "InvalidFieldValue" if shape == "detail" else "unprocessable_content"
        status = 400 if shape == "detail" else 422
        raise ApiError(status, code, f"{name} must be an integer", shape=shape) from None


def labels_of(value: Any) -> dict[str, str]:
    """A call's labels as strings; anything but an object gives none."""
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def _require_str(container: dict, key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "unprocessable_content", f"{where}{key} is required (a string)")
    return value


def validate_place_call(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "unprocessable_content", "Body must be a JSON object")
    _require_str(body, "name", "")
    sip = body.get("sip")
    properties = body.get("properties")
    if not isinstance(sip, dict):
        raise ApiError(422, "unprocessable_content", "sip is required (an object)")
    if not isinstance(properties, dict):
        raise ApiError(422, "unprocessable_content", "properties is required (an object)")
    for key in ("to_number", "from_number", "rtc_uid", "rtc_token"):
        _require_str(sip, key, "sip.")
    for key in ("channel", "token", "agent_rtc_uid"):
        _require_str(properties, key, "properties.")
    for key in ("to_number", "from_number"):
        if not E164.match(sip[key]):
            raise ApiError(
                400,
                "invalid_phone_format",
                f"sip.{key}: Invalid phone number format (not E.164 format).",
            )
    remote = properties.get("remote_rtc_uids")
    if remote is not None and not (
        isinstance(remote, list) and all(isinstance(uid, str) for uid in remote)
    ):
        raise ApiError(
            422, "unprocessable_content", "properties.remote_rtc_uids must be a list of strings"
        )
    if properties["agent_rtc_uid"] == sip["rtc_uid"]:
        raise ApiError(
            422, "unprocessable_content", "properties.agent_rtc_uid must differ from sip.rtc_uid"
        )
    pipeline_id = body.get("pipeline_id")
    if pipeline_id is not None and (not isinstance(pipeline_id, str) or not pipeline_id):
        raise ApiError(422, "unprocessable_content", "pipeline_id must be a non-empty string")
    if not pipeline_id:
        # Without a published pipeline the full agent configuration is required.
        for part in ("llm", "tts"):
            if not isinstance(properties.get(part), dict):
                raise ApiError(
                    422,
                    "unprocessable_content",
                    f"properties.{part} is required when pipeline_id is not given",
                )
    if "labels" in properties and not isinstance(properties["labels"], dict):
        raise ApiError(422, "unprocessable_content", "properties.labels must be an object")
    return body


def validate_number_import(body: Any) -> PhoneNumber:
    if not isinstance(body, dict):
        raise ApiError(422, "unprocessable_content", "Body must be a JSON object")
    phone_number = body.get("phone_number")
    if not isinstance(phone_number, str) or not E164.match(phone_number):
        raise ApiError(
            400, "invalid_phone_format", "Invalid phone number format (not E.164 format)."
        )
    provider = body.get("provider")
    if provider not in ("byo", "twilio"):
        raise ApiError(422, "unprocessable_content", "provider must be 'byo' or 'twilio'")
    label = body.get("label")
    if not isinstance(label, str):
        raise ApiError(422, "unprocessable_content", "label is required (a string)")
    flags = {}
    for key in ("inbound", "outbound"):
        value = body.get(key, True)
        if not isinstance(value, bool):
            raise ApiError(422, "unprocessable_content", f"{key} must be a boolean")
        flags[key] = value
    configs = {}
    for key in ("inbound_config", "outbound_config"):
        if key not in body:
            raise ApiError(422, "unprocessable_content", f"{key} is required (an object)")
        value = body[key]
        if value is not None and not isinstance(value, dict):
            raise ApiError(422, "unprocessable_content", f"{key} must be an object")
        configs[key] = dict(value) if value else {}
    for address in configs["inbound_config"].get("allowed_addresses") or []:
        try:
            ipaddress.ip_network(address, strict=False)
        except (ValueError, TypeError):
            raise ApiError(
                422,
                "unprocessable_content",
                f"inbound_config.allowed_addresses: {address!r} is not an IP address or CIDR",
            ) from None
    outbound = configs["outbound_config"]
    if flags["outbound"] and not outbound.get("address"):
        raise ApiError(
            422,
            "unprocessable_content",
            "outbound_config.address is required when outbound is enabled",
        )
    transport = outbound.get("transport")
    if transport is not None and transport not in ("tls", "tcp", "udp"):
        raise ApiError(
            422, "unprocessable_content", "outbound_config.transport must be tls, tcp or udp"
        )
    return PhoneNumber(
        phone_number=phone_number,
        provider=provider,
        label=label,
        inbound=flags["inbound"],
        outbound=flags["outbound"],
        inbound_config=configs["inbound_config"],
        outbound_config=outbound,
    )


def check_phone_number(phone_number: str) -> None:
    """A phone number in a path: E.164, or 400."""
    if not E164.match(phone_number or ""):
        raise ApiError(
            400, "invalid_phone_format", "Invalid phone number format (not E.164 format)."
        )


def validate_number_update(body: Any) -> dict[str, dict | None]:
    """The configs a PATCH changes: only a pipeline id each, or null to clear."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(422, "unprocessable_content", "Body must be a JSON object")
    changes: dict[str, dict | None] = {}
    for key in ("inbound_config", "outbound_config"):
        if key not in body:
            continue
        value = body[key]
        if value is not None and not (
            isinstance(value, dict)
            and isinstance(value.get("pipeline_id", ""), str)
            and set(value) <= {"pipeline_id"}
        ):
            raise ApiError(
                422, "unprocessable_content", f"{key} must be null or {{'pipeline_id': str}}"
            )
        changes[key] = value
    return changes


@dataclass(frozen=True)
class ListCallsQuery:
    from_time: int
    to_time: int
    limit: int
    call_type: str | None
    number: str | None
    cursor: str | None


def validate_list_calls(query: dict[str, str], *, now: float) -> ListCallsQuery:
    """The list-calls query string: the last sixty days and 20 calls by default."""
    from_time = query_int(query, "from_time", default=int(now) - SIXTY_DAYS)
    to_time = query_int(query, "to_time", default=int(now))
    limit = query_int(query, "limit", default=LIST_DEFAULT_LIMIT)
    if not 1 <= limit <= LIST_MAX_LIMIT:
        raise ApiError(
            422, "unprocessable_content", f"limit must be between 1 and {LIST_MAX_LIMIT}"
        )
    call_type = query.get("type")
    if call_type is not None and call_type not in ("inbound", "outbound"):
        raise ApiError(422, "unprocessable_content", "type must be inbound or outbound")
    return ListCallsQuery(
        from_time=from_time,
        to_time=to_time,
        limit=limit,
        call_type=call_type,
        number=query.get("number"),
        cursor=query.get("cursor"),
    )


def validate_turns_page(query: dict[str, str]) -> tuple[int, int]:
    """(page_index, page_size) of an agent-turns query."""
    page_index = query_int(query, "page_index", default=1, shape="detail")
    page_size = query_int(query, "page_size", default=50, shape="detail")
    if page_index < 1 or not 10 <= page_size <= 200:
        raise ApiError(
            400,
            "InvalidFieldValue",
            "page_index must be >= 1 and page_size between 10 and 200",
            shape="detail",
        )
    return page_index, page_size


def validate_speak(body: Any) -> None:
    """A speak request: text (at most 512 bytes) and an optional known priority."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise ApiError(400, "MissingRequiredField", "text is required", shape="detail")
    if len(text.encode()) > 512:
        raise ApiError(400, "InvalidFieldValue", "text is longer than 512 bytes", shape="detail")
    if body.get("priority", "INTERRUPT") not in ("INTERRUPT", "APPEND", "IGNORE"):
        raise ApiError(400, "InvalidFieldValue", "priority is not a known value", shape="detail")


THINK_ACTIONS = {
    "on_listening_action": ("inject", "interrupt", "ignore"),
    "on_thinking_action": ("interrupt", "ignore"),
    "on_speaking_action": ("interrupt", "ignore"),
}


def validate_think(body: Any) -> None:
    """A think request: text, known actions, a boolean interruptable, a string map metadata."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise ApiError(400, "MissingRequiredField", "text is required", shape="detail")
    for name, allowed in THINK_ACTIONS.items():
        if name in body and body[name] not in allowed:
            raise ApiError(400, "InvalidFieldValue", f"{name} is not a known value", shape="detail")
    if "interruptable" in body and not isinstance(body["interruptable"], bool):
        raise ApiError(400, "InvalidFieldValue", "interruptable must be a boolean", shape="detail")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        raise ApiError(400, "InvalidFieldValue", "metadata must map strings", shape="detail")


def validate_inbound_call(*, from_number: Any, to_number: Any) -> None:
    """Both numbers of a simulated inbound call are E.164."""
    for label, value in (("from_number", from_number), ("to_number", to_number)):
        if not isinstance(value, str) or not E164.match(value):
            raise ApiError(400, "invalid_phone_format", f"{label} must be E.164")


MCP_NAME = re.compile(r"^[A-Za-z0-9]{1,48}$")


def mcp_servers_of(llm: Any) -> list[dict]:
    """`llm.mcp_servers`, checked as Agora documents it (422 naming the wrong field)."""
    servers = llm.get("mcp_servers") if isinstance(llm, dict) else None
    if servers is None:
        return []
    if not isinstance(servers, list):
        raise ApiError(422, "unprocessable_content", "llm.mcp_servers must be a list")
    for index, server in enumerate(servers):
        where = f"llm.mcp_servers[{index}]"
        if not isinstance(server, dict):
            raise ApiError(422, "unprocessable_content", f"{where} must be an object")
        if not isinstance(server.get("name"), str) or not MCP_NAME.match(server["name"]):
            raise ApiError(
                422, "unprocessable_content", f"{where}.name: 1-48 English letters and digits"
            )
        if not isinstance(server.get("endpoint"), str) or not server["endpoint"]:
            raise ApiError(422, "unprocessable_content", f"{where}.endpoint is required")
        if server.get("transport", "streamable_http") != "streamable_http":
            raise ApiError(422, "unprocessable_content", f"{where}.transport: streamable_http")
        headers = server.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(value, str) for value in headers.values()
        ):
            raise ApiError(422, "unprocessable_content", f"{where}.headers: strings only")
        tools = server.get("allowed_tools")
        if tools is not None and not (
            isinstance(tools, list) and all(isinstance(tool, str) for tool in tools)
        ):
            raise ApiError(422, "unprocessable_content", f"{where}.allowed_tools: strings")
    return servers


def system_prompt_of(llm: Any) -> str:
    """The text of the agent's system messages (what the conversation should be about)."""
    messages = llm.get("system_messages") if isinstance(llm, dict) else None
    if not isinstance(messages, list):
        return ""
    return " ".join(
        str(message.get("content", "")) for message in messages if isinstance(message, dict)
    )
