"""The logs' safety net for personal data and secrets (shared/logging.py ``redact``), on Kipinä's own loggers
and on the libraries' (stdlib logging), as rendered."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.logging import configure_logging, get_logger, redact

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhaW5vIn0.c2lnbmF0dXJl-_x"


def test_secret_fields_are_blanked_and_addresses_tokens_and_passwords_replaced() -> None:
    event = redact(
        None,
        "error",
        {
            "event": "delivery failed for good",
            "error": "SMTPRecipientsRefused: {'aino.aalto@example.org': (550, b'5.1.1 unknown')}",
            "password": "hunter2",
            "Authorization": f"Bearer {TOKEN}",
            "dsn": "postgresql://notify:notify-dev@127.0.0.1:15432/notify",
            "exception": f"Traceback ...\nValueError: bad token {TOKEN}",
            "nested": {"secret": "s", "to": ["bjorn@example.fi"]},
            "attempts": 5,
        },
    )
    assert event == {
        "event": "delivery failed for good",
        "error": "SMTPRecipientsRefused: {'[email]': (550, b'5.1.1 unknown')}",
        "password": "[redacted]",
        "Authorization": "[redacted]",
        "dsn": "postgresql://notify:[redacted]@127.0.0.1:15432/notify",
        "exception": "Traceback ...\nValueError: bad token [token]",
        "nested": {"secret": "[redacted]", "to": ["[email]"]},
        "attempts": 5,
    }


def test_both_kinds_of_logger_are_redacted_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        configure_logging("test", level="INFO")
        get_logger("kipina").info("told", to="aino@example.org", token=TOKEN)
        logging.getLogger("a.library").error("connect to postgresql://u:pw@db/x failed for aino@example.org")
        try:
            raise ValueError(f"rejected {TOKEN}")
        except ValueError:
            get_logger("kipina").exception("failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    assert "aino@example.org" not in out and TOKEN not in out and "pw@" not in out
    assert lines[0]["to"] == "[email]" and lines[0]["token"] == "[redacted]"
    assert lines[1]["event"] == "connect to postgresql://u:[redacted]@db/x failed for [email]"
    assert "rejected [token]" in lines[2]["exception"]
