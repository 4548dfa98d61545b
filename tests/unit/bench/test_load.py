"""The load driver's HTTP/1.1: the request it writes and the answers it reads."""

from __future__ import annotations

import asyncio

import pytest

from bench.load import ProtocolError, case_body, read_response, request_bytes


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_request_has_its_length_and_headers() -> None:
    raw = request_bytes(
        "POST", "127.0.0.1:8001", "/cases", {"Authorization": "Bearer t"}, b'{"a":1}', content_type="application/json"
    )
    head, body = raw.split(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /cases HTTP/1.1",
        b"Host: 127.0.0.1:8001",
        b"Content-Type: application/json",
        b"Authorization: Bearer t",
        b"Content-Length: 7",
    ]
    assert body == b'{"a":1}'


async def test_reads_a_response_by_its_length_and_keeps_the_connection() -> None:
    reader = _reader(
        b'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"id":1}\n'
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    )
    assert await read_response(reader) == (201, b'{"id":1}\n', True)
    assert await read_response(reader) == (200, b"", True)


async def test_reads_a_chunked_response_and_a_closing_one() -> None:
    reader = _reader(
        b"HTTP/1.1 422 Unprocessable Entity\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n"
    )
    assert await read_response(reader) == (422, b"abcdefg", False)


async def test_refuses_a_response_it_cannot_delimit() -> None:
    with pytest.raises(ProtocolError):
        await read_response(_reader(b"HTTP/1.0 200 OK\r\n\r\nbody until close"))


def test_case_bodies_differ_in_title_only() -> None:
    first, second = case_body("c", 1), case_body("c", 1)
    assert first["title"] != second["title"]
    assert {k: v for k, v in first.items() if k != "title"} == {k: v for k, v in second.items() if k != "title"}
