"""A development SMTP sink (aiosmtpd): accepts every message and stores it as an .eml file.

    python -m deploy.mailsink --port 1025 --dir .kipina/mail

Used by ``make up`` so that the notify service has a real SMTP server to talk to
on a developer's machine; each message is also logged as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from shared import registry


class StoreMessages:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.directory / name).write_bytes(envelope.original_content or envelope.content)
        print(json.dumps({"event": "mail stored", "to": envelope.rcpt_tos, "file": name}), flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=registry.MAIL_SINK_PORT)
    parser.add_argument("--dir", type=Path, default=Path(".kipina/mail"))
    args = parser.parse_args()
    controller = Controller(StoreMessages(args.dir), hostname=registry.HOST, port=args.port)
    controller.start()
    print(json.dumps({"event": "mail sink listening", "port": args.port, "dir": str(args.dir)}), flush=True)
    stop = asyncio.Event()

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
