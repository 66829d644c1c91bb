"""Which outcome counters of the HTTP metrics a route's answers feed (key proofs, resolves).

A route says it with `dependencies=[counted_as(KEY_PROOF)]`, so the label travels with the route.
"""

from __future__ import annotations

from fastapi.params import Depends as DependsParam

KEY_PROOF = "key_proof"
RESOLVE = "resolve"


class CountedAs:
    """A dependency that does nothing when called: it only marks the route for the metrics."""

    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds

    async def __call__(self) -> None:
        return None


def counted_as(*kinds: str) -> DependsParam:
    return DependsParam(dependency=CountedAs(frozenset(kinds)))


def outcome_kinds(route: object) -> frozenset[str]:
    """The kinds of a matched route (any Starlette route, or none), empty when it is not counted."""
    for dependency in getattr(route, "dependencies", ()):
        if isinstance(dependency.dependency, CountedAs):
            return dependency.dependency.kinds
    return frozenset()
