"""An SMTP sink for tests: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _SinkHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls this name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@dataclass
class SmtpSink:
    port: int
    handler: _SinkHandler

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def for_case(self, case_id: uuid.UUID | str) -> list[EmailMessage]:
        return [m for m in self.handler.messages if m["X-Kipina-Case-Id"] == str(case_id)]


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    handler = _SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSink(port=port, handler=handler)
    finally:
        controller.stop()
