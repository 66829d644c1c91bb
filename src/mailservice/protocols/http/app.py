"""The FastAPI application: routers, error mapping and the guards around every request."""

from __future__ import annotations

from fastapi import FastAPI

from mailservice import __version__
from mailservice.config import Settings
from mailservice.protocols.http.concurrency import request_slot
from mailservice.protocols.http.errors import install_error_handlers
from mailservice.protocols.http.guards import install_guards
from mailservice.protocols.http.openapi import install_openapi
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
    retention,
    support,
    webhook_endpoints,
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
    routers = [
        health.router,
        auth.router,
        mailboxes.router,
        renewals.router,
        accounts.router,
        account_mailboxes.router,
        support.router,
        admin.router,
        public_pages.router,
        messages.router,
        imap_messages.router,
        retention.router,
        events.router,
        payment_pages.router,
        webhooks.router,
        webhook_endpoints.router,
        *([mock_payments.router] if services.payments.provider == "mock" else []),
    ]
    for router in routers:
        app.include_router(router)
    install_openapi(app, routers)
    mount_mcp(app)
    return app
