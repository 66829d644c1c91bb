"""Shapes every area of the API uses: strict requests, identifiers, the plain status reply, the error body."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Every id handed out (mailbox ids, Polar, Stripe and mock checkout ids) is printable ASCII without spaces;
# anything else names nothing, and PostgreSQL cannot even compare a text that holds a NUL.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$")]


class StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusResponse(BaseModel):
    status: str


class ErrorResponse(BaseModel):
    error: str
    code: str
