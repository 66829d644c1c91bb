"""The tools' arguments: each described for the model, and refused in words it can act on.

The MCP package reports an argument that does not fit its schema as pydantic's own text (the model class,
the error type, a URL to pydantic's documentation); PlainArgumentsServer says instead which argument is
wrong and what it must be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails

from mailservice.domain.messages import MAX_UID
from mailservice.domain.retention import MAX_AGE_DAYS_LIMIT

MAX_TOOL_WAIT_SECONDS = 300.0
# Below the 60 s after which common MCP clients give up on a request (the TypeScript SDK's default);
# longer waits are for clients configured for them, and progress is reported meanwhile.
DEFAULT_TOOL_WAIT_SECONDS = 25.0
Seconds = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_TOOL_WAIT_SECONDS,
        description="How long to wait for mail to arrive, in seconds. Most MCP clients give up on a call "
        "after 60 s unless configured otherwise; progress is reported every few seconds meanwhile",
    ),
]
Search = Annotated[
    str | None,
    Field(
        description="Search: from:, to:, subject:, is:unread, is:verified, from-verified:DOMAIN (the sender "
        'proven to be that domain), tag:, after:YYYY-MM-DD, words; e.g. "from-verified:github.com"'
    ),
]
RequireVerified = Annotated[
    bool,
    Field(description="Only from a sender authenticated at delivery (DMARC, aligned DKIM or SPF passed)"),
]
FromDomain = Annotated[
    str | None,
    Field(description="Only from a sender proven at delivery to be this domain, e.g. 'github.com'"),
]

Uid = Annotated[
    int, Field(ge=1, le=MAX_UID, description="The message's uid, from list_messages or wait_for_message")
]
AfterUid = Annotated[
    Annotated[int, Field(ge=0, le=MAX_UID)] | None,
    Field(
        description="Only a message with a larger uid counts; by default the newest unread match, else the next"
    ),
]
Since = Annotated[
    datetime | None,
    Field(description="Only mail received from this moment on (ISO 8601): when the sign-up was started"),
]
View = Annotated[
    Literal["safe", "full"],
    Field(description="'safe': visible text only, quoted history trimmed, links numbered; 'full': all text"),
]
MarkSeen = Annotated[bool, Field(description="Mark the message read (seen) as well")]
Limit = Annotated[int, Field(ge=1, le=100, description="How many messages at most, newest first")]
UnreadOnly = Annotated[bool, Field(description="Only messages not yet read")]
EventsAfter = Annotated[
    int, Field(ge=0, le=2**63 - 1, description="Only events after this id: next_after of the previous call")
]
EventsLimit = Annotated[int, Field(ge=1, le=500, description="How many events at most, oldest first")]

MaxAgeDays = Annotated[
    Annotated[int, Field(ge=1, le=MAX_AGE_DAYS_LIMIT)] | None,
    Field(description="Delete messages older than this many days, read or not. Leave out to keep as is"),
]
KeepForever = Annotated[bool, Field(description="Remove the age limit: keep messages however old")]
DeleteOldestRead = Annotated[
    bool | None,
    Field(
        description="When a new message does not fit in the quota: true deletes the oldest read messages "
        "to make room (never unread ones), false refuses the new mail. Leave out to keep as is"
    ),
]

BillingEmail = Annotated[
    str,
    Field(description="Where the payment link (and later renewal reminders) go: the payer's e-mail address"),
]
RenewalBillingEmail = Annotated[
    str | None,
    Field(
        description="Where to send the renewal link; it becomes the billing e-mail. By default the one on file"
    ),
]
PublicKey = Annotated[
    str, Field(description="The agent's OpenSSH public key line: 'ssh-ed25519 AAAA... comment'")
]
Challenge = Annotated[str, Field(description="The challenge from get_challenge, exactly as given")]
Signature = Annotated[
    str,
    Field(
        description="The challenge signed with the key: the armoured output of "
        "`ssh-keygen -Y sign -n edproof` (newlines as they are) or a base64 raw Ed25519 signature"
    ),
]

_MUST_BE = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "missing": "is required",
    "extra_forbidden": "is not an argument of this tool",
}


class PlainArgumentsServer(MCPServer):
    """An MCP server whose argument errors name the argument and the rule it broke."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            if not isinstance(error.__cause__, ValidationError):
                raise
            # `from` the validation error: the SDK then logs only the names of the fields.
            raise ToolError(plain_argument_errors(name, error.__cause__)) from error.__cause__


def plain_argument_errors(tool: str, error: ValidationError) -> str:
    return f"{tool}: " + "; ".join(_problem(detail) for detail in error.errors())


def _problem(detail: ErrorDetails) -> str:
    argument = ".".join(str(part) for part in detail["loc"])
    return f"{argument} {_rule(detail)}"


def _rule(detail: ErrorDetails) -> str:
    context = detail.get("ctx", {})
    match detail["type"]:
        case "less_than_equal":
            return f"must be at most {context['le']:g}"
        case "greater_than_equal":
            return f"must be at least {context['ge']:g}"
        case "string_too_long":
            return f"must be at most {context['max_length']} characters"
        case "literal_error":
            return f"must be {context['expected']}"
        case kind if kind in _MUST_BE:
            return _MUST_BE[kind]
    message = detail["msg"]
    return message[:1].lower() + message[1:]
