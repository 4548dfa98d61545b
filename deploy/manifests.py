"""The Kubernetes manifests of ``deploy/kubernetes/``, made from the registry of parts (shared/registry.py).

    python -m deploy.manifests write     # rewrite deploy/kubernetes/base/*.yaml
    python -m deploy.manifests check     # exit 1 if a file differs from what the registry makes

Per service: a Deployment (two replicas, probes on ``/health/live`` and ``/health/ready``, resource requests from
the benchmark's figures), its Service, a PodDisruptionBudget and a KEDA ``ScaledObject`` that scales it by its
consumer group's lag (at most one pod per partition: a consumer beyond that would sit idle). One Job creates the
topics on the three-broker cluster (replication factor 3, ``min.insync.replicas`` 2). The overlays under
``deploy/kubernetes/overlays/`` are written by hand; ``tests/unit/deploy/test_kubernetes.py`` checks them and these
files against the registry. docs/deployment.md says how a cluster differs from ``make up``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared import registry

BASE = Path(__file__).resolve().parent / "kubernetes" / "base"
IMAGE = "ghcr.io/kipina/kipina:0.1.0"  # deploy/docker/Dockerfile; overlays set the tag they run
KAFKA_IMAGE = "apache/kafka:3.9.1"
# The three-broker cluster's bootstrap (a Strimzi or managed cluster names its own; see docs/deployment.md).
BROKERS = 3
KAFKA_BOOTSTRAP = ",".join(f"kipina-kafka-{i}.kipina-kafka-brokers:9092" for i in range(BROKERS))
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2
REPLICAS = 2  # two pods of every service: one may go (a node drains, a pod dies) and the other carries on
LAG_THRESHOLD = 200  # records of lag per pod before KEDA adds one (about a second at the benchmark's rates)
UID = 10001  # deploy/docker/Dockerfile's user
GRACE_S = 45  # the consumer drains its batch in at most 30 s on SIGTERM (docs/design.md), then the relay stops


@dataclass(frozen=True)
class Resources:
    """Requests from the benchmark (docs/PERFORMANCE.md, the run of 2026-11-24T23:38, from HTTP at 50% of
    saturation, 76 cases/s): CPU-seconds over the 15.8 s step per process, rounded up to 50 millicores; memory
    above the most resident memory seen under load (at 90%), which stayed flat over 30 minutes."""

    cpu_request: str
    memory_request: str
    memory_limit: str


RESOURCES: dict[str, Resources] = {
    "intake": Resources("350m", "160Mi", "320Mi"),  # 5.39 CPU-s / 15.8 s = 0.34 cores; 123 MiB under load
    "review": Resources("200m", "160Mi", "320Mi"),  # 3.01 / 15.8 = 0.19; 114 MiB
    "awards": Resources("200m", "160Mi", "320Mi"),  # 2.99 / 15.8 = 0.19; 111 MiB
    "notify": Resources("450m", "160Mi", "320Mi"),  # 6.89 / 15.8 = 0.44; 123 MiB
}


# Secrets only one service reads, from a Secret of its own rather than the shared kipina-auth.
SERVICE_SECRETS: dict[str, list[dict[str, Any]]] = {
    "notify": [
        {
            # The keys webhook secrets are encrypted with at rest, the first encrypting (docs/people.md).
            "name": f"{registry.NOTIFY.env_prefix}WEBHOOK_SECRET_KEYS",
            "valueFrom": {"secretKeyRef": {"name": "kipina-notify-webhook-keys", "key": "keys"}},
        }
    ],
}


def _labels(part: registry.Part) -> dict[str, str]:
    return {"app.kubernetes.io/name": part.name, "app.kubernetes.io/part-of": "kipina"}


def deployment(part: registry.Part) -> dict[str, Any]:
    resources = RESOURCES[part.name]

    def live() -> dict[str, Any]:  # a fresh dict each time: YAML would write a shared one as an anchor
        return {"httpGet": {"path": "/health/live", "port": "http"}}

    env = [
        {"name": "SERVICE", "value": part.name},
        # In a pod the service listens on every interface of the pod's own network namespace.
        {"name": f"{part.env_prefix}HOST", "value": "0.0.0.0"},
        {"name": f"{part.env_prefix}PORT", "value": str(part.port)},
        {
            "name": part.database_env,
            "valueFrom": {"secretKeyRef": {"name": f"kipina-{part.name}-database", "key": "url"}},
        },
        *SERVICE_SECRETS.get(part.name, []),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"kipina-{part.name}", "labels": _labels(part)},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": _labels(part)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": _labels(part)},
                "spec": {
                    "terminationGracePeriodSeconds": GRACE_S,
                    # The image's user (deploy/docker/Dockerfile): numeric, so the kubelet can check it is not root.
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": part.name,
                            "image": IMAGE,
                            "ports": [{"name": "http", "containerPort": part.port}],
                            "env": env,
                            "envFrom": [
                                {"configMapRef": {"name": "kipina-config"}},
                                {"secretRef": {"name": "kipina-auth"}},
                            ],
                            # Migrations run at start-up: the startup probe gives them a minute before liveness counts.
                            "startupProbe": {**live(), "periodSeconds": 2, "failureThreshold": 30},
                            "livenessProbe": {**live(), "periodSeconds": 10, "failureThreshold": 3},
                            # Ready: database, broker and consumer answer (shared/operations.py).
                            "readinessProbe": {
                                "httpGet": {"path": "/health/ready", "port": "http"},
                                "periodSeconds": 5,
                                "failureThreshold": 2,
                            },
                            # No CPU limit: throttling adds latency, and the requests already place the pods.
                            "resources": {
                                "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
                                "limits": {"memory": resources.memory_limit},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def service(part: registry.Part) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"kipina-{part.name}", "labels": _labels(part)},
        "spec": {"selector": _labels(part), "ports": [{"name": "http", "port": part.port, "targetPort": "http"}]},
    }


def disruption_budget(part: registry.Part) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"kipina-{part.name}", "labels": _labels(part)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _labels(part)}},
    }


def scaled_object(part: registry.Part) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"kipina-{part.name}", "labels": _labels(part)},
        "spec": {
            "scaleTargetRef": {"name": f"kipina-{part.name}"},
            "minReplicaCount": REPLICAS,
            "maxReplicaCount": registry.TOPIC_PARTITIONS,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": KAFKA_BOOTSTRAP,
                        "consumerGroup": part.consumer_group,
                        # No topic: the lag of every topic the group consumes.
                        "lagThreshold": str(LAG_THRESHOLD),
                        "offsetResetPolicy": "earliest",
                    },
                }
            ],
        },
    }


def config() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kipina-config", "labels": {"app.kubernetes.io/part-of": "kipina"}},
        "data": {
            "KIPINA_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
            "KIPINA_LOG_FORMAT": "json",
            "KIPINA_LOG_LEVEL": "INFO",
            "KIPINA_COOKIE_SECURE": "true",
            f"{registry.NOTIFY.env_prefix}SMTP_HOST": "smtp.example.org",
            f"{registry.NOTIFY.env_prefix}SMTP_PORT": "587",
            f"{registry.NOTIFY.env_prefix}SMTP_STARTTLS": "true",
        },
    }


def topics_job() -> dict[str, Any]:
    create = (
        'for t in $KIPINA_TOPICS; do /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$KIPINA_KAFKA_BOOTSTRAP" '
        f'--create --if-not-exists --topic "$t" --partitions {registry.TOPIC_PARTITIONS} '
        f"--replication-factor {REPLICATION_FACTOR} --config min.insync.replicas={MIN_INSYNC_REPLICAS}; done"
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "kipina-topics", "labels": {"app.kubernetes.io/part-of": "kipina"}},
        "spec": {
            "backoffLimit": 10,
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [
                        {
                            "name": "topics",
                            "image": KAFKA_IMAGE,
                            "command": ["sh", "-ec", create],
                            "env": [{"name": "KIPINA_TOPICS", "value": " ".join(registry.ALL_TOPICS)}],
                            "envFrom": [{"configMapRef": {"name": "kipina-config"}}],
                        }
                    ],
                }
            },
        },
    }


def files() -> dict[str, str]:
    """File name → its text, for ``deploy/kubernetes/base``."""
    out: dict[str, str] = {}
    header = "# Written by `python -m deploy.manifests write` from shared/registry.py; edit that, not this.\n"
    for part in registry.PARTS:
        documents = [deployment(part), service(part), disruption_budget(part), scaled_object(part)]
        out[f"{part.name}.yaml"] = header + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in documents)
    out["config.yaml"] = header + yaml.safe_dump(config(), sort_keys=False)
    out["topics.yaml"] = header + yaml.safe_dump(topics_job(), sort_keys=False, width=200)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": "kipina"}}],
        "resources": ["config.yaml", "topics.yaml", *(f"{p.name}.yaml" for p in registry.PARTS)],
    }
    out["kustomization.yaml"] = header + yaml.safe_dump(kustomization, sort_keys=False)
    return out


def main(argv: list[str]) -> int:
    wanted = files()
    if argv == ["write"]:
        BASE.mkdir(parents=True, exist_ok=True)
        for name, text in wanted.items():
            (BASE / name).write_text(text, encoding="utf-8")
        return 0
    if argv == ["check"]:
        stale = [n for n, t in wanted.items() if not (BASE / n).exists() or (BASE / n).read_text("utf-8") != t]
        for name in stale:
            print(f"deploy/kubernetes/base/{name} differs from the registry; run: python -m deploy.manifests write")
        return 1 if stale else 0
    print("usage: python -m deploy.manifests write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
