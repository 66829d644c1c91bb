"""Logging for the `mailservice` commands: one line per event on stderr, libraries' chatter left out."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Loggers of libraries that report routine work at INFO: their warnings and errors still show.
QUIET_LIBRARIES = (
    "mail.log",  # aiosmtpd: every connection; our handler logs what matters
    "httpx",  # every request ("HTTP Request: POST ..."), several per MCP tool call
    "httpcore",
    "mcp.server.streamable_http",  # "Terminating session: None" after every stateless /mcp request
    "mcp.server.streamable_http_manager",
)


def configure_logging(level: str) -> None:
    """Set up the root logger before anything else does (the MCP package would install its own)."""
    logging.basicConfig(level=level.upper(), format=FORMAT, stream=sys.stderr)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
