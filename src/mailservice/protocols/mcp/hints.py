"""What each tool does to the mailbox, as MCP tool annotations, so a client can decide what to confirm."""

from __future__ import annotations

from mcp.types import ToolAnnotations

# Reads only; asking again changes nothing.
READS = ToolAnnotations(read_only_hint=True)
# Changes something (flags, a checkout), deletes nothing, and the same call again adds nothing more.
REPEATABLE_CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
# Changes something and deletes nothing, but each call has its own effect (a message marked read, an e-mail).
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)
# Deletes something (a webhook); the same call again finds nothing more to delete.
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)
