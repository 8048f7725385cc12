"""ASGI entry of the MCP server (`manage.py mcp_server`, or any ASGI server)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
django.setup()

from contactcenter.agent_tools.server import mcp_app  # noqa: E402

application = mcp_app()
