"""The MCP server: the mailbox as tools for a language model, over stdio or mounted at /mcp."""
