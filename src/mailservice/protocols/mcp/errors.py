"""Client errors as tool errors: a sentence the model can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver.exceptions import ToolError

from mailservice.client import (
    AuthenticationFailed,
    Expired,
    MailServiceError,
    MissingKey,
    PaymentRequired,
)

NO_CREDENTIAL = (
    "this MCP endpoint reads the mailbox of the access token sent as `Authorization: Bearer <access_token>` "
    "in the MCP client's configuration, and none was sent"
)


@asynccontextmanager
async def tool_errors() -> AsyncIterator[None]:
    try:
        yield
    except PaymentRequired as error:
        raise ToolError(
            f"the mailbox is waiting for payment: the owner of the billing e-mail should open "
            f"{error.payment_url} (the link was also e-mailed)"
        ) from error
    except Expired as error:
        raise ToolError(
            f"the mailbox expired at {error.expired_at}; claim_mailbox again sends a renewal link"
        ) from error
    except AuthenticationFailed as error:
        raise ToolError(f"the service refused the credential: {error.message}") from error
    except MailServiceError as error:
        raise ToolError(f"{error.message} ({error.code})") from error
    except MissingKey as error:
        raise ToolError(NO_CREDENTIAL) from error
