"""The agent guide served at /docs/agent-api-skill.md and /llms.txt.

Its one source is docs/agent-guide.md. A built wheel carries a copy inside the package (pyproject.toml
force-includes it); a source checkout reads the file itself.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mailservice.domain.errors import ConfigurationError

PACKAGED_NAME = "agent-guide.md"
DEV_BASE_URL = "http://localhost:8080"


def guide_text() -> str:
    package = resources.files("mailservice")
    packaged = package / PACKAGED_NAME
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    source = Path(str(package)).parent.parent / "docs" / "agent-guide.md"
    if source.is_file():
        return source.read_text(encoding="utf-8")
    raise ConfigurationError(f"the agent guide is missing: neither {packaged} nor {source} exists")


def agent_guide(public_base_url: str) -> str:
    """The guide with its example address replaced by this server's."""
    return guide_text().replace(DEV_BASE_URL, public_base_url)


def llms_txt(public_base_url: str) -> str:
    """An llms.txt: title, summary and links, then the whole guide so one fetch is enough."""
    return (
        "# Mail Service\n\n"
        "> Private, receive-only mailboxes for AI agents, bound to their Ed25519 keys: the same key always\n"
        "> gets the same mailbox. Read mail over IMAP or an HTTP API made for agents.\n\n"
        f"- [Agent guide]({public_base_url}/docs/agent-api-skill.md): claim, pay, resolve, read\n"
        f"- [OpenAPI schema]({public_base_url}/openapi.json): every endpoint and field\n\n"
        "---\n\n" + agent_guide(public_base_url)
    )
