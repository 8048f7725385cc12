"""The MCP server the AI agent calls during each call (official `mcp` SDK, streamable HTTP).

Stateless JSON mode: every request stands alone, so any number of server processes can answer
behind one address. Every request carries the call's bearer credential (`llm.mcp_servers`
headers, see telephony.services.tool_credentials): without a valid one the HTTP request is
refused with 401 before MCP sees it, and each tool acts only on the credential's own call.
Tools are plain functions: the SDK runs them in a worker thread, where the ORM may be used.
"""

from typing import Annotated, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from contactcenter.agent_tools.services import ToolFailure, tool_call
from telephony import tools
from telephony.models import Call
from telephony.services.tool_credentials import tool_credential_call

INSTRUCTIONS = (
    "Tools for the phone call you are on: read the contact, schedule a callback, record an "
    "opt-out or the outcome, and end the call. They act on this call only."
)
NOT_ALLOWED = "This call's tool credential is not valid (unknown, or the call has ended)."

server = MCPServer(name="contactcenter", instructions=INSTRUCTIONS)


def _bearer(headers) -> str:
    value = (headers or {}).get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _call_of(headers) -> Call | None:
    close_old_connections()
    return tool_credential_call(_bearer(headers), now=timezone.now())


def _run(ctx: Context, tool: str, arguments: dict[str, Any]) -> dict:
    call = _call_of(ctx.headers)
    if call is None:
        raise ToolError(NOT_ALLOWED)
    try:
        return tool_call(call=call, tool=tool, arguments=arguments)
    except ToolFailure as failure:
        raise ToolError(str(failure)) from None
    finally:
        close_old_connections()


@server.tool(
    structured_output=True,
    name=tools.END_CALL,
    description="Hang up this call. Use it once the conversation is over and you have said "
    "goodbye, or when the person asks you to stop talking.",
)
def end_call(
    ctx: Context,
    reason: Annotated[
        str, Field(description="Why the call ends, in a few words, e.g. 'conversation done'.")
    ] = "",
) -> dict[str, Any]:
    return _run(ctx, tools.END_CALL, {"reason": reason})


@server.tool(
    structured_output=True,
    name=tools.VOICEMAIL_DETECTED,
    description="You reached an answering machine or voicemail greeting, not a person. The "
    "call is handled as voicemail (hung up or a message is left, as the campaign says).",
)
def voicemail_detected(ctx: Context) -> dict[str, Any]:
    return _run(ctx, tools.VOICEMAIL_DETECTED, {})


@server.tool(
    structured_output=True,
    name=tools.SCHEDULE_CALLBACK,
    description="The person asked to be called back later. Pass the time in their words or "
    "ISO 8601; it is read in their local time zone and moved into the allowed calling hours "
    "if needed. Tell them the time the result gives.",
)
def schedule_callback(
    ctx: Context,
    when: Annotated[
        str,
        Field(
            description="When to call back: 'tomorrow at 3 pm', 'Monday morning at 10', "
            "'in two hours', or 2026-12-03T15:00.",
            max_length=200,
        ),
    ],
    note: Annotated[
        str, Field(description="What the callback is about, in a few words.", max_length=300)
    ] = "",
) -> dict[str, Any]:
    return _run(ctx, tools.SCHEDULE_CALLBACK, {"when": when, "note": note})


@server.tool(
    structured_output=True,
    name=tools.OPT_OUT,
    description="The person asked not to be called again (stop calling, remove my number). "
    "Their number goes on the do-not-call list at once for every campaign.",
)
def opt_out(
    ctx: Context,
    note: Annotated[str, Field(description="Their words, quoted briefly.", max_length=300)] = "",
) -> dict[str, Any]:
    return _run(ctx, tools.OPT_OUT, {"note": note})


@server.tool(
    structured_output=True,
    name=tools.RECORD_OUTCOME,
    description="Record what the conversation achieved, before it ends. `outcome` is one of "
    "the campaign's outcomes (get_contact lists them; usually interested, not_interested, "
    "callback_requested, do_not_call, wrong_number, voicemail, no_conversation).",
)
def record_outcome(
    ctx: Context,
    outcome: Annotated[str, Field(description="One of the listed outcomes.", max_length=40)],
    fields: Annotated[
        dict[str, Any] | None,
        Field(description='Details worth keeping, e.g. {"preferred_plan": "basic"}.'),
    ] = None,
) -> dict[str, Any]:
    return _run(ctx, tools.RECORD_OUTCOME, {"outcome": outcome, "fields": fields or {}})


@server.tool(
    structured_output=True,
    name=tools.GET_CONTACT,
    description="Who you are talking to: name, phone, time zone and local time, and the "
    "details the campaign holds about them, with the outcomes you may record.",
)
def get_contact(ctx: Context) -> dict[str, Any]:
    return _run(ctx, tools.GET_CONTACT, {})


class RequireCallCredential:
    """Refuse (401) any HTTP request whose bearer credential names no call that may use tools."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {key.decode("latin-1"): value.decode("latin-1")
                       for key, value in scope["headers"]}  # fmt: skip
            if await sync_to_async(_call_of, thread_sensitive=False)(headers) is None:
                response = JSONResponse({"error": NOT_ALLOWED}, status_code=401,
                                        headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mcp_app() -> ASGIApp:
    """The ASGI application: MCP at /mcp, behind the credential check."""
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        # Host/Origin checks guard browsers' localhost servers; here every request must carry
        # a per-call secret, and the public host is whatever the proxy in front says.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.add_middleware(RequireCallCredential)
    return app
