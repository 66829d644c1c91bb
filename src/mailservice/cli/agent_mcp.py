"""`mailservice agent mcp`: the agent's own MCP server over stdio, signing with its key file.

It lives beside the command line rather than in the client, because the server is built on the client
(`protocols/mcp/local.py`) and the client must not import the protocols.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailservice.client.cli_options import DEFAULT_KEY, DEFAULT_URL, KeyPath, Url, reported_errors
from mailservice.client.keys import AgentKey
from mailservice.logging_defaults import configure_logging


def agent_mcp(url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY)) -> None:
    """Run the MCP server on stdin/stdout, signing with KEY; configure it in your MCP client."""
    # The mcp package takes seconds to import: only this command pays for it.
    from mailservice.protocols.mcp.local import serve_stdio

    with reported_errors(as_json=False):
        loaded = AgentKey.load(key)
    configure_logging("INFO")
    asyncio.run(serve_stdio(url, loaded))
