"""The access table (tests/support/access.py) is the code's, whole, and docs/access.md is the table.

Pure: builds each app without starting it. A new route without its row fails here, and so does a row whose roles
are not the ones the route's own dependency admits.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from shared import registry
from shared.auth import RoleCheck, current_principal
from shared.vocabulary import Role
from shared.web.pages import PageFor, signed_in_page
from tests.support import access

REPO = Path(__file__).resolve().parents[2]


def _app(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"services.{service}.app").create()
    return app


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _admitted(route: APIRoute) -> frozenset[Role] | None:
    """The roles the route's dependencies admit (any of them), or None when it asks for no token at all."""
    calls = [d.call for d in _dependencies(route.dependant)]
    checks = [c.roles for c in calls if isinstance(c, RoleCheck | PageFor)]
    if checks:
        return frozenset.intersection(*(frozenset(roles) for roles in checks))
    if any(c is current_principal or c is signed_in_page for c in calls):
        return frozenset(Role)
    return None


def _routes(app: FastAPI) -> dict[tuple[str, str], frozenset[Role] | None]:
    found: dict[tuple[str, str], frozenset[Role] | None] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        admitted = _admitted(route) if isinstance(route, APIRoute) else None
        for method in sorted((context.methods or set()) - {"HEAD"}):
            assert context.path_format is not None
            found[(method, context.path_format)] = admitted
    return found


@pytest.mark.parametrize("service", registry.SERVICE_NAMES)
def test_every_route_has_its_row_with_the_roles_it_admits(service: str) -> None:
    app = _app(service)
    routes = _routes(app)
    rows = {(e.method, e.path): e for e in access.endpoints(service)}
    assert len(rows) == len(access.endpoints(service)), "a route has two rows"
    assert sorted(set(routes) - set(rows)) == [], "routes without a row in tests/support/access.py"
    assert sorted(set(rows) - set(routes)) == [], "rows of tests/support/access.py naming no route"
    wrong = {f"{m} {p}": (routes[(m, p)], e.roles) for (m, p), e in rows.items() if routes[(m, p)] != e.roles}
    assert wrong == {}, "the route admits (left) other roles than its row says (right)"


@pytest.mark.parametrize("service", registry.SERVICE_NAMES)
def test_the_openapi_says_the_rows_roles(service: str) -> None:
    """The OpenAPI's ``x-roles`` (shared/openapi.py) is what the table says, for every operation it lists."""
    openapi = _app(service).openapi()
    rows = {(e.method, e.path): e for e in access.endpoints(service)}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            row = rows[(method.upper(), path)]
            assert not row.page, f"{method} {path} is a page but in the OpenAPI"
            said = frozenset(Role(r) for r in operation["x-roles"])
            assert said == (row.roles or frozenset()), f"{method} {path}: x-roles {sorted(said)} vs {row.roles}"


def test_each_owned_resource_names_what_own_means_for_the_roles_it_matters_to() -> None:
    for endpoint in access.TABLE:
        for role, grant in (endpoint.grants or {}).items():
            if grant.own != grant.other:
                assert endpoint.resource is not None and role in endpoint.resource.own, (
                    f"{endpoint}: {role}'s answer depends on whose the resource is, but no resource says what own is"
                )


def test_the_document_is_the_table() -> None:
    written = (REPO / "docs" / "access.md").read_text(encoding="utf-8")
    assert written == access.markdown(), "docs/access.md differs: python -m tests.support.access > docs/access.md"
