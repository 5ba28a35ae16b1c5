"""Bodies: gzip bombs cannot stall anyone, slow or broken bodies are answered, slow headers closed."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import FakeClock

LIMIT = 256 * 1024
TIMEOUT = 1.0
EVENT = json.dumps({"type": "HEARTBEAT", "agentId": "dev-e-1"}).encode()


def bomb(inflated: int) -> bytes:
    """A gzip stream of ``inflated`` zero bytes (about a thousandth of that, compressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(inflated >> 20)]
    return b"".join(parts) + packer.flush()


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    made = bomb(1 << 30)
    assert len(made) < 1_100_000
    return made


@pytest.fixture
async def served(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             max_body_bytes=LIMIT, http_timeout=TIMEOUT))
    async with TestClient(TestServer(app)) as client:
        yield client


async def exchange(client: TestClient, raw: bytes, wait: float = 10) -> bytes:
    """Send ``raw`` and return the answer: its head and its Content-Length of body (aiohttp may
    keep the connection open a while after it, to drain an unread body), or b"" if the server
    closed the connection without one."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(wait):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            return head + await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    finally:
        writer.close()


def post(body: bytes, *headers: bytes) -> bytes:
    return (b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"".join(
        h + b"\r\n" for h in headers) + b"\r\n" + body)


async def test_gzip_bombs_are_413_and_never_stall_other_clients(served: TestClient, db: asyncpg.Pool,
                                                               gigabyte_bomb: bytes) -> None:
    small_bomb = bomb(64 << 20)  # under the limit compressed, 64 MiB inflated
    assert len(small_bomb) < LIMIT

    async def send(payload: bytes) -> tuple[int, dict]:
        resp = await served.post("/api/events", data=payload,
                                 headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
        return resp.status, await resp.json()

    async def health_times() -> list[float]:
        times = []
        for _ in range(20):
            started = time.monotonic()
            assert (await served.get("/health")).status == 200
            times.append(time.monotonic() - started)
            await asyncio.sleep(0.01)
        return times

    results = await asyncio.gather(health_times(), *(send(gigabyte_bomb) for _ in range(4)),
                                   *(send(small_bomb) for _ in range(4)))
    times, answers = results[0], results[1:]
    assert max(times) < 0.5, times
    for status, body in answers:
        assert status == 413 and body["error"] == "body_too_large", (status, body)
    assert any("once inflated" in body["message"] for _, body in answers)
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 0
    ok = await served.post("/api/events", data=gzip.compress(EVENT), headers={"Content-Encoding": "gzip"})
    assert ok.status == 201


async def test_deflate_zlib_or_raw_and_unknown_encodings(served: TestClient) -> None:
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    for data in (zlib.compress(EVENT), raw_deflate.compress(EVENT) + raw_deflate.flush()):
        assert (await served.post("/api/events", data=data, headers={"Content-Encoding": "deflate"})).status == 201
    resp = await served.post("/api/events", data=EVENT, headers={"Content-Encoding": "br"})
    assert resp.status == 415 and (await resp.json())["error"] == "unsupported_encoding"
    cut = gzip.compress(EVENT)[:-12]
    resp = await served.post("/api/events", data=cut, headers={"Content-Encoding": "gzip"})
    assert resp.status == 400 and (await resp.json())["error"] == "malformed_body"


async def test_a_slow_or_unfinished_body_is_408(served: TestClient, db: asyncpg.Pool) -> None:
    started = time.monotonic()
    answer = await exchange(served, post(EVENT[:10], b"Content-Length: %d" % len(EVENT)))
    assert b" 408 " in answer.split(b"\r\n")[0] and b"request_timeout" in answer
    chunked = post(b"%x\r\n%s\r\n0\r\n" % (len(EVENT), EVENT), b"Transfer-Encoding: chunked")  # no final CRLF
    answer = await exchange(served, chunked)
    assert b" 408 " in answer.split(b"\r\n")[0]
    assert time.monotonic() - started < 2 * TIMEOUT + 2
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 0


async def test_broken_chunked_encoding_is_400(served: TestClient) -> None:
    for body in (b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"5\r\nhello\r\n0\r\nX\r\n\r\n"):
        answer = await exchange(served, post(body, b"Transfer-Encoding: chunked"))
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer[:100]


async def test_slow_headers_are_closed(served: TestClient) -> None:
    started = time.monotonic()
    answer = await exchange(served, b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Ty")
    assert answer == b"" and time.monotonic() - started < TIMEOUT + 2  # closed by the server
