"""Embedded mode as the shipped command runs it: it says where its data, its log and psql are,
survives its own kill -9, and leaves no PostgreSQL behind after the next clean stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .test_startup import env_with, mode, started


def servers_of(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL processes (server and children) working on ``pgdata``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(process)
    return found


@pytest.fixture
def home() -> Iterator[Path]:
    # Traversable but not listable by others: as root the server's user must enter it, and the wheel
    # would have made it 0755 (we keep it as it is).
    folder = Path(tempfile.mkdtemp(prefix="ce-embedded-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        for process in servers_of(folder / "data" / "pgdata"):  # only if the test failed
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


async def test_kill_9_then_a_clean_stop_leaves_no_postgres(home: Path) -> None:
    pgdata = home / "data" / "pgdata"
    env = env_with(CONDUCTOR_E_DATA_DIR=str(home / "data"))
    async with started(env) as first:
        await first.until(lambda line: "listening on" in line)
        said = "".join(first.lines)
        first.proc.kill()  # SIGKILL: no clean-up of any kind
        await first.proc.wait()
    assert f"data in {pgdata}, its log in {pgdata / 'log'}" in said
    assert "connect to the embedded PostgreSQL with: " in said and "/psql " in said
    orphans = servers_of(pgdata)
    assert orphans, "the server outlives a killed service (it runs in a session of its own)"
    if os.geteuid() == 0:
        assert mode(home) == 0o711  # not loosened
        assert mode(home / "data") == 0o700

    async with started(env) as second:
        await second.until(lambda line: "listening on" in line)
        second.proc.send_signal(signal.SIGTERM)
        code, output = await second.finish()
    assert code == 0 and "Traceback" not in output
    _, alive = await asyncio.to_thread(psutil.wait_procs, servers_of(pgdata), timeout=10)  # children exit last
    assert alive == [] and servers_of(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()
    assert "ended without stopping the server" in output  # why: the killed one's handle was forgotten
