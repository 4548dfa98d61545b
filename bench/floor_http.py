"""The HTTP floor: ``POST /cases`` as a bare ASGI callable under uvicorn, doing what intake's endpoint must do.

    .venv/bin/python -m bench.floor_http --requests 2000 --concurrency 16

What the machine can do for a case submission without the framework, so that intake's ``POST /cases`` can be
read as a ratio to it (docs/PERFORMANCE.md). Per request, as intake does:

* authenticate the bearer token (pyjwt, the same HS256 secret, audience, issuer and required claims as
  shared/auth.py) and require the submitter role;
* validate the body with intake's own request schema (``services.intake.schemas.CaseIn``, pydantic) and the
  organisation rule (the body may name no organisation but the token's);
* in one transaction: read the call (and refuse a closed one, or a category or language it does not take),
  insert the case (the unique title index refuses a near-identical title) with its status history row and its
  timeline entry (one statement), and the CaseSubmittedV1 outbox row; copies of services/intake/repository.py's
  statements;
* answer 201 with the case and its timeline as JSON.

What it leaves out is what intake does beyond that minimum: the look-ups that word a refusal, the middleware
(request ids, tracing, metrics, body limit beyond a length check) and FastAPI's routing and response models. It
runs with uvicorn as the services do (shared/service.py ``run``: the same arguments, so the same event loop and
HTTP parser), on a database of its own made by intake's migrations (the outbox's NOTIFY trigger dropped: nothing
relays here).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from pydantic import ValidationError

from bench.analysis import poisson_schedule
from bench.floor_events import OUTBOX_INSERT, SUBMITTED, iso
from bench.load import case_bytes, drive, drive_open
from bench.measure import CpuMeter, per_case_ms, process_cpu_s, report
from services.intake import repository as intake_repository
from services.intake.domain import title_key
from services.intake.schemas import CaseIn
from shared.auth import ALGORITHM, AUDIENCE, REQUIRED_CLAIMS
from shared.db import PooledConnection
from shared.settings import DEV_JWT_SECRET

REPO = Path(__file__).resolve().parents[1]
DATABASE = "bench_floor_http"
DSN_ENV = "BENCH_FLOOR_HTTP_DSN"
HOST = "127.0.0.1"
MAX_REQUEST_BYTES = 1_000_000  # shared/settings.py max_request_bytes
INTAKE_TOPIC = "kipina.intake.v1"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# services/intake/repository.py get_call (the columns the submission needs, a copy) and INSERT_CASE (the case, its
# status history row and its timeline entry in one statement; returning only the timestamps); the outbox statement
# is the event floor's copy.
SELECT_CALL = """
    SELECT title, opens_at, closes_at, categories, languages, reviewers_per_iteration FROM calls WHERE id = $1
