"""Webhooks under attack, on the real notify app, Kafka and PostgreSQL: targets no webhook may reach refused at
subscription, a name that turns private before delivery (DNS rebinding) refused at delivery, secrets sealed at
rest, and the documented signature check run against a real delivery.

Names resolve through a resolver the test controls (``Names``), never through the internet's DNS: the names are
under ``.example`` (RFC 2606), which the system resolver never answers, so a delivery that reaches the local
receiver went to the address the test's resolver gave.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.notify.domain import IPAddress
from services.notify.sealing import SecretBox
from services.notify.settings import NotifySettings
from shared.db import apply_migrations
from tests.integration.notify.conftest import notify_service, produce
from tests.integration.notify.test_notify import submitted
from tests.support.harness import auth, eventually
from tests.support.infra import own_database, reset_database
from tests.support.mail import SmtpSink
from tests.support.reliability import Reliability
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[3]
MIGRATIONS = REPO / "services" / "notify" / "migrations"
PEOPLE_DOC = REPO / "docs" / "people.md"
GROUP = "Access control and secrets"
SUBMITTED = "kipina.case.submitted.v1"
PUBLIC = "93.184.216.34"


class Names:
    """A resolver the test controls: name → addresses; a name it does not know does not resolve."""

    def __init__(self, names: dict[str, Sequence[str]]) -> None:
        self.names = dict(names)

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        if host not in self.names:
            raise OSError(f"{host}: name not known")
        return [ipaddress.ip_address(a) for a in self.names[host]]


def subscription(url: str, secret: str = "0123456789abcdef-webhook", types: Sequence[str] = ()) -> dict[str, Any]:
    return {"url": url, "secret": secret, "event_types": list(types)}


# Targets no webhook may reach, in the forms an operator (or an attacker with an operator's token) might write.
REFUSED_TARGETS = [
    "http://127.0.0.1:8080/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://localhost:8004/ops",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://[::1]:8080/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://[fd00::1]/hook",
    "http://[fc00::1]/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata.google.internal./computeMetadata/v1/",
    "http://[fe80::1]/hook",
    "http://169.254.10.20/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",
    "http://100.64.0.1/hook",
    "https://user:password@10.0.0.1/hook",
    # names that resolve to refused addresses (the test's resolver)
    "https://internal.agency.example/hook",
    "https://mixed.agency.example/hook",
    "https://v6.agency.example/hook",
    "https://metadata.agency.example/hook",
    # not http(s) at all
    "ftp://hooks.agency.example/hook",
    "file:///etc/passwd",
    "gopher://hooks.agency.example:70/_",
    "ws://hooks.agency.example/hook",
    "javascript:alert(1)",
]
ACCEPTED_TARGETS = [
    f"https://{PUBLIC}/hook",
    "https://hooks.agency.example/in",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    "https://not-yet.agency.example/in",  # does not resolve yet: checked again at each delivery
]
RESOLVER = {
    "hooks.agency.example": [PUBLIC],
    "internal.agency.example": ["10.0.0.7"],
    "mixed.agency.example": [PUBLIC, "169.254.169.254"],
    "v6.agency.example": ["fd12::7"],
    "metadata.agency.example": ["169.254.169.254"],
}


async def test_targets_no_webhook_may_reach_are_refused_at_subscription(
    infra_env: dict[str, str], reliability: Reliability
) -> None:
    row = reliability.row(GROUP, "webhook targets (loopback, private, link-local, metadata, other schemes) refused")
    operator = auth("operator")
    async with notify_service(infra_env, resolve=Names(RESOLVER), KIPINA_NOTIFY_WEBHOOK_ALLOW_LOOPBACK="false") as c:
        answers = {url: await c.post("/webhooks", json=subscription(url), headers=operator) for url in REFUSED_TARGETS}
        taken = {url: await c.post("/webhooks", json=subscription(url), headers=operator) for url in ACCEPTED_TARGETS}
        stored = (await c.get("/webhooks", headers=operator)).json()
    row.fuzz_cases = len(answers) + len(taken)
    wrongly_taken = [url for url, r in answers.items() if r.status_code != 422]
    row.cases_lost = len(wrongly_taken)  # a target that got through
    row.notes = f"{len(answers)} refused targets, {len(taken)} public ones taken"
    assert not wrongly_taken, {url: answers[url].text for url in wrongly_taken}
    for url, r in answers.items():
        body = r.json()
        assert body["message"] and body["problems"][0]["field"].endswith("url"), (url, body)
        if url.startswith(("http://", "https://")):
            assert body["error"] == "webhook_target_refused", (url, body)
    assert "10.0.0.7 is a private address" in answers["https://internal.agency.example/hook"].json()["message"]
    assert "link-local" in answers["https://mixed.agency.example/hook"].json()["message"]
    assert "metadata" in answers["http://metadata.google.internal/computeMetadata/v1/"].json()["message"]
    assert all(r.status_code == 201 for r in taken.values()), {u: r.text for u, r in taken.items()}
    assert sorted(w["url"] for w in stored["items"]) == sorted(r.json()["url"] for r in taken.values())


async def _settled_webhooks(client: httpx.AsyncClient, case_id: uuid.UUID, count: int) -> list[dict[str, Any]] | None:
    r = await client.get(
        "/deliveries", params={"case_id": str(case_id), "channel": "webhook"}, headers=auth("operator")
    )
    items: list[dict[str, Any]] = r.json()["items"]
    if len(items) < count or any(d["status"] in ("pending", "sending") for d in items):
        return None
    return items


async def test_a_name_that_turns_private_before_delivery_is_refused(
    infra_env: dict[str, str],
    producer: AIOKafkaProducer,
    smtp_sink: SmtpSink,
    webhook_receiver: WebhookReceiver,
    reliability: Reliability,
) -> None:
    row = reliability.row(GROUP, "DNS rebinding: a webhook name that turns private before delivery is refused")
    port = webhook_receiver.port
    # Every name is public (or, for the receiver, loopback, which development allows) when it is subscribed.
    names = Names({f"{n}.agency.example": [PUBLIC] for n in ("metadata", "private", "mixed", "v6mapped")})
    names.names["pinned.agency.example"] = ["127.0.0.1"]
    operator = auth("operator")
    async with notify_service(
        infra_env,
        resolve=names,
        KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port),
        KIPINA_NOTIFY_WEBHOOK_ALLOW_LOOPBACK="true",
    ) as client:
        hooks = {}
        for name in names.names:
            r = await client.post(
                "/webhooks", json=subscription(f"http://{name}:{port}/hook", types=[SUBMITTED]), headers=operator
            )
            assert r.status_code == 201, r.text
            hooks[r.json()["id"]] = name
        # Then the names turn (DNS rebinding): to the metadata service, a private address, a mix, a mapped form.
        turned = {
            "metadata.agency.example": ["169.254.169.254"],
            "private.agency.example": ["10.0.0.5"],
            "mixed.agency.example": [PUBLIC, "fd00:ec2::254"],
            "v6mapped.agency.example": ["::ffff:192.168.0.1"],
        }
        names.names.update(turned)
        row.faults_injected = len(turned)
        case_id = uuid.uuid4()
        await produce(producer, submitted(case_id, submitter_id="sub-rebind"), case_id=case_id)
        row.cases_driven = 1
        settled = await eventually(
            lambda: _settled_webhooks(client, case_id, len(hooks)), what="every webhook delivery to settle"
        )
    outcome = {hooks[d["recipient"]]: d for d in settled}
    arrived = [headers for headers, body in webhook_receiver.requests if str(case_id).encode() in body]
    refused = {name: d for name, d in outcome.items() if name in turned}
    row.cases_lost = int(outcome["pinned.agency.example"]["status"] != "delivered")
    row.duplicates_seen = max(0, len(arrived) - 1)
    row.notes = f"{sum(d['status'] == 'failed' for d in refused.values())} of {len(turned)} rebound names refused"
    for name, delivery in refused.items():
        assert delivery["status"] == "failed" and delivery["attempts"] == 1, (name, delivery)  # never retried
        assert delivery["last_error"].startswith(f"webhook target refused: {name} resolves to "), delivery
    assert "169.254.169.254" in refused["metadata.agency.example"]["last_error"]
    assert "fd00:ec2::254" in refused["mixed.agency.example"]["last_error"]
    assert "192.168.0.1" in refused["v6mapped.agency.example"]["last_error"]
    # The name still allowed was delivered to the address the resolver gave, naming the host it was sent for.
    assert outcome["pinned.agency.example"]["status"] == "delivered"
    assert [h["host"] for h in arrived] == [f"pinned.agency.example:{port}"]


async def test_webhook_secrets_are_sealed_at_rest(
    infra_env: dict[str, str], reliability: Reliability, tmp_path: Path
) -> None:
    row = reliability.row(GROUP, "webhook secrets encrypted at rest (and sealed by the upgrade)")
    secrets = [f"agency-secret-{uuid.uuid4().hex}" for _ in range(3)]
    async with notify_service(infra_env, resolve=Names(RESOLVER)) as client:
        for secret in secrets:
            r = await client.post(
                "/webhooks", json=subscription("https://hooks.agency.example/in", secret), headers=auth("operator")
            )
            assert r.status_code == 201 and secret not in r.text
    row.cases_driven = len(secrets)
    conn = await asyncpg.connect(infra_env["KIPINA_NOTIFY_DATABASE_URL"])
    try:
        # Every row of every table of notify's database, as text: no secret in clear anywhere.
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        everything = "".join(
            [
                await conn.fetchval(f"SELECT coalesce(string_agg(t::text, ''), '') FROM \"{t['tablename']}\" t") or ""
                for t in tables
            ]
        )
        sealed = [r["sealed_secret"] for r in await conn.fetch("SELECT sealed_secret FROM webhook_subscriptions")]
    finally:
        await conn.close()
    leaked = [s for s in secrets if s in everything]
    row.cases_lost = len(leaked)
    assert not leaked
    box = NotifySettings().secret_box()
    assert sorted(box.open(s) for s in sealed) == sorted(secrets)  # sealed, not lost: the worker opens them

    # A database from before the sealing (0102) with a secret in clear: the upgrade seals it and drops the clear.
    url = await own_database(infra_env, "notify", "test_notify_upgrade")
    await reset_database(url)
    before = tmp_path / "migrations"
    before.mkdir()
    for name in ("0100.notify.sql", "0101.delivery-trace.sql", "0102.people.sql"):
        shutil.copy(MIGRATIONS / name, before)
    await apply_migrations(url, before)
    old_secret = f"stored-in-clear-{uuid.uuid4().hex}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO webhook_subscriptions (id, url, secret, created_by) "
            "VALUES ($1, 'https://a.example/', $2, 'op')",
            uuid.uuid4(),
            old_secret,
        )
        assert "0103.webhook-secrets-sealed" in await apply_migrations(url, MIGRATIONS)
        columns = {
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'webhook_subscriptions'"
            )
        }
        upgraded = await conn.fetchval("SELECT sealed_secret FROM webhook_subscriptions")
        raw = await conn.fetchval("SELECT string_agg(w::text, '') FROM webhook_subscriptions w")
    finally:
        await conn.close()
    row.cases_driven += 1
    assert "secret" not in columns and old_secret not in raw
    assert SecretBox.from_setting(NotifySettings().webhook_secret_keys.get_secret_value()).open(upgraded) == old_secret


def _doc_block(name: str) -> str:
    """The fenced code between the ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers of docs/people.md."""
    text = PEOPLE_DOC.read_text()
    found = re.search(rf"<!-- {name}:begin -->\n```\w+\n(.*?)```\n<!-- {name}:end -->", text, re.DOTALL)
    assert found, f"docs/people.md has no {name} block"
    return found.group(1)


async def test_the_documented_signature_check_accepts_a_real_delivery(
    infra_env: dict[str, str],
    producer: AIOKafkaProducer,
    smtp_sink: SmtpSink,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    secret = f"receiver-secret-{uuid.uuid4().hex[:12]}"
    async with notify_service(infra_env, KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port)) as client:
        r = await client.post(
            "/webhooks", json=subscription(webhook_receiver.url, secret, [SUBMITTED]), headers=auth("operator")
        )
        assert r.status_code == 201, r.text
        case_id = uuid.uuid4()
        await produce(producer, submitted(case_id, submitter_id="sub-signature"), case_id=case_id)
        await eventually(lambda: _settled_webhooks(client, case_id, 1), what="the webhook delivery")

    [(headers, body)] = [(h, b) for h, b in webhook_receiver.requests if str(case_id).encode() in b]
    signature = headers["x-kipina-signature"]
    # The Python recipe, exactly as the doc shows it.
    recipe: dict[str, Any] = {}
    exec(compile(_doc_block("webhook-signature-python"), str(PEOPLE_DOC), "exec"), recipe)
    check = recipe["signature_is_valid"]
    assert check(body, signature, secret)
    assert not check(body.replace(b"sub-signature", b"sub-forged"), signature, secret)
    assert not check(body, signature, secret + "x")
    # The openssl one-liner, exactly as the doc shows it, prints the header's value.
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the one-liner was not run")
    (tmp_path / "body.json").write_bytes(body)
    printed = subprocess.run(
        ["bash", "-c", _doc_block("webhook-signature-openssl")],
        cwd=tmp_path,
        env={"SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == signature
