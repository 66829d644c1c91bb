"""The FastAPI application: routers, error mapping and the guards around every request."""

from __future__ import annotations

import functools

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

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
        dependencies=[request_slot()],  # for routes added to this app alone; the shared ones have it
    )
    app.state.services = services
    app.state.settings = settings
    install_error_handlers(app)
    install_guards(app, services, settings)
    with_mock_payments = services.payments.provider == "mock"
    app.router.routes.extend(_api_routes(with_mock_payments))
    install_openapi(app, _routers(with_mock_payments))
    mount_mcp(app)
    return app


@functools.cache
def _api_routes(with_mock_payments: bool) -> tuple[BaseRoute, ...]:
    """Every route of the API behind the concurrency limit, built once per process and shared by the apps
    built in it. FastAPI prepares a route (its dependencies, validators and response fields) on its first
    request, tens of ms for the whole API, and the test suite builds an app per test. Nothing in a route
    refers to its app: handlers reach the services through `request.app.state`."""
    api = APIRouter(dependencies=[request_slot()])
    for router in _routers(with_mock_payments):
        api.include_router(router)
    return tuple(api.routes)


def _routers(with_mock_payments: bool) -> list[APIRouter]:
    return [
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
        *([mock_payments.router] if with_mock_payments else []),
    ]
