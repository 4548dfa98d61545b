"""Everything that names a service, port, database or topic agrees with shared/registry.py.

No network and no database: these read files of the repository and import modules.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared import registry

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
POSTGRES_INIT = REPO / "deploy" / "docker" / "postgres-init.sql"
SERVICE_FILES = ("app.py", "settings.py", "__main__.py")
REGISTRY_HINT = "shared/registry.py (PARTS)"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())  # safe_load follows the file's `<<:` merge keys
    assert isinstance(loaded, dict) and isinstance(loaded.get("services"), dict), f"{COMPOSE} has no services"
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment, whether written as a mapping or as KEY=VALUE items."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(str(item).split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def _runs_kipina_image(service: dict[str, Any]) -> bool:
    """A compose service is one of ours when it is built from the repository or picks a service by SERVICE."""
    return "build" in service or "SERVICE" in _environment(service)


def test_registry_entries_are_distinct_and_well_formed() -> None:
    names = [p.name for p in registry.PARTS]
    ports = [p.port for p in registry.PARTS]
    assert len(set(names)) == len(names), f"{REGISTRY_HINT}: service names must differ ({names})"
    assert len(set(ports)) == len(ports), f"{REGISTRY_HINT}: service ports must differ ({ports})"
    assert registry.MAIL_SINK_PORT not in ports, f"{REGISTRY_HINT}: a service port clashes with MAIL_SINK_PORT"
    for name in names:
        # Lower-case letters only: the CloudEvents source pattern (/kipina/[a-z]+) and the unquoted SQL
        # identifiers of postgres-init.sql rely on it.
        assert re.fullmatch(r"[a-z]+", name), f"{REGISTRY_HINT}: {name!r} must be lower-case letters only"


# --------------------------------------------------------------------------- generated and checked files


def test_postgres_init_script_is_generated_from_the_registry() -> None:
    assert POSTGRES_INIT.read_text() == registry.postgres_init_sql(), (
        f"{POSTGRES_INIT.relative_to(REPO)} is out of date: regenerate it with "
        f"`python -m shared.registry postgres-init > {POSTGRES_INIT.relative_to(REPO)}`"
    )


def test_compose_runs_exactly_the_registry_services(compose: dict[str, Any]) -> None:
    ours = {name for name, service in compose["services"].items() if _runs_kipina_image(service)}
    missing = sorted(set(registry.SERVICE_NAMES) - ours)
    extra = sorted(ours - set(registry.SERVICE_NAMES))
    assert not missing, f"docker-compose.yml: add a service entry for {missing} (copy an existing one, e.g. intake)"
    assert not extra, f"docker-compose.yml runs {extra}, which {REGISTRY_HINT} does not know: add them there or remove"


@pytest.mark.parametrize("part", registry.PARTS, ids=registry.SERVICE_NAMES)
def test_compose_service_matches_its_registry_entry(compose: dict[str, Any], part: registry.Part) -> None:
    services: dict[str, Any] = compose["services"]
    assert part.name in services, f"docker-compose.yml: add the service {part.name!r}"
    service = services[part.name]
    env = _environment(service)
    where = f"docker-compose.yml, service {part.name!r}"

    mapping = f"{registry.HOST}:{part.port}:{part.port}"
    assert mapping in [str(p) for p in service.get("ports", [])], f"{where}: set ports to [{mapping!r}]"
    assert env.get(f"{part.env_prefix}PORT") == str(part.port), f'{where}: set {part.env_prefix}PORT: "{part.port}"'
    assert env.get("SERVICE") == part.name, f"{where}: set SERVICE: {part.name} (the image runs services.$SERVICE)"

    url = env.get(part.database_env)
    assert url, f"{where}: set {part.database_env} (in the x-service environment)"
    parsed = urlsplit(url)
    expected = f"postgresql://{part.name}:{part.dev_password}@postgres:5432/{part.database}"
    assert (parsed.scheme, parsed.username, parsed.password, parsed.path) == (
        "postgresql",
        part.name,
        part.dev_password,
        f"/{part.database}",
    ), f"{where}: {part.database_env} is {url!r}; it must be {expected!r} (role, password and database of the part)"
    assert parsed.hostname in services, f"{where}: {part.database_env} names host {parsed.hostname!r}, no such service"


def test_compose_creates_exactly_the_registry_topics(compose: dict[str, Any]) -> None:
    command = compose["services"].get("kafka-topics", {}).get("command")
    assert command, "docker-compose.yml: the kafka-topics service must create the topics in its command"
    text = " ".join(command) if isinstance(command, list) else str(command)
    created = sorted(re.findall(r"\bkipina\.[a-z0-9_-]+\.[a-z0-9]+\b", text))
    assert created == sorted(registry.ALL_TOPICS), (
        f"docker-compose.yml, kafka-topics: the topic list must be exactly {' '.join(registry.ALL_TOPICS)} "
        f"(it has {' '.join(created)})"
    )
    partitions = set(re.findall(r"--partitions[= ]+(\d+)", text))
    assert partitions == {str(registry.TOPIC_PARTITIONS)}, (
        f"docker-compose.yml, kafka-topics: use --partitions {registry.TOPIC_PARTITIONS} (registry.TOPIC_PARTITIONS)"
    )
    kafka_env = _environment(compose["services"].get("kafka", {}))
    assert kafka_env.get("KAFKA_NUM_PARTITIONS") == str(registry.TOPIC_PARTITIONS), (
        f"docker-compose.yml, kafka: set KAFKA_NUM_PARTITIONS: {registry.TOPIC_PARTITIONS} (registry.TOPIC_PARTITIONS)"
    )


def test_compose_postgres_runs_the_generated_init_script(compose: dict[str, Any]) -> None:
    volumes = [str(v) for v in compose["services"].get("postgres", {}).get("volumes", [])]
    assert any(v.startswith("./deploy/docker/postgres-init.sql:/docker-entrypoint-initdb.d/") for v in volumes), (
        "docker-compose.yml, postgres: mount ./deploy/docker/postgres-init.sql into /docker-entrypoint-initdb.d/"
    )


# --------------------------------------------------------------------------- service folders and settings


def test_every_registry_service_has_its_folder() -> None:
    for part in registry.PARTS:
        folder = REPO / "services" / part.name
        missing = [f for f in SERVICE_FILES if not (folder / f).is_file()]
        assert not missing, f"services/{part.name}/ lacks {missing} (see docs/adding-a-service.md)"


def test_every_service_folder_is_in_the_registry() -> None:
    folders = sorted(p.parent.name for p in (REPO / "services").glob("*/app.py"))
    unknown = [name for name in folders if name not in registry.SERVICE_NAMES]
    assert not unknown, f"services/{unknown[0]}/ has an app.py but is not in {REGISTRY_HINT}: add a Part for it"


@pytest.mark.parametrize("part", registry.PARTS, ids=registry.SERVICE_NAMES)
def test_settings_defaults_match_the_registry(monkeypatch: pytest.MonkeyPatch, part: registry.Part) -> None:
    from shared.settings import ServiceSettings

    for name in [n for n in os.environ if n.startswith("KIPINA_")]:  # read the defaults, not this shell's values
        monkeypatch.delenv(name)
    module = importlib.import_module(f"services.{part.name}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} must define exactly one ServiceSettings subclass (has {classes})"
    cls = classes[0]
    where = f"{module.__name__}.{cls.__name__}"
    assert cls.model_config.get("env_prefix") == part.env_prefix, f'{where}: set env_prefix="{part.env_prefix}"'
    settings = cls()
    assert settings.port == part.port, f"{where}: default port must be {part.port} (the registry's)"
    assert settings.database_url == part.dev_database_url(), (
        f'{where}: default database_url must be "{part.dev_database_url()}" (Part.dev_database_url())'
    )


# --------------------------------------------------------------------------- code that reads the registry


def test_shared_rules_agree_with_the_registry() -> None:
    from shared import topics
    from shared.kafka import consumer_group

    assert topics.ALL_TOPICS == registry.ALL_TOPICS, "shared/topics.py: ALL_TOPICS must be registry.ALL_TOPICS"
    assert topics.EVENT_TOPICS == registry.EVENT_TOPICS, "shared/topics.py: EVENT_TOPICS must be registry.EVENT_TOPICS"
    for part in registry.PARTS:
        assert topics.dead_letter_topic(part.name) == part.dead_letter_topic, (
            "shared/topics.py dead_letter_topic() and Part.dead_letter_topic must follow the same rule"
        )
        assert consumer_group(part.name) == part.consumer_group, (
            "shared/kafka.py consumer_group() and Part.consumer_group must follow the same rule"
        )


def test_local_infrastructure_uses_the_registry() -> None:
    from deploy import local

    assert local.SERVICES == registry.SERVICE_NAMES, "deploy/local.py: SERVICES must be registry.SERVICE_NAMES"
    assert local.TOPICS == registry.ALL_TOPICS, "deploy/local.py: TOPICS must be registry.ALL_TOPICS"
    assert local.TOPIC_PARTITIONS == registry.TOPIC_PARTITIONS, "deploy/local.py: use registry.TOPIC_PARTITIONS"
    # With no settings in the environment, `make up` gives every service the URL its settings default to.
    env = local.infra_env(local.load_settings({}))
    for part in registry.PARTS:
        assert env.get(part.database_env) == part.dev_database_url(), (
            f"deploy/local.py: {part.database_env} must default to Part.dev_database_url() ({part.dev_database_url()})"
        )


def test_stack_and_test_support_use_the_registry() -> None:
    from deploy import stack
    from tests.support import infra

    assert [(s.name, s.port) for s in stack.SERVICES] == [(p.name, p.port) for p in registry.PARTS], (
        "deploy/stack.py: SERVICES must be registry.PARTS"
    )
    assert stack.MAIL_PORT == registry.MAIL_SINK_PORT, "deploy/stack.py: MAIL_PORT must be registry.MAIL_SINK_PORT"
    assert infra.SERVICES == registry.SERVICE_NAMES, "tests/support/infra.py: SERVICES must be registry.SERVICE_NAMES"
    for part in registry.PARTS:
        assert infra.database_env_name(part.name) == part.database_env, (
            "tests/support/infra.py: database_env_name() must return Part.database_env"
        )
