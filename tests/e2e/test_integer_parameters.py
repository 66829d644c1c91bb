"""Every integer the served API takes, in a path, a query or a JSON body, answers 4xx when out of range.

The parameters come from the served OpenAPI schema, so a new integer parameter is covered without editing
this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

EDGES = (0, -1, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30)
INTEGERS = st.one_of(st.sampled_from(EDGES), st.integers())


@dataclass(frozen=True)
class IntegerParameter:
    method: str
    path: str
    location: str  # path, query or body
    name: str
    operation: dict[str, Any] = field(repr=False)


@pytest.fixture
def served(server: ServerProcess) -> Iterator[httpx.Client]:
    mailbox = asyncio.run(_paid_mailbox(server))
    headers = {"Authorization": f"Bearer {mailbox['access_token']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
        yield client


async def _paid_mailbox(server: ServerProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        return await claim_and_pay(client, AgentKey.generate())


def test_the_schema_lists_the_known_integer_parameters(served: httpx.Client) -> None:
    found = {(p.method, p.path, p.name) for p in integer_parameters(served.get("/openapi.json").json())}

    assert {
        ("get", "/v1/messages/{uid}", "uid"),
        ("get", "/v1/messages/{uid}/raw", "uid"),
        ("get", "/v1/messages/{uid}/safe", "uid"),
        ("get", "/v1/messages/{uid}/attachments/{part}", "uid"),
        ("patch", "/v1/messages/{uid}", "uid"),
        ("delete", "/v1/messages/{uid}", "uid"),
        ("get", "/v1/messages", "before_uid"),
        ("get", "/v1/messages", "after_uid"),
        ("post", "/v1/imap/messages/get", "uid"),
    } <= found


def test_no_integer_parameter_answers_a_server_error(served: httpx.Client) -> None:
    schema = served.get("/openapi.json").json()
    parameters = integer_parameters(schema)

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(parameter=st.sampled_from(parameters), value=INTEGERS)
    def answers_below_500(parameter: IntegerParameter, value: int) -> None:
        with served.stream(**request_for(schema, parameter, value)) as response:
            assert response.status_code < 500, f"{parameter.method} {parameter.path} {parameter.name}={value}"

    answers_below_500()


def test_uids_beyond_the_largest_uid_answer_400(served: httpx.Client) -> None:
    schema = served.get("/openapi.json").json()
    answers = {}
    for parameter in (p for p in integer_parameters(schema) if p.name.endswith("uid")):
        for value in (2**32, 2**63 - 1, 2**63, 10**30):
            with served.stream(**request_for(schema, parameter, value)) as response:
                answers[(parameter.method, parameter.path, parameter.name, value)] = response.status_code

    assert answers and set(answers.values()) == {400}, {k: v for k, v in answers.items() if v != 400}


def test_a_last_event_id_beyond_the_largest_event_id_answers_400(served: httpx.Client) -> None:
    response = served.get("/v1/events", headers={"Last-Event-ID": str(2**63)})

    assert response.status_code == 400
    assert response.json() == {
        "error": "Last-Event-ID must be at most 9223372036854775807",
        "code": "invalid_request",
    }


def integer_parameters(schema: dict[str, Any]) -> list[IntegerParameter]:
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if _is_integer(schema, parameter.get("schema", {})):
                    found.append(
                        IntegerParameter(method, path, parameter["in"], parameter["name"], operation)
                    )
            for name in _body_properties(schema, operation):
                if _is_integer(schema, _body_properties(schema, operation)[name]):
                    found.append(IntegerParameter(method, path, "body", name, operation))
    return found


def request_for(schema: dict[str, Any], parameter: IntegerParameter, value: int) -> dict[str, Any]:
    """The request that sends `value` as the parameter, with every other required part filled in."""
    path = parameter.path
    query: dict[str, Any] = {}
    for other in parameter.operation.get("parameters", []):
        filler = value if other["name"] == parameter.name else _filler(schema, other.get("schema", {}))
        if other["in"] == "path":
            path = path.replace("{" + other["name"] + "}", str(filler))
        elif other["in"] == "query" and (other["name"] == parameter.name or _is_number(schema, other)):
            query[other["name"]] = filler  # a number (a wait's timeout) at its minimum answers at once
    request: dict[str, Any] = {"method": parameter.method.upper(), "url": path, "params": query}
    properties = _body_properties(schema, parameter.operation)
    if properties:
        required = _required_body(schema, parameter.operation)
        body = {name: _filler(schema, prop) for name, prop in properties.items() if name in required}
        if parameter.location == "body":
            body[parameter.name] = value
        request["json"] = {name: v for name, v in body.items() if v is not None}
    return request


def _filler(schema: dict[str, Any], prop: dict[str, Any]) -> Any:
    prop = _resolve(schema, prop)
    kinds = {prop.get("type")} | {_resolve(schema, p).get("type") for p in prop.get("anyOf", [])}
    if "integer" in kinds or "number" in kinds:
        return prop.get("minimum", 1)
    if "boolean" in kinds:
        return False
    if "string" in kinds:
        return "1"
    return None


def _is_number(schema: dict[str, Any], parameter: dict[str, Any]) -> bool:
    prop = _resolve(schema, parameter.get("schema", {}))
    return prop.get("type") == "number" or any(p.get("type") == "number" for p in prop.get("anyOf", []))


def _is_integer(schema: dict[str, Any], prop: dict[str, Any]) -> bool:
    prop = _resolve(schema, prop)
    return prop.get("type") == "integer" or any(
        _resolve(schema, p).get("type") == "integer" for p in prop.get("anyOf", [])
    )


def _body_properties(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {}
    properties: dict[str, Any] = _resolve(schema, content["schema"]).get("properties", {})
    return properties


def _required_body(schema: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = operation["requestBody"]["content"]["application/json"]
    return set(_resolve(schema, content["schema"]).get("required", []))


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in prop:
        node: Any = schema
        for part in prop["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        prop = node
    return prop
