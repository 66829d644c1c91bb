"""Who is calling the legacy mailbox endpoints: the account of an `X-API-Token` or Bearer api token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mailservice.domain.account import Account
from mailservice.protocols.http.auth import bearer_token
from mailservice.protocols.http.dependencies import ServicesDep


async def _account(request: Request, services: ServicesDep) -> Account:
    token = request.headers.get("x-api-token") or bearer_token(request)
    return await services.accounts.authenticate(token)


CallingAccount = Annotated[Account, Depends(_account)]
