"""deploy/kubernetes agrees with the system: every service of the registry with its port, probes on routes the
services really have, requests above the benchmark's memory figures, scaling by its own consumer group, every topic
created with the three-broker cluster's settings, and overlays that only touch what the base defines.

No cluster and no network: these parse the files, and build the overlays with kustomize (``make test`` builds it
into ``.kipina/tools`` with deploy/install-kustomize.sh; else ``KIPINA_KUSTOMIZE`` or the PATH; without one those
two tests are skipped).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import manifests
from shared import registry
from shared.operations import operations_router

ROOT = Path(manifests.__file__).resolve().parent / "kubernetes"
BASE = ROOT / "base"
OVERLAYS = sorted(p for p in (ROOT / "overlays").iterdir() if p.is_dir())
PERFORMANCE = Path(manifests.__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"


def _documents(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((directory / name).read_text("utf-8")) if d]
    return docs


BASE_DOCS = _documents(BASE)


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in BASE_DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} in deploy/kubernetes/base"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _memory_mib(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (1024 if unit == "Gi" else 1)


def _rss_under_load() -> dict[str, float]:
    """The benchmark's most resident memory under load per service, from PERFORMANCE.md's generated table."""
    rows = re.findall(r"^\| http \| (\w+) \| [\d.]+ \| ([\d.]+) \|", PERFORMANCE.read_text("utf-8"), re.MULTILINE)
    return {service: float(mib) for service, mib in rows}


def test_the_base_files_are_what_the_registry_makes() -> None:
    assert manifests.main(["check"]) == 0


def test_the_base_has_exactly_the_registrys_services_and_nothing_else() -> None:
    deployments = {d["metadata"]["name"] for d in BASE_DOCS if d["kind"] == "Deployment"}
    assert deployments == {f"kipina-{p.name}" for p in registry.PARTS}
    for kind in ("Service", "PodDisruptionBudget", "ScaledObject"):
        assert {d["metadata"]["name"] for d in BASE_DOCS if d["kind"] == kind} == deployments, kind


@pytest.mark.parametrize("part", registry.PARTS, ids=lambda p: p.name)
def test_each_deployment_runs_its_service_on_its_port_with_its_own_database(part: registry.Part) -> None:
    deployment = _one("Deployment", f"kipina-{part.name}")
    spec = deployment["spec"]
    [container] = spec["template"]["spec"]["containers"]
    env = _env(container)
    assert env["SERVICE"] == part.name  # the image's entry point runs python -m services.$SERVICE
    assert env[f"{part.env_prefix}PORT"] == str(part.port)
    assert container["ports"] == [{"name": "http", "containerPort": part.port}]
    assert env[part.database_env] == {"secretKeyRef": {"name": f"kipina-{part.name}-database", "key": "url"}}
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert spec["replicas"] >= 2, "one pod may go and the other carries on"
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    dockerfile = (ROOT.parent / "docker" / "Dockerfile").read_text("utf-8")
    assert f"USER {spec['template']['spec']['securityContext']['runAsUser']}" in dockerfile


@pytest.mark.parametrize("part", registry.PARTS, ids=lambda p: p.name)
def test_probes_ask_routes_every_service_has(part: registry.Part) -> None:
    # Every service mounts this router (shared/service.py); its broker is only used when a probe is answered.
    router = operations_router(service=part.name, title=part.title, description="", broker=None)  # type: ignore[arg-type]
    routes = {getattr(r, "path", "") for r in router.routes}
    [container] = _one("Deployment", f"kipina-{part.name}")["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert {"/health/live", "/health/ready"} <= routes


@pytest.mark.parametrize("part", registry.PARTS, ids=lambda p: p.name)
def test_memory_requests_cover_what_the_benchmark_measured_under_load(part: registry.Part) -> None:
    measured = _rss_under_load()
    assert part.name in measured, "docs/PERFORMANCE.md's memory table lost a service"
    [container] = _one("Deployment", f"kipina-{part.name}")["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    request = _memory_mib(resources["requests"]["memory"])
    limit = _memory_mib(resources["limits"]["memory"])
    assert measured[part.name] <= request <= 1.5 * measured[part.name], (measured[part.name], request)
    assert limit >= 2 * measured[part.name]
    assert re.fullmatch(r"\d+m", resources["requests"]["cpu"])


@pytest.mark.parametrize("part", registry.PARTS, ids=lambda p: p.name)
def test_service_budget_and_scaling_point_at_the_deployment(part: registry.Part) -> None:
    name = f"kipina-{part.name}"
    labels = _one("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    service = _one("Service", name)
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"] == [{"name": "http", "port": part.port, "targetPort": "http"}]
    assert _one("PodDisruptionBudget", name)["spec"] == {"minAvailable": 1, "selector": {"matchLabels": labels}}
    scaled = _one("ScaledObject", name)["spec"]
    assert scaled["scaleTargetRef"] == {"name": name}
    assert 2 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= registry.TOPIC_PARTITIONS
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == part.consumer_group
    brokers = _one("ConfigMap", "kipina-config")["data"]["KIPINA_KAFKA_BOOTSTRAP"]
    assert trigger["metadata"]["bootstrapServers"] == brokers


def test_every_topic_is_created_on_three_brokers_with_two_in_sync() -> None:
    [container] = _one("Job", "kipina-topics")["spec"]["template"]["spec"]["containers"]
    assert _env(container)["KIPINA_TOPICS"].split() == list(registry.ALL_TOPICS)
    script = container["command"][-1]
    assert "--replication-factor 3" in script
    assert "--config min.insync.replicas=2" in script
    assert f"--partitions {registry.TOPIC_PARTITIONS}" in script
    bootstrap = _one("ConfigMap", "kipina-config")["data"]["KIPINA_KAFKA_BOOTSTRAP"]
    assert len(set(bootstrap.split(","))) == 3


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_overlays_build_on_the_base_and_touch_only_what_it_defines(overlay: Path) -> None:
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text("utf-8"))
    assert kustomization["resources"] == ["../../base"]
    assert kustomization.get("namespace")
    for image in kustomization.get("images", []):
        assert image["name"] == manifests.IMAGE.rsplit(":", 1)[0]
    names = {(d["kind"], d["metadata"]["name"]) for d in BASE_DOCS}
    for replica in kustomization.get("replicas", []):
        assert ("Deployment", replica["name"]) in names
    for patch in kustomization.get("patches", []):
        kinds = {d["kind"] for d in BASE_DOCS}
        assert patch["target"]["kind"] in kinds
        for operation in yaml.safe_load(patch["patch"]):
            path = operation["path"].strip("/").split("/")
            targets = [d for d in BASE_DOCS if d["kind"] == patch["target"]["kind"]]
            if operation["op"] in ("remove", "replace"):
                for doc in targets:
                    node: Any = doc
                    for key in path:
                        assert key in node, f"{overlay.name}: {operation['path']} not in {doc['metadata']['name']}"
                        node = node[key]
    for generator in kustomization.get("configMapGenerator", []):
        assert ("ConfigMap", generator["name"]) in names and generator["behavior"] == "merge"


def _kustomize() -> str | None:
    built = ROOT.parents[1] / ".kipina" / "tools" / "kustomize"  # deploy/install-kustomize.sh (make test)
    return os.environ.get("KIPINA_KUSTOMIZE") or (str(built) if built.exists() else shutil.which("kustomize"))


@pytest.mark.skipif(_kustomize() is None, reason="no kustomize: make kustomize (or KIPINA_KUSTOMIZE, or on the PATH)")
@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_kustomize_builds_each_overlay(overlay: Path) -> None:
    built = subprocess.run(
        [str(_kustomize()), "build", str(overlay)], capture_output=True, text=True, check=True, timeout=60
    )
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text("utf-8"))
    assert {d["metadata"].get("namespace") for d in docs} == {kustomization["namespace"]}
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == len(registry.PARTS)
    for replica in kustomization.get("replicas", []):
        [d] = [d for d in deployments if d["metadata"]["name"] == replica["name"]]
        assert d["spec"]["replicas"] == replica["count"]
