"""Shapes every area of the API uses: strict requests, identifiers, the plain status reply, the error body."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints, WithJsonSchema

from mailservice.domain.timestamps import rfc3339

# Every id handed out (mailbox ids, Polar, Stripe and mock checkout ids) is printable ASCII without spaces;
# anything else names nothing, and PostgreSQL cannot even compare a text that holds a NUL.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$")]

# Every moment in a response: RFC 3339 in UTC ending in `Z`, whatever zone the value was read in.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusResponse(BaseModel):
    status: str


class ErrorResponse(BaseModel):
    error: str
    code: str
