import logging

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from contactcenter.logs import logging_config

logger = logging.getLogger(__name__)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


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
            logger.warning(
                "PUBLIC_BASE_URL (or MCP_PUBLIC_URL) is not set, so no call offers its agent "
                "these tools."
            )
        # Logged, as uvicorn's own lines are (text or JSON as LOG_FORMAT says).
        logger.info("MCP server for the in-call tools on http://%s:%s/mcp", host, port)
        uvicorn.run(
            "contactcenter.agent_tools.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level=settings.LOG_LEVEL.lower(),
            log_config=logging_config(
                level=settings.LOG_LEVEL,
                log_format=settings.LOG_FORMAT,
                extra_loggers=UVICORN_LOGGERS,
            ),
            proxy_headers=settings.BEHIND_TLS_PROXY,
        )
