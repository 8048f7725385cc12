"""An OpenAI-compatible chat-completions stand-in (`POST /llm/v1/chat/completions`), so the LLM
analyzer runs end to end offline: its answers are deterministic, derived from the transcript by
the built-in analyzer's rules (analysis.builtin, pure), in the JSON the LLM analyzer asks for."""

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telephony.simulator.validation import ApiError


def _call_of(messages: list) -> dict:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            try:
                call = json.loads(message.get("content") or "")
            except ValueError:
                continue
            if isinstance(call, dict) and "transcript" in call:
                return call
    raise ApiError(400, "invalid_request_error", "No user message holds the call as JSON")


def chat_completion(body: Any) -> dict:
    from analysis.builtin import analyze  # the stand-in's "model": the built-in rules

    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ApiError(400, "invalid_request_error", "messages is required (a list)")
    call = _call_of(body["messages"])
    zone = ZoneInfo(call["callee_timezone"]) if call.get("callee_timezone") else None
    started = call.get("call_started_at")
    result = analyze(
        call["transcript"],
        dispositions=call.get("dispositions") or ["interested", "not_interested"],
        success_dispositions=frozenset(call.get("success") or ["interested"]),
        fields_schema=call.get("fields_schema") or {},
        zone=zone,
        started_at=datetime.fromisoformat(started) if started else None,
    )
    local = result.callback_at.astimezone(zone) if result.callback_at and zone else None
    content = json.dumps(
        {
            "disposition": result.disposition,
            "summary": result.summary,
            "success": result.success,
            "success_reason": result.success_reason,
            "opt_out": result.opt_out,
            "callback_at_local": local.strftime("%Y-%m-%dT%H:%M") if local else None,
            "fields": result.fields,
        }
    )
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4
    return {
        "id": "chatcmpl-simulated",
        "object": "chat.completion",
        "model": body.get("model") or "simulated",
        "choices": [
            {"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": content}}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(content) // 4,
            "total_tokens": prompt_tokens + len(content) // 4,
        },
    }  # fmt: skip
