"""The caller's retention policy: how long mail is kept, and what a full mailbox does with new mail."""

from __future__ import annotations

from fastapi import APIRouter

from mailservice.domain.retention import MailboxRetention
from mailservice.protocols.http.auth import BearerMailbox
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.retention import KEEP_CURRENT
from mailservice.wire.retention import RetentionOut, RetentionUpdate

router = APIRouter(tags=["mailbox"])


@router.get("/v1/mailbox/retention", responses=error_responses(400, 401, 409))
async def get_retention(mailbox: BearerMailbox, services: ServicesDep) -> RetentionOut:
    return _out(await services.retention.policy(mailbox))


@router.put("/v1/mailbox/retention", responses=error_responses(400, 401, 409))
async def set_retention(body: RetentionUpdate, mailbox: BearerMailbox, services: ServicesDep) -> RetentionOut:
    """Change the policy; fields left out keep their value (`max_age_days: null` keeps mail forever).
    Mail past a new age limit goes at the next sweep."""
    changed = await services.retention.change(
        mailbox,
        body.max_age_days if "max_age_days" in body.model_fields_set else KEEP_CURRENT,
        body.delete_oldest_read_when_full,
    )
    return _out(changed)


def _out(retention: MailboxRetention) -> RetentionOut:
    return RetentionOut(
        max_age_days=retention.policy.max_age_days,
        delete_oldest_read_when_full=retention.policy.delete_oldest_read_when_full,
        source="default" if retention.is_default else "mailbox",
    )
