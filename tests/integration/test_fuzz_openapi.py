"""Schemathesis over each service's own OpenAPI, with a token of each role and with none.

Each service runs in-process (uvicorn on a thread with its own event loop) against the real Kafka and
PostgreSQL. Schemathesis (its CLI; one run per role, side by side) reads the service's ``/openapi.json``
and, for every operation the role may call, sends the schema's boundary cases (coverage phase: values
just past each bound, wrong types, missing and unknown fields, text the patterns refuse such as NUL)
and a few generated requests, valid and invalid; without a token, one request per operation. It
checks that no answer is a 5xx, that every status code is one the OpenAPI lists for the operation,
that the content type and body match what is listed for that code, and that invalid input is refused.

The run is deterministic (derandomised generation) and quick enough for every test run.
``KIPINA_FUZZ_EXAMPLES`` sets the generated requests per operation and generation mode (default 3, and
200 under ``pytest --soak``); ``KIPINA_FUZZ_EXAMPLES=500`` for a longer run. The stateful phase follows the links
Schemathesis infers between operations (an id a response returns, used by the next request). A failing run
leaves Schemathesis' JSON report in the test's tmp_path and prints a curl command reproducing each failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.support.harness import token
from tests.support.infra import reset_database, unique_group
from tests.support.mail import free_port
from tests.support.reliability import Reliability

pytestmark = pytest.mark.integration

QUICK, SOAK = 3, 200  # generated requests per operation and mode: make test, pytest --soak
ROLES: list[str | None] = ["operator", "submitter", "reviewer", "juror", None]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a thread; its lifespan runs on that thread's loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"fuzz-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"{app.title} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@contextlib.contextmanager
def running_service(service: str, infra_env: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    prefix = f"KIPINA_{service.upper()}"
    asyncio.run(reset_database(infra_env[f"{prefix}_DATABASE_URL"]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"{prefix}_CONSUMER_GROUP", unique_group(f"fuzz-{service}"))
        mp.setenv("KIPINA_LOG_LEVEL", "ERROR")
        # Every fuzzed POST /cases comes from one submitter and address: at intake's limits most would be 429
        # and the bodies never reach the rules. The limits are tested in tests/integration/intake/test_throttling.py.
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_SUBMITTER_PER_MINUTE", "0")
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_ADDRESS_PER_MINUTE", "0")
        app: FastAPI = importlib.import_module(f"services.{service}.app").create()
        with serving(app) as base_url:
            yield base_url, app.openapi()


def operations_for(openapi: dict[str, Any], role: str) -> list[str]:
    """The operation ids a token of ``role`` may call, by the OpenAPI's own ``x-roles`` (public ones aside)."""
    return [
        op["operationId"] for path in openapi["paths"].values() for op in path.values() if role in op.get("x-roles", ())
    ]


def schemathesis_command(
    base_url: str, *, role: str | None, operations: list[str], report: Path, examples: int
) -> list[str]:
    """One Schemathesis CLI run over the service's OpenAPI.

    With a role: the operations that role may call, in full (boundary cases and generated requests). Without:
    every operation, one generated request each (all but the public ones refuse whatever the input).
    """
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        "--mode=all",
        "--generation-deterministic",
        "--workers=1",
        "--no-color",
        "--continue-on-failure",
        "--request-timeout=30",
        "--report=json",
        f"--report-json-path={report}",
        *(f"--include-operation-id={op}" for op in operations),
    ]
    if role is None:
        return [*command, "--phases=fuzzing", "--max-examples=1"]
    bearer = token(role, user=f"fuzz-{role}", org="org-fuzz")
    return [
        *command,
        "--phases=coverage,fuzzing,stateful",
        f"--max-examples={examples}",
        "-H",
        f"Authorization: Bearer {bearer}",
    ]


@pytest.mark.parametrize("service", ["intake", "review", "awards", "notify"])
def test_fuzz_finds_nothing(service: str, infra_env: dict[str, str], tmp_path: Path, reliability: Reliability) -> None:
    row = reliability.row("Bad input", f"Schemathesis over {service}'s OpenAPI: each role and no token")
    examples = int(os.environ.get("KIPINA_FUZZ_EXAMPLES") or (SOAK if reliability.soak else QUICK))
    with running_service(service, infra_env) as (base_url, openapi):
        runs: dict[str, subprocess.Popen[str]] = {}
        # The runs are independent (each its own role), so they go side by side.
        for role in ROLES:
            operations = operations_for(openapi, role) if role else []
            if role and not operations:
                continue
            who = f"role {role}" if role else "no token"
            report = tmp_path / f"{role or 'anonymous'}.json"
            command = schemathesis_command(base_url, role=role, operations=operations, report=report, examples=examples)
            runs[who] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
            )
        problems = []
        for who, run in runs.items():
            output, _ = run.communicate(timeout=600)
            if run.returncode != 0:
                head = f"--- {service}, {who}: schemathesis exited {run.returncode} (report in {tmp_path})"
                problems.append(f"{head}\n{_tail(output)}")
        for report in tmp_path.glob("*.json"):
            cases = json.loads(report.read_text("utf-8"))["test_cases"]
            row.fuzz_cases += cases["generated"]
    row.notes = f"{examples} generated per operation and mode, and stateful"
    assert row.fuzz_cases > 0, "no report: schemathesis ran no test case"
    assert not problems, "\n\n".join(problems)


def _tail(output: str, lines: int = 200) -> str:
    return "\n".join(output.splitlines()[-lines:])