"""
INSERT_CASE = intake_repository.INSERT_CASE  # the very statement, as intake's comment says


class Refused(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps({"error": error, "message": message}).encode()


class FloorApp:
    """The ASGI callable: ``POST /cases`` and a readiness probe, nothing else."""

    def __init__(self, dsn: str, secret: str) -> None:
        self._dsn = dsn
        self._secret = secret
        self._pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "POST" and scope["path"] == "/cases":
            try:
                status, body = 201, await self._submit(scope, receive)
            except Refused as refused:
                status, body = refused.status, refused.body
        elif scope["path"] == "/health/ready":
            status, body = 200, b'{"status":"ready"}'
        else:
            status, body = 404, b'{"error":"not_found"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # shared/settings.py db_pool_min / db_pool_max, and shared/db.py's connections (no session reset
                # query on release), as the services' pool
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=10, connection_class=PooledConnection
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    await self._pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _principal(self, scope: Scope) -> dict[str, Any]:
        authorization = dict(scope["headers"]).get(b"authorization", b"")
        if not authorization.startswith(b"Bearer "):
            raise Refused(401, "unauthorized", "a bearer token is needed")
        try:
            claims: dict[str, Any] = jwt.decode(
                authorization[7:].decode(),
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer="kipina",
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Refused(401, "unauthorized", str(exc)) from exc
        if "submitter" not in claims["roles"]:
            raise Refused(403, "forbidden", "only a submitter files a case")
        if not claims.get("email"):
            raise Refused(422, "submitter_email_missing", "the token carries no email address")
        return claims

    async def _submit(self, scope: Scope, receive: Receive) -> bytes:
        claims = self._principal(scope)
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_REQUEST_BYTES:
                raise Refused(413, "too_large", "the body is too large")
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            case_in = CaseIn.model_validate_json(raw)
        except ValidationError as exc:
            raise Refused(422, "invalid", exc.json()) from exc
        organisation = case_in.organisation.organisation(token_id=claims["org"])
        if organisation.id != claims["org"]:
            raise Refused(422, "organisation_not_yours", "a case is filed for the token's organisation")
        body = case_in.model_dump(mode="json")
        case_id = uuid.uuid4()
        assert self._pool is not None
        async with self._pool.acquire() as conn, conn.transaction():
            call = await conn.fetchrow(SELECT_CALL, case_in.call_id)
            if call is None:
                raise Refused(422, "unknown_call", f"call {case_in.call_id} does not exist")
            now = datetime.now(UTC)
            if not call["opens_at"] <= now < call["closes_at"]:
                raise Refused(409, "call_closed", "the call does not take submissions now")
            if body["category"] not in call["categories"] or body["language"] not in call["languages"]:
                raise Refused(422, "not_in_call", "the call does not take this category or language")
            snapshot = {
                "case_id": str(case_id),
                "call_id": str(case_in.call_id),
                "call_title": call["title"],
                "revision": 1,
                "reviewers_per_iteration": call["reviewers_per_iteration"],
                "title": body["title"],
                "summary": body["summary"],
                "problem": body["problem"],
                "solution": body["solution"],
                "organisation": organisation.model_dump(mode="json"),
                "submitter_id": claims["sub"],
                "submitter": {"name": claims.get("name") or claims["sub"], "email": claims["email"]}
                | {"language": claims.get("lang", "en"), "role": None},
                "team": body["team"],
                "partners": body["partners"],
                "category": body["category"],
                "language": body["language"],
                "oecd_principles": body["oecd_principles"],
                "iso_stage": body["iso_stage"],
                "drivers": body["drivers"],
                "obstacles": body["obstacles"],
            }
            content = json.dumps(snapshot)
            summary = f"Submitted to {call['title']!r}"
            stored = await conn.fetchrow(
                INSERT_CASE,
                case_id,
                case_in.call_id,
                claims["sub"],
                organisation.id,
                title_key(body["title"]),
                content,
                1,
                "submitted",
                body["iso_stage"],
                0,
                None,
                hashlib.sha256(raw).hexdigest(),
                "submitted",
                summary,
                None,
                '{"revision": 1}',
            )
            if stored is None:  # the title index refused it (intake then looks the other case up)
                raise Refused(409, "duplicate_case", "a case with a near-identical title is in the call")
            event_id = uuid.uuid4()
            envelope = {
                "specversion": "1.0",
                "id": str(event_id),
                "source": "/kipina/intake",
                "type": SUBMITTED,
                "subject": str(case_id),
                "time": iso(now),
                "datacontenttype": "application/json",
                "dataschema": f"urn:kipina:schema:{SUBMITTED}",
                "correlationid": str(uuid.uuid4()),
                "data": {"case": snapshot},
            }
            await conn.execute(
                OUTBOX_INSERT,
                event_id,
                SUBMITTED,
                INTAKE_TOPIC,
                str(case_id),
                json.dumps(envelope, separators=(",", ":")).encode(),
                None,
                None,
            )
        created, updated = iso(stored["created_at"]), iso(stored["updated_at"])
        answer = snapshot | {
            "id": snapshot["case_id"],
            "status": "submitted",
            "stage": body["iso_stage"],
            "iteration": 0,
            "outcome": None,
            "feedback": None,
            "created_at": created,
            "updated_at": updated,
            "timeline": [
                {"at": created, "kind": "submitted", "summary": summary, "iteration": None, "details": {"revision": 1}}
            ],
        }
        return json.dumps(answer).encode()


def create_app() -> FloorApp:
    """uvicorn's factory: the database from the environment, the token secret as the services take it."""
    return FloorApp(os.environ[DSN_ENV], os.environ.get("KIPINA_JWT_SECRET", DEV_JWT_SECRET))


