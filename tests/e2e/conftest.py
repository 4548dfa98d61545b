"""The four services as separate processes against the real broker and databases, plus an SMTP sink."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from deploy.stack import SERVICES, service_env, start_service, stop_process, wait_ready
from tests.support import webhooks
from tests.support.infra import database_env_name, own_database, reset_database, unique_group
from tests.support.webhooks import WebhookReceiver

OPERATOR_EMAIL = "operator@kipina.example"  # the operators notify tells (of escalations and award decisions)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message in memory."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture(scope="package")
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A local endpoint for notify's webhook POSTs (an agency's system, as far as Kipinä can tell)."""
    async with webhooks.webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


async def e2e_database(env: dict[str, str], service: str) -> str:
    """A fresh database of the e2e run's own, owned by the service's role."""
    url = await own_database(env, service, f"e2e_{service}")
    await reset_database(url)
    return url


@dataclass
class Stack:
    urls: dict[str, str]
    mailbox: Mailbox
    logs: dict[str, Path]
    groups: dict[str, str] = field(default_factory=dict)  # each service's consumer group
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log(self, service: str) -> str:
        return self.logs[service].read_text(errors="replace")


# One stack for the e2e package, stopped after it: later tests must not share the broker with it.
@pytest.fixture(scope="package")
async def stack(
    infra_env: dict[str, str], smtp_sink: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    mailbox, smtp_port = smtp_sink
    base = dict(infra_env)
    for spec in SERVICES:
        base[database_env_name(spec.name)] = await e2e_database(infra_env, spec.name)
        base[f"{spec.env_prefix}CONSUMER_GROUP"] = unique_group(f"e2e-{spec.name}")
        base[f"{spec.env_prefix}PORT"] = str(free_port())
    base["KIPINA_NOTIFY_SMTP_HOST"] = "127.0.0.1"
    base["KIPINA_NOTIFY_SMTP_PORT"] = str(smtp_port)
    base["KIPINA_NOTIFY_DELIVERY_POLL_S"] = "0.2"
    base["KIPINA_NOTIFY_OPERATOR_EMAILS"] = OPERATOR_EMAIL
    base["KIPINA_NOTIFY_WEBHOOK_ALLOW_LOOPBACK"] = "true"  # the webhook receiver runs on 127.0.0.1
    # Reminders as soon as there is something to remind of (a reminder window as long as the lease, or the
    # scoring period): each claim of a task, and each assignment, brings exactly one reminder, which a test
    # can wait for before it acts (tests/e2e/test_people_journey.py). The SLA stays days away: no SLA reminder.
    base["KIPINA_REVIEW_LEASE_REMINDER_MINUTES"] = "30"
    base["KIPINA_REVIEW_LEASE_MINUTES"] = "30"
    base["KIPINA_REVIEW_REMINDER_INTERVAL_S"] = "0.5"
    base["KIPINA_AWARDS_SCORING_PERIOD_DAYS"] = "14"
    base["KIPINA_AWARDS_SCORING_REMINDER_DAYS"] = "14"
    base["KIPINA_AWARDS_SCORING_REMINDER_INTERVAL_S"] = "0.5"
    env = service_env(base)
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    stack = Stack(
        urls={s.name: f"http://127.0.0.1:{env[f'{s.env_prefix}PORT']}" for s in SERVICES},
        mailbox=mailbox,
        logs={s.name: log_dir / f"{s.name}.log" for s in SERVICES},
        groups={s.name: env[f"{s.env_prefix}CONSUMER_GROUP"] for s in SERVICES},
    )
    try:
        for spec in SERVICES:
            stack.processes[spec.name] = start_service(spec.name, env=env, log_path=stack.logs[spec.name])
        for spec in SERVICES:
            try:
                await asyncio.to_thread(
                    wait_ready, stack.urls[spec.name], timeout=120, process=stack.processes[spec.name]
                )
            except (RuntimeError, TimeoutError) as exc:
                raise AssertionError(f"{spec.name} did not start: {exc}\n{stack.log(spec.name)[-4000:]}") from exc
        yield stack
    finally:
        for process in stack.processes.values():
            stop_process(process.pid)
        if os.environ.get("KIPINA_E2E_SHOW_LOGS"):
            for spec in SERVICES:
                print(f"===== {spec.name} =====\n{stack.log(spec.name)[-5000:]}")
