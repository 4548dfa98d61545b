"""A webhook receiver for tests: a minimal HTTP/1.1 server on 127.0.0.1 that records every POST and answers 204."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.mail import free_port


@dataclass
class WebhookReceiver:
    port: int
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self, *, subject: str | None = None) -> list[dict[str, Any]]:
        """The CloudEvents received (bodies parsed), optionally of one case only."""
        bodies = [json.loads(body) for _, body in self.requests]
        return [b for b in bodies if subject is None or b.get("subject") == subject]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=free_port())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            receiver.requests.append((headers, body))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", receiver.port)
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()
