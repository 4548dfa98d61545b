"""The whole system on one machine: infrastructure, a development mail sink and the four services.

    python -m deploy.stack up       # infra + mail sink + services + demo data; prints URLs and tokens
    python -m deploy.stack status
    python -m deploy.stack down     # stops services and mail sink, then the infrastructure
    python -m deploy.stack services-down   # stops only the services and the mail sink

The services and their ports are those of ``shared/registry.py``. Each runs as its own
process (``python -m services.<name>``), logging JSON lines to ``<state>/logs/<name>.log``.
The development mail sink (aiosmtpd) listens on 127.0.0.1:``registry.MAIL_SINK_PORT``
(1025) and stores every message under ``<state>/mail/``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy import local
from shared import registry
from shared.demo import PEOPLE

REPO = Path(__file__).resolve().parents[1]
HOST = registry.HOST

# The registry's parts (each has .name, .port, .url and the derived names).
SERVICES: tuple[registry.Part, ...] = registry.PARTS
MAIL_PORT = registry.MAIL_SINK_PORT


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def service_env(base: Mapping[str, str], *, ports: Mapping[str, int] | None = None) -> dict[str, str]:
    """The environment for the service processes: infra URLs, ports, mail sink."""
    env = dict(os.environ)
    env.update(base)
    for spec in SERVICES:
        env.setdefault(f"{spec.env_prefix}PORT", str((ports or {}).get(spec.name, spec.port)))
    env.setdefault(f"{registry.NOTIFY.env_prefix}SMTP_HOST", HOST)
    env.setdefault(f"{registry.NOTIFY.env_prefix}SMTP_PORT", str(MAIL_PORT))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start_process(args: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            list(args), cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_service(name: str, *, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return start_process([sys.executable, "-m", f"services.{name}"], env=env, log_path=log_path)


def wait_ready(url: str, *, timeout: float = 90.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url``/health/ready until it answers 200."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=3) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})")


def stop_process(pid: int, *, timeout: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- state


def _state() -> Path:
    return local.load_settings().state_dir


def _pid_file(name: str) -> Path:
    return _state() / "run" / f"{name}.pid"


def _running_pid(name: str) -> int | None:
    path = _pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"services." not in cmdline.read_bytes() and b"mailsink" not in cmdline.read_bytes():
        path.unlink(missing_ok=True)  # a recycled pid: not ours
        return None
    return pid


def _record(name: str, process: subprocess.Popen[bytes]) -> None:
    path = _pid_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(process.pid))


# --------------------------------------------------------------------------- commands


def services_up(infra: Mapping[str, str]) -> None:
    env = service_env(infra)
    # The pages' development sign-in lists the demo people (shared/web); only here, never by default.
    env.setdefault("KIPINA_DEV_SIGN_IN", "true")
    # The demo operator hears what operators hear (decisions, a call ready to decide, dead letters), in the sink.
    env.setdefault(f"{registry.NOTIFY.env_prefix}OPERATOR_EMAILS", PEOPLE["operator"]["email"])
    # Development's webhook receivers run on this machine; a deployment keeps webhooks to public addresses.
    env.setdefault(f"{registry.NOTIFY.env_prefix}WEBHOOK_ALLOW_LOOPBACK", "true")
    logs = _state() / "logs"
    if _running_pid("mailsink") is None:
        mail_dir = _state() / "mail"
        sink = start_process(
            [sys.executable, "-m", "deploy.mailsink", "--port", str(MAIL_PORT), "--dir", str(mail_dir)],
            env=env,
            log_path=logs / "mailsink.log",
        )
        _record("mailsink", sink)
        _say(f"mail sink on {HOST}:{MAIL_PORT}, messages in {mail_dir}")
    started: list[tuple[registry.Part, subprocess.Popen[bytes] | None]] = []
    for spec in SERVICES:
        if _running_pid(spec.name) is not None:
            _say(f"{spec.name} already running")
            started.append((spec, None))
            continue
        service_process = start_service(spec.name, env=env, log_path=logs / f"{spec.name}.log")
        _record(spec.name, service_process)
        started.append((spec, service_process))
        _say(f"starting {spec.name} on {spec.url} (log: {logs / (spec.name + '.log')})")
    for spec, process in started:
        try:
            wait_ready(spec.url, process=process)
        except (RuntimeError, TimeoutError) as exc:
            tail = (logs / f"{spec.name}.log").read_text(errors="replace").splitlines()[-30:]
            raise SystemExit(f"{spec.name} failed to start: {exc}\n" + "\n".join(tail)) from exc
        _say(f"{spec.name} ready")


def services_down() -> None:
    for name in [*(s.name for s in SERVICES), "mailsink"]:
        pid = _running_pid(name)
        if pid is not None:
            _say(f"stopping {name} (pid {pid})")
            stop_process(pid)
        _pid_file(name).unlink(missing_ok=True)


def status() -> int:
    code = 0
    for name in [*(s.name for s in SERVICES), "mailsink"]:
        pid = _running_pid(name)
        print(f"{name:10} {'running' if pid else 'stopped':8} {('pid ' + str(pid)) if pid else ''}")
        code |= pid is None
    infra_code = local.main(["status"])
    return code | infra_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "services-up", "services-down"])
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo call and case")
    args = parser.parse_args(argv)
    if args.command in ("up", "services-up"):
        infra = local.ensure_infra()
        services_up(infra)
        from deploy import demo

        demo.main(with_demo=not args.no_demo)
        return 0
    if args.command == "services-down":
        services_down()
        return 0
    if args.command == "down":
        services_down()
        return local.main(["down"])
    return status()


if __name__ == "__main__":
    raise SystemExit(main())
