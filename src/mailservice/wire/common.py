"""Shapes every area of the API uses: strict requests, the plain status reply, the error body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusResponse(BaseModel):
    status: str


class ErrorResponse(BaseModel):
    error: str
    code: str
