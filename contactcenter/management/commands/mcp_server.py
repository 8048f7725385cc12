import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the in-call tools to the AI agents over MCP (streamable HTTP at /mcp). "
        "Agents reach it at MCP_PUBLIC_URL, or PUBLIC_BASE_URL + /mcp through a proxy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="default MCP_PORT (8001)")
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host: str, port: int | None, workers: int, **options):
        port = port or settings.MCP_PORT
        if not settings.MCP_PUBLIC_URL:
            self.stdout.write(
                "Note: PUBLIC_BASE_URL (or MCP_PUBLIC_URL) is not set, so no call offers its "
                "agent these tools."
            )
        self.stdout.write(f"MCP server for the in-call tools on http://{host}:{port}/mcp")
        uvicorn.run(
            "contactcenter.agent_tools.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level=settings.LOG_LEVEL.lower(),
            proxy_headers=settings.BEHIND_TLS_PROXY,
        )
