"""The monitoring files of deploy/ agree with the code: Prometheus scrapes every service of the registry, and every
PromQL expression of the Grafana dashboard names only metrics the services export (shared/metrics.py).

No network: these read the files and the prometheus_client registry the services serve at /metrics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401 - registers the services' metrics in the default registry
from shared import registry

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
COMPOSE = REPO / "docker-compose.yml"

# Names in a PromQL expression that are not metrics: keywords, modifiers and aggregation clauses.
_PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf"}
)
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}


def exported_metric_names() -> set[str]:
    """Every series name /metrics can show: a counter ``x`` is ``x_total``, a histogram ``x_bucket/_sum/_count``."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        suffixes = _SUFFIXES.get(family.type)
        names.update(family.name + s for s in suffixes) if suffixes else names.add(family.name)
    return names


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, keywords and Grafana variables removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values, regexes)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables ($service, $__rate_interval)
    found = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()", text):
        word = match.group(1)
        if word.lower() not in _PROMQL_WORDS:
            found.add(word)
    return found


def _dashboard_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expression) for every panel target and templating query, rows' nested panels included."""
    found: list[tuple[str, str]] = []
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        found += [(f"panel {panel.get('title')!r}", t["expr"]) for t in panel.get("targets", []) if t.get("expr")]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        # label_values(metric, label) names a metric too
        found += [(f"variable ${variable.get('name')}", m) for m in re.findall(r"label_values\(\s*([^,)]+)", text)]
    return found


def _dashboards() -> list[Path]:
    paths = sorted(DASHBOARDS.glob("*.json"))
    assert paths, f"{DASHBOARDS.relative_to(REPO)} has no dashboard"
    return paths


@pytest.mark.parametrize("path", _dashboards(), ids=lambda p: p.name)
def test_every_dashboard_metric_is_exported_by_the_services(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    expressions = _dashboard_expressions(dashboard)
    assert expressions, f"{path.name}: no PromQL found"
    exported = exported_metric_names()
    unknown = [
        f"{where}: {name}"
        for where, expr in expressions
        for name in sorted(metric_names_in(expr))
        if name not in exported
    ]
    assert not unknown, (
        f"{path.relative_to(REPO)} names metrics the services do not export (shared/metrics.py): {unknown}"
    )


@pytest.mark.parametrize("path", _dashboards(), ids=lambda p: p.name)
def test_every_dashboard_panel_uses_the_provisioned_datasource(path: Path) -> None:
    uids = {d["uid"] for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    dashboard = json.loads(path.read_text())
    used = {p["datasource"]["uid"] for p in dashboard["panels"] if p.get("type") != "row"}
    assert used <= uids, f"{path.name}: panels use datasources {used - uids} that {DATASOURCES.name} does not provision"


def test_prometheus_scrapes_every_service_of_the_registry() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped: dict[str, str] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", f"job {job['job_name']}: services serve /metrics"
        for group in job.get("static_configs", []):
            for target in group["targets"]:
                scraped[target] = group.get("labels", {}).get("service", "")
    expected = {f"{p.name}:{p.port}": p.name for p in registry.PARTS}
    assert scraped == expected, (
        f"{PROMETHEUS.relative_to(REPO)}: scrape exactly {expected} (docker-compose host:port of shared/registry.py, "
        f"each with its `service` label); it scrapes {scraped}"
    )


def test_compose_runs_prometheus_and_grafana_with_these_files() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, mount in (("prometheus", "./deploy/prometheus/prometheus.yml:"), ("grafana", "./deploy/grafana/")):
        assert name in services, f"docker-compose.yml: add the {name} service"
        service = services[name]
        assert ":" in service["image"] and not service["image"].endswith(":latest"), f"{name}: pin the image tag"
        assert any(str(v).startswith(mount) for v in service.get("volumes", [])), f"{name}: mount {mount}"
        assert all(str(p).startswith(f"{registry.HOST}:") for p in service.get("ports", [])), (
            f"docker-compose.yml, {name}: bind its ports to {registry.HOST}"
        )


def test_the_metric_name_check_catches_a_bogus_name() -> None:
    exported = exported_metric_names()
    expr = 'sum by (service) (rate(kipina_events_consumd_total{service=~"$service"}[$__rate_interval]))'
    assert metric_names_in(expr) == {"kipina_events_consumd_total"}
    assert "kipina_events_consumd_total" not in exported
    assert {"kipina_events_consumed_total", "kipina_event_handling_seconds_bucket", "kipina_consumer_lag"} <= exported
    assert "kipina_events_consumed" not in exported  # a counter is exported with _total only
