"""Operator endpoints take `Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from mailservice.domain.errors import AuthenticationFailed, NotConfigured
from mailservice.protocols.http.auth import bearer_token
from mailservice.protocols.http.dependencies import SettingsDep


async def _require_admin(request: Request, settings: SettingsDep) -> None:
    if not settings.admin_api_key:
        raise NotConfigured("the admin API is disabled: ADMIN_API_KEY is not set")
    presented = (bearer_token(request) or "").encode("utf-8", "replace")
    if not hmac.compare_digest(presented, settings.admin_api_key.encode("utf-8")):
        raise AuthenticationFailed("invalid admin key")


AdminCaller = Annotated[None, Depends(_require_admin)]
