"""Private inbound mailboxes for AI agents, bound to their Ed25519 keys."""

__version__ = "0.1.0"
