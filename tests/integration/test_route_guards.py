"""Rate limits and metrics labels belong to the routes themselves, so renaming a route keeps them."""

from __future__ import annotations

from fastapi.routing import RouteContext, iter_route_contexts

from mailservice.bootstrap import Runtime
from mailservice.protocols.http.concurrency import takes_request_slot
from mailservice.protocols.http.outcomes import outcome_kinds
from mailservice.protocols.http.rate_limit import rate_limit_of

# What the review asked for; a route missing here or renamed without its limit fails the first test.
RATE_LIMITED = {
    ("POST", "/v1/auth/challenge"): ("challenge", 0.5),
    ("POST", "/v1/mailboxes/claim"): ("claim", 1.0),
    ("POST", "/v1/mailboxes/renew"): ("claim", 1.0),
    ("POST", "/v1/access/resolve"): ("resolve", 1.0),
    ("POST", "/v1/imap/resolve"): ("resolve", 1.0),
    ("POST", "/v1/accounts"): ("accounts", 1.0),
    ("POST", "/v1/auth/refresh"): ("accounts", 1.0),
    ("POST", "/v1/accounts/recovery/start"): ("recovery", 1.0),
    ("POST", "/v1/accounts/recovery/complete"): ("recovery", 1.0),
    ("GET", "/v1/accounts/recovery/complete"): ("recovery", 1.0),
    ("POST", "/v1/accounts/recovery/confirm"): ("recovery", 1.0),
    ("POST", "/v1/support/messages"): ("support", 1.0),
}
KEY_PROOF_FIELDS = frozenset({"edproof", "signature", "challenge"})


def api_routes(runtime: Runtime) -> list[RouteContext]:
    """Every route as it is served, the routers' included ones too."""
    return [route for route in iter_route_contexts(runtime.app.routes) if route.endpoint is not None]


def limits_by_route(runtime: Runtime) -> dict[tuple[str, str], tuple[str, float] | None]:
    found = {}
    for route in api_routes(runtime):
        limit = rate_limit_of(route)
        for method in route.methods or ():
            found[(method, route.path or "")] = (limit.group, limit.cost) if limit else None
    return found


def body_fields(route: RouteContext) -> set[str]:
    body = getattr(route, "body_field", None)
    annotation = getattr(body.field_info, "annotation", None) if body else None
    fields: dict[str, object] = getattr(annotation, "model_fields", {})
    return set(fields)


async def test_the_endpoints_that_prove_keys_or_spend_secrets_are_rate_limited(runtime: Runtime) -> None:
    limits = limits_by_route(runtime)

    assert {key: limits.get(key) for key in RATE_LIMITED} == RATE_LIMITED


async def test_every_route_that_takes_a_key_proof_is_rate_limited(runtime: Runtime) -> None:
    taking_proofs = [route for route in api_routes(runtime) if body_fields(route) & KEY_PROOF_FIELDS]

    assert taking_proofs
    assert [route.path for route in taking_proofs if rate_limit_of(route) is None] == []


async def test_key_proofs_and_resolves_are_counted_by_route(runtime: Runtime) -> None:
    kinds = {route.path: outcome_kinds(route) for route in api_routes(runtime) if outcome_kinds(route)}

    assert kinds == {
        "/v1/mailboxes/claim": {"key_proof"},
        "/v1/mailboxes/renew": {"key_proof"},
        "/v1/access/resolve": {"key_proof", "resolve"},
        "/v1/imap/resolve": {"resolve"},
        "/v1/support/messages": {"key_proof"},
    }


async def test_only_health_checks_and_long_waits_are_outside_the_request_slots(runtime: Runtime) -> None:
    outside = {route.path for route in api_routes(runtime) if not takes_request_slot(route)}

    assert outside == {"/healthz", "/readyz", "/v1/messages/wait", "/v1/events"}
