"""Every service's OpenAPI tells the truth about itself: who may call each operation and every refusal it can give.

Reads each service's ``app.openapi()`` (the apps are built, not started). The fuzz run
(tests/integration/test_fuzz_openapi.py) checks the same document against the running services.
"""

from __future__ import annotations

import importlib
import json
import re
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from shared import registry
from shared.bodies import RequestBody
from shared.vocabulary import Role

SERVICES = registry.SERVICE_NAMES
ALL_ROLES = sorted(str(r) for r in Role)
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
INTERNAL_FILE = re.compile(r"\b[\w/]+\.py\b")


@cache
def app_of(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"services.{service}.app").create()
    return app


def operations(service: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in app_of(service).openapi()["paths"].items():
        for method, operation in methods.items():
            yield f"{service} {method.upper()} {path}", operation


def expected_refusals(operation: dict[str, Any]) -> set[str]:
    """What any operation of this shape can answer besides its successes, read from the operation itself."""
    roles = operation.get("x-roles") or []
    params = operation.get("parameters", [])
    codes: set[str] = set()
    if roles:
        codes.add("401")
    if roles and sorted(roles) != ALL_ROLES:
        codes.add("403")
    if any(p["in"] == "path" for p in params):
        codes |= {"404", "422"}
    if params:
        codes.add("422")
    if "requestBody" in operation:
        codes |= {"400", "413", "422"}
    return codes


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_says_who_may_call_it(service: str) -> None:
    problems = []
    for name, operation in operations(service):
        roles = operation.get("x-roles")
        if roles is None:
            problems.append(f"{name}: no x-roles (take a role dependency, or declare openapi_extra=PUBLIC)")
        elif not roles and operation.get("x-public") is not True:
            problems.append(f"{name}: x-roles is empty but the operation is not declared public")
        elif not set(roles) <= set(ALL_ROLES):
            problems.append(f"{name}: x-roles {roles} names no known role")
        elif "**Roles:**" not in operation.get("description", "") and "**Public:**" not in operation.get(
            "description", ""
        ):
            problems.append(f"{name}: the description does not say the roles")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_lists_its_refusals_with_the_one_error_body(service: str) -> None:
    problems = []
    for name, operation in operations(service):
        responses = operation.get("responses", {})
        missing = sorted(expected_refusals(operation) - responses.keys())
        if missing:
            problems.append(f"{name}: does not list {missing}")
        for code, response in responses.items():
            if not code.startswith("4"):
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema != ERROR_BODY:
                problems.append(f"{name}: {code} does not answer with ErrorBody but {schema}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_the_openapi_names_no_internal_file(service: str) -> None:
    text = json.dumps(app_of(service).openapi(), ensure_ascii=False)
    found = sorted(set(INTERNAL_FILE.findall(text)))
    assert not found, f"{service}'s OpenAPI refers to internal files {found}: say what the rule is instead"


@pytest.mark.parametrize("service", SERVICES)
def test_integer_parameters_are_bounded(service: str) -> None:
    # An unbounded integer reaches PostgreSQL as a bigint it cannot hold: a 500 instead of a 422.
    problems = []
    for name, operation in operations(service):
        for param in operation.get("parameters", []):
            schemas = [param["schema"], *param["schema"].get("anyOf", [])]
            for schema in schemas:
                if schema.get("type") == "integer" and not {"minimum", "maximum"} <= schema.keys():
                    problems.append(f"{name}: integer parameter {param['name']} has no minimum and maximum")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_is_a_request_body(service: str) -> None:
    """Strict bodies (unknown fields, NUL, JSON types refused) are the shared RequestBody's; no body goes without."""
    problems = []
    for route in iter_route_contexts(app_of(service).routes):
        if not isinstance(route.original_route, APIRoute) or route.body_field is None:
            continue
        annotation = route.body_field.field_info.annotation
        models = [a for a in (annotation, *typing.get_args(annotation)) if isinstance(a, type) and a is not type(None)]
        if not models or not all(issubclass(m, RequestBody) for m in models):
            problems.append(f"{service} {route.path_format}: body {annotation} is not a shared.bodies.RequestBody")
    assert not problems, "\n".join(problems)


def test_enforced_constraints_are_in_the_schema() -> None:
    intake = app_of("intake").openapi()["components"]["schemas"]
    business_id = intake["OrganisationIn"]["properties"]["business_id"]
    assert business_id["pattern"] == "^[0-9]{7}-[0-9]$"
    assert "check digit" in business_id["description"] and "7, 9, 10, 5, 8, 4, 2" in business_id["description"]

    from services.review.domain import CHECKLISTS

    review = app_of("review").openapi()["components"]["schemas"]
    item = review["FeedbackIn"]["properties"]["checklist_item"]
    assert set(item["enum"]) == {i for items in CHECKLISTS.values() for i in items}
    for stage, items in CHECKLISTS.items():
        assert f"{stage.value}: {'; '.join(items)}." in item["description"]

    from services.notify.domain import WEBHOOK_EVENT_TYPES

    notify = app_of("notify").openapi()["components"]["schemas"]
    assert notify["WebhookBody"]["properties"]["event_types"]["items"]["enum"] == sorted(
        WEBHOOK_EVENT_TYPES
    )  # the embargoed decision is not subscribable


def test_a_route_without_roles_or_public_marker_is_caught() -> None:
    """The check above can fail: an operation nobody declared access for has no x-roles."""
    from fastapi import APIRouter

    from shared.openapi import PUBLIC, document_operations

    router = APIRouter()

    @router.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    @router.get("/open", openapi_extra=PUBLIC)
    async def open_() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    document_operations(app)
    paths = app.openapi()["paths"]
    assert "x-roles" not in paths["/forgotten"]["get"]
    assert paths["/open"]["get"]["x-roles"] == []
