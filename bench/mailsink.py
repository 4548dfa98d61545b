"""A real SMTP server for the benchmark's notify: every delivery is accepted at once, so notify's CPU and
requests are those of delivering, not of failing and retrying against a closed port.

aiosmtpd as the tests' sink (tests/support/mail.py), but it keeps only three headers of each message (to,
template, case) rather than the parsed message: a soak delivers tens of thousands. It runs on its own thread
(aiosmtpd's Controller), in the driver's process: its CPU is the driver's, not counted against Kipinä.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.mail import free_port


@dataclass(frozen=True)
class Received:
    """What the benchmark reads of one message: its recipient, notify's template, the case it concerns and notify's
    delivery (the same delivery sent twice has one id; two deliveries of one message, two)."""

    to: str
    template: str
    case_id: str
    delivery_id: str = ""


class _Handler:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls this name
        headers = self._parser.parsebytes(envelope.original_content or envelope.content)
        found = Received(
            to=str(headers.get("To", "")),
            template=str(headers.get("X-Kipina-Template", "")),
            case_id=str(headers.get("X-Kipina-Case-Id", "")),
            delivery_id=str(headers.get("X-Kipina-Delivery-Id", "")),
        )
        with self._lock:
            self.received.append(found)
        return "250 OK"


class MailSink:
    """An SMTP sink on 127.0.0.1 (``port``), started and stopped by its owner."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    def start(self) -> MailSink:
        """Listen (again, after ``stop``: a fault test takes the server away for a while) on the same port; what
        was received before is kept."""
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)  # one start each
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        return list(self._handler.received)

    def count(self) -> int:
        return len(self._handler.received)

    def templates_to(self, address: str) -> Counter[str]:
        """How many messages of each template went to ``address``."""
        return Counter(r.template for r in self.received if address in r.to)
