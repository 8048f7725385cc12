"""The simulated agent's side of the in-call tools: it calls the MCP server named in the
place-call body's `llm.mcp_servers` (endpoint and headers as given) with the official `mcp`
client, as Agora's agent would. Runs in a thread of its own: the simulator's lock is never held
across a request."""

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ToolCaller = Callable[[dict, str, dict], dict]


def mcp_tool_call(server: dict, tool: str, arguments: dict) -> dict[str, Any]:
    """Call one tool; returns {"ok", "text", "structured"} or {"ok": False, "error"}."""
    timeout = (server.get("timeout_ms") or 5000) / 1000

    async def run() -> dict[str, Any]:
        headers = dict(server.get("headers") or {})
        async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
            transport = streamable_http_client(server["endpoint"], http_client=http)
            async with Client(transport) as client:
                result = await client.call_tool(tool, arguments)
        text = " ".join(getattr(block, "text", "") for block in result.content)
        return {"ok": not result.is_error, "text": text, "structured": result.structured_content}

    try:
        return asyncio.run(run())
    except Exception as error:  # an unreachable server is a result too
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def in_background(caller: ToolCaller, server: dict, tool: str, arguments: dict,
                  done: Callable[[dict], None]) -> None:  # fmt: skip
    def work() -> None:
        done(caller(server, tool, arguments))

    threading.Thread(target=work, name=f"sim-tool-{tool}", daemon=True).start()
