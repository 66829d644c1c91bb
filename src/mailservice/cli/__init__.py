"""The `mailservice` command line: `main.py` builds the command from the commands of this package
(admin tasks, the smoke test, the agent's MCP server) and the agent commands of the client."""
