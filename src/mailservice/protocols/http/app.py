"""The FastAPI application: routers, error mapping and the guards around every request."""

from __future__ import annotations

from fastapi import FastAPI

from mailservice import __version__
from mailservice.config import Settings
from mailservice.protocols.http.concurrency import request_slot
from mailservice.protocols.http.errors import install_error_handlers
from mailservice.protocols.http.guards import install_guards
from mailservice.protocols.http.routers import (
    account_mailboxes,
    accounts,
    admin,
    auth,
    events,
    health,
    imap_messages,
    mailboxes,
    messages,
    mock_payments,
    payment_pages,
    public_pages,
    renewals,
    support,
    webhooks,
)
from mailservice.protocols.mcp.mount import mount_mcp
from mailservice.services.registry import Services


def create_app(services: Services, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Mail Service API",
        summary="Private inbound mailboxes for AI agents, bound to their Ed25519 keys.",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        dependencies=[request_slot()],
    )
    app.state.services = services
    app.state.settings = settings
    install_error_handlers(app)
    install_guards(app, services, settings)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(mailboxes.router)
    app.include_router(renewals.router)
    app.include_router(accounts.router)
    app.include_router(account_mailboxes.router)
    app.include_router(support.router)
    app.include_router(admin.router)
    app.include_router(public_pages.router)
    app.include_router(messages.router)
    app.include_router(imap_messages.router)
    app.include_router(events.router)
    app.include_router(payment_pages.router)
    app.include_router(webhooks.router)
    if services.payments.provider == "mock":
        app.include_router(mock_payments.router)
    mount_mcp(app)
    return app
