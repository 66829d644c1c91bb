"""The `auth` object of the message JSON: how the sender was authenticated when the message arrived."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SpfOut(BaseModel):
    result: str = Field(description="pass, fail, softfail, neutral, none, temperror or permerror")
    domain: str | None = Field(description="The MAIL FROM domain (the HELO name for a null sender)")
    helo: str | None = Field(default=None, description="The HELO name, when it is a domain name")
    helo_result: str = Field(default="none", description="SPF of the HELO name on its own")


class DkimSignatureOut(BaseModel):
    domain: str = Field(description="The signing domain (d=)")
    selector: str = Field(description="The key selector (s=)")
    algorithm: str = Field(description="rsa-sha256 or ed25519-sha256 (a=)")
    result: str = Field(description="pass, fail, temperror or permerror")


class DmarcOut(BaseModel):
    result: str = Field(description="pass, fail, none (no DMARC record), temperror or permerror")
    policy: str | None = Field(description="The published policy that applies: none, quarantine or reject")
    from_domain: str | None = Field(description="The domain of the From address")


class SenderAuthOut(BaseModel):
    spf: SpfOut
    dkim: list[DkimSignatureOut] = Field(description="Every DKIM signature, verified on its own")
    dmarc: DmarcOut
    arc: str = Field(description="ARC chain validation: pass, fail or none")
