"""The same shape in every service, checked: each convention of docs/service-shape.md fails here when broken.

Pure (reads the source with ``ast``; builds each app without starting it).
"""

from __future__ import annotations

import ast
import enum
import importlib
from pathlib import Path

import pytest

from shared import registry
from shared.events import EVENT_TYPES

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
LAYERS = ("api.py", "handlers.py", "workflow.py", "domain.py", "repository.py", "schemas.py", "settings.py", "app.py")
# Modules that do I/O, which the pure rules in domain.py must never import.
IO_MODULES = ("asyncpg", "httpx", "aiosmtplib", "aiokafka", "faststream", "fastapi", "shared.db", "shared.uow")

NAMES = registry.SERVICE_NAMES


def _modules(service: str) -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(), str(p)) for p in sorted((SERVICES / service).glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _names(tree: ast.Module) -> set[str]:
    """Every bare name and attribute name used."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }


@pytest.mark.parametrize("service", NAMES)
def test_every_layer_is_there(service: str) -> None:
    missing = [layer for layer in LAYERS if not (SERVICES / service / layer).exists()]
    assert not missing, f"services/{service} lacks {missing}: every service has the same layers (docs/service-shape.md)"
    assert (SERVICES / service / "migrations").is_dir()


@pytest.mark.parametrize("service", NAMES)
def test_services_never_import_each_other(service: str) -> None:
    others = [f"services.{o}" for o in NAMES if o != service]
    for name, tree in _modules(service).items():
        bad = sorted(i for i in _imports(tree) if i.startswith(tuple(others)))
        assert not bad, f"services/{service}/{name} imports {bad}: services share only shared/"


@pytest.mark.parametrize("service", NAMES)
def test_workflow_takes_no_http_schemas(service: str) -> None:
    imports = _imports(_modules(service)["workflow.py"])
    bad = sorted(i for i in imports if i.startswith((f"services.{service}.schemas", "fastapi", "starlette")))
    assert not bad, f"services/{service}/workflow.py imports {bad}: use cases take plain values or command objects"


@pytest.mark.parametrize("service", NAMES)
def test_domain_is_pure(service: str) -> None:
    imports = _imports(_modules(service)["domain.py"])
    bad = sorted(i for i in imports if i.startswith(IO_MODULES) or i.startswith(f"services.{service}.repository"))
    assert not bad, f"services/{service}/domain.py imports {bad}: rules do no I/O"


@pytest.mark.parametrize("service", NAMES)
def test_rows_never_leave_the_repository(service: str) -> None:
    for name, tree in _modules(service).items():
        if name == "repository.py":
            continue
        assert "asyncpg" not in {i.split(".")[0] for i in _imports(tree)}, (
            f"services/{service}/{name} imports asyncpg: SQL and rows stay in repository.py, typed records leave it"
        )
        assert "Record" not in _names(tree), f"services/{service}/{name} handles an asyncpg Record"


@pytest.mark.parametrize("service", NAMES)
def test_one_transaction_idiom_and_one_way_to_emit(service: str) -> None:
    for name, tree in _modules(service).items():
        used = _names(tree)
        assert "acquire" not in used, (
            f"services/{service}/{name} opens a connection by hand: use the unit of work (`async with uow:`)"
        )
        assert "transaction" not in used or name == "repository.py", (
            f"services/{service}/{name} opens a transaction by hand: use the unit of work"
        )
        emitting = sorted(i for i in _imports(tree) if i.startswith(("shared.outbox", "shared.events.new_event")))
        assert not emitting, f"services/{service}/{name} imports {emitting}: events are emitted with `uow.emit`"


@pytest.mark.parametrize("service", NAMES)
def test_refusals_are_shared_errors(service: str) -> None:
    for name, tree in _modules(service).items():
        assert "HTTPException" not in _names(tree), (
            f"services/{service}/{name} raises HTTPException: refuse with shared.errors (NotFound, Conflict, Invalid)"
        )


@pytest.mark.parametrize("service", NAMES)
def test_guards_are_named_ensure(service: str) -> None:
    for name, tree in _modules(service).items():
        checks = [
            n.name
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("check_")
        ]
        assert not checks, f"services/{service}/{name} defines {checks}: guards are named ensure_*"


def _status_enums(service: str) -> list[type[enum.Enum]]:
    domain = importlib.import_module(f"services.{service}.domain")
    return [
        v
        for v in vars(domain).values()
        if isinstance(v, type)
        and issubclass(v, enum.Enum)
        and v.__name__.endswith("Status")
        and v.__module__ == domain.__name__
    ]


@pytest.mark.parametrize("service", NAMES)
def test_status_values_are_bound_never_sql_literals(service: str) -> None:
    tree = _modules(service)["repository.py"]
    sql = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for status_enum in _status_enums(service):
        for member in status_enum:
            literal = f"'{member.value}'"
            offenders = [s for s in sql if literal in s]
            assert not offenders, (
                f"services/{service}/repository.py writes {literal} in SQL: bind {status_enum.__name__}."
                f"{member.name}.value as a parameter"
            )


def test_one_case_status_per_meaning() -> None:
    owners = [s for s in NAMES if hasattr(importlib.import_module(f"services.{s}.domain"), "CaseStatus")]
    assert owners == ["intake"], (
        f"CaseStatus is defined in {owners}: the case's public status is intake's; other services name their own "
        "view of a case after what it means (e.g. review's ReviewStatus)"
    )


def _constructed_payloads(service: str) -> set[str]:
    names = {cls.__name__ for cls in EVENT_TYPES.values()}
    found: set[str] = set()
    for tree in _modules(service).values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in names:
                    found.add(called)
    return found


@pytest.mark.parametrize("service", NAMES)
def test_declared_publishes_match_what_is_emitted(service: str) -> None:
    app = importlib.import_module(f"services.{service}.app").create()
    declared = {p.__name__ for p in app.state.runtime.publishes}
    emitted = _constructed_payloads(service)
    assert emitted <= declared, f"{service} emits {sorted(emitted - declared)} without declaring them in publishes"
    assert declared <= emitted, f"{service} declares {sorted(declared - emitted)} in publishes but never emits them"
    assert all(EVENT_TYPES[p.event_type] is p for p in app.state.runtime.publishes)
    own_topic = registry.part(service).topic
    foreign = sorted(p.__name__ for p in app.state.runtime.publishes if p.topic != own_topic)
    assert not foreign, f"{service} publishes {foreign} on another service's topic; a service writes only {own_topic}"


@pytest.mark.parametrize("service", NAMES)
def test_consumed_topics_follow_from_the_handlers(service: str) -> None:
    app = importlib.import_module(f"services.{service}.app").create()
    consumer = app.state.runtime.consumer
    if consumer is None:
        return
    topics = {EVENT_TYPES[t].topic for t in consumer.router.handlers}
    assert set(consumer.router.topics) == topics
    assert registry.part(service).topic not in topics, f"{service} consumes its own topic"
