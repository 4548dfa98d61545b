"""The OpenAPI says, for every operation, who may call it and every answer it can give.

Derived once, from what FastAPI already knows of each route, when the schema is built:

- **roles** (``x-roles``, and said in the description): the roles of the route's ``RoleCheck``
  dependency (shared/auth.py), every role for ``CurrentUser``; a route open to anyone declares it with
  ``openapi_extra=PUBLIC`` (``x-public``, ``x-roles: []``). A route with neither has no ``x-roles``,
  which tests/unit/shared/test_openapi_contract.py refuses.
- **refusals**, each with the one ``ErrorBody`` schema (shared/http_errors.py): 401 with a token
  dependency, 403 with a role check, 404 with a path parameter, 422 with any parameter or body, and
  400 and 413 with a body, 503 (too many requests in hand) on every operation but the probes. What only
  the route knows (409 when the state can refuse, 204 when there is nothing, 200 on an idempotent retry, 429 when
  it is rate-limited) it declares itself in ``responses=``; an error code declared without a body gets
  ``ErrorBody``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from shared.auth import RoleCheck, current_principal
from shared.http_errors import ErrorBody
from shared.vocabulary import Role

PUBLIC: dict[str, Any] = {"x-public": True}
"""``openapi_extra`` of a route anyone may call, without a token (health probes)."""

ERROR_SCHEMA = "ErrorBody"
ERROR_CONTENT = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}

DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read (not UTF-8, or not parseable at all).",
    401: "No bearer token, or one that is invalid or expired.",
    403: "The token lacks the role this operation needs.",
    404: "No such resource, or not one the caller may see (the two are never told apart).",
    409: "The request does not fit the current state.",
    413: "The body is over the service's size limit.",
    422: "The request is invalid; `problems` lists each field and what is wrong with it (a constraint of the "
    "schema, a rule of the service, or a JSON value of another type than the schema's).",
    429: "Too many requests of this kind lately; the `Retry-After` header (and `retry_after_s`) says in how many "
    "seconds the next one is taken.",
    503: "The service cannot take the request now: as many requests in hand as it takes at once (`service_busy`), or "
    "its database away (`unavailable`; nothing was done); `Retry-After` says when to try again.",
}

# FastAPI's own validation error schemas, replaced by ErrorBody (the handler in shared/http_errors.py answers so).
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_operations(app: FastAPI) -> None:
    """Make ``app.openapi()`` state each operation's roles and refusals (built once, like FastAPI's own)."""
    build: Callable[[], dict[str, Any]] = app.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's own: cached until the routes change
        if not any(schema is d for d in documented):
            document(schema, app.routes)
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components[ERROR_SCHEMA] = error_schema
    # Routes as included (prefixes and router dependencies applied), as FastAPI itself reads them for the schema.
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _document_operation(operation, route)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)


def _document_operation(operation: dict[str, Any], route: RouteContext) -> None:
    calls = [d.call for d in _dependencies(route.dependant)]
    checks = [c for c in calls if isinstance(c, RoleCheck)]
    signed_in = bool(checks) or any(c is current_principal for c in calls)
    codes: set[int] = set()
    if checks:
        admitted = set.intersection(*(set(c.roles) for c in checks))
        roles = [r for r in Role if r in admitted]
        _say(operation, f"**Roles:** {' or '.join(roles)}.", roles)
        codes |= {401, 403}
    elif signed_in:
        _say(operation, "**Roles:** any signed-in user.", list(Role))
        codes.add(401)
    elif operation.get("x-public") is True:
        _say(operation, "**Public:** no token needed.", [])
    if operation.get("x-public") is not True:
        codes.add(503)  # shared/http.py InFlightLimit; the probes are never refused

    nodes = [route.dependant, *_dependencies(route.dependant)]
    if any(n.path_params for n in nodes):
        codes.add(404)
    if any(n.path_params or n.query_params or n.header_params or n.cookie_params for n in nodes) or (
        route.body_field is not None
    ):
        codes.add(422)
    if route.body_field is not None:
        codes |= {400, 413}

    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status_code in codes:
        responses.setdefault(str(status_code), {"description": DESCRIPTIONS[status_code]})
    if "422" in responses:
        responses["422"]["description"] = DESCRIPTIONS[422]
    for key, response in responses.items():
        # Derived refusals, and error codes a route declared without a body of their own, answer with ErrorBody.
        if key.isdigit() and int(key) >= 400 and (int(key) in codes or not response.get("content")):
            response["content"] = ERROR_CONTENT
    operation["responses"] = dict(sorted(responses.items()))


def _say(operation: dict[str, Any], line: str, roles: list[Role]) -> None:
    operation["x-roles"] = [str(r) for r in roles]
    described = operation.get("description", "")
    operation["description"] = f"{line}\n\n{described}" if described else line


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)