def serve(port: int) -> None:
    import uvicorn

    # shared/service.py run(): the same arguments, so the same loop, HTTP parser and single worker.
    uvicorn.run("bench.floor_http:create_app", factory=True, host=HOST, port=port, log_config=None, access_log=False)


# --------------------------------------------------------------------------- the driver


def start_server(dsn: str, port: int) -> subprocess.Popen[bytes]:
    """The floor's server process (its own session, so ``deploy.stack.stop_process`` stops it)."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.floor_http", "serve", "--port", str(port)],
        cwd=REPO,
        env=dict(os.environ, **{DSN_ENV: dsn}),
        start_new_session=True,
    )


async def prepare() -> tuple[str, str]:
    """The floor's database (emptied, intake's migrations, no NOTIFY trigger) with one open call; its URL and
    the call's id."""
    from services import intake
    from shared.db import apply_migrations
    from tests.support.infra import ensure_infra, own_database, reset_database

    env = await asyncio.to_thread(ensure_infra)
    url = await own_database(env, "intake", DATABASE)
    await reset_database(url)
    await apply_migrations(url, Path(str(intake.__file__)).parent / "migrations")
    call_id = uuid.uuid4()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TRIGGER outbox_inserted ON outbox")
        await conn.execute(
            """
            INSERT INTO calls (id, title, opens_at, closes_at, categories, languages, criteria, created_by)
            VALUES ($1, 'HTTP floor call', now() - interval '1 hour', now() + interval '1 day', $2, $3, '[]'::jsonb,
                    'bench')
            """,
            call_id,
            ["public_sector"],
            ["en"],
        )
    finally:
        await conn.close()
    return url, str(call_id)


async def facts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {
            "cases": await conn.fetchval("SELECT count(*) FROM cases"),
            "status_history": await conn.fetchval("SELECT count(*) FROM case_status_history"),
            "timeline": await conn.fetchval("SELECT count(*) FROM case_timeline"),
            "outbox_rows": await conn.fetchval("SELECT count(*) FROM outbox"),
        }
    finally:
        await conn.close()


async def run(requests: int, *, concurrency: int = 16, port: int = 18190, rate: float | None = None) -> dict[str, Any]:
    """One run of the HTTP floor; its figures, and the rows it left (one of each per request). Closed loop at
    ``concurrency`` connections, or open loop at ``rate`` Poisson arrivals per second when given."""
    from deploy.stack import stop_process, wait_ready
    from tests.support.harness import auth

    url, call_id = await prepare()
    server = start_server(url, port)
    base = f"http://{HOST}:{port}"
    try:
        await asyncio.to_thread(wait_ready, base, timeout=60, process=server)
        headers = auth("submitter", user="bench-sub", org="org-bench", email="bench@example.org")
        meter = CpuMeter({"floor_http": server.pid})
        driver_before = process_cpu_s(os.getpid())
        meter.start()
        if rate:
            schedule = poisson_schedule(rate, requests, random.Random())
            result = await drive_open(f"{base}/cases", schedule=schedule, body_for=case_bytes(call_id), headers=headers)
        else:
            result = await drive(
                f"{base}/cases",
                requests=requests,
                concurrency=concurrency,
                body_for=case_bytes(call_id),
                headers=headers,
            )
        cpu = meter.stop()
        driver_cpu = process_cpu_s(os.getpid()) - driver_before
    finally:
        stop_process(server.pid)
    rows = await facts(url)
    return {
        "floor": "http",
        "arrivals": f"open loop, Poisson, {rate:g}/s" if rate else f"closed loop, {concurrency} connections",
        "concurrency": concurrency,
        **result.figures(),
        "cpu_s": cpu,
        "cpu_ms_per_request": per_case_ms(cpu["total"], requests),
        "driver_cpu_s": round(driver_cpu, 3),
        "facts": rows,
        "each_once": rows == {k: requests for k in rows} and result.statuses == {201: requests},
        # What uvicorn's "auto" picks, as for the services.
        "server": {
            "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serving = sub.add_parser("serve", help="(internal) the server process")
    serving.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=18190)
    parser.add_argument("--out", type=Path, help="also write the figures (JSON) here")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port)
        return
    figures = asyncio.run(run(args.requests, concurrency=args.concurrency, port=args.port))
    report(figures, args.out)


if __name__ == "__main__":
    main()
