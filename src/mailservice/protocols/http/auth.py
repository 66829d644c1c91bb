"""Who is calling the read API: the mailbox of a Bearer access token (or the seed's body field)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mailservice.domain.errors import AuthenticationFailed
from mailservice.domain.mailbox import Mailbox
from mailservice.protocols.http.dependencies import ServicesDep


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def mailbox_of(services: ServicesDep, token: str | None) -> Mailbox:
    if not token:
        raise AuthenticationFailed("missing access token: send Authorization: Bearer <access_token>")
    return await services.inbox.authenticate(token)


async def _bearer_mailbox(request: Request, services: ServicesDep) -> Mailbox:
    return await mailbox_of(services, bearer_token(request))


BearerMailbox = Annotated[Mailbox, Depends(_bearer_mailbox)]
