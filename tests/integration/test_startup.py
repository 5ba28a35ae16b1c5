"""Start-up mistakes of the environment, as the shipped command meets them (a separate process): an
unusable data folder, a database that refuses, one that never answers, one that answers late."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest

CLI = [sys.executable, "-m", "bot.cli"]
SECRET = "pw-never-shown-4242"


def env_with(**given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DISCORD_", "CONDUCTOR_E_", "DATABASE_", "LOG_", "ACCESS_LOG"))}
    env.update(given)
    return env


class Started:
    """``conductor-e serve`` as a process, its stderr read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc, self.lines = proc, []

    async def until(self, says: Callable[[str], bool], within: float = 60) -> str:
        assert self.proc.stderr is not None
        async with asyncio.timeout(within):
            while True:
                line = (await self.proc.stderr.readline()).decode()
                assert line, "exited first:\n" + "".join(self.lines)
                self.lines.append(line)
                if says(line):
                    return line

    async def finish(self, within: float = 60) -> tuple[int, str]:
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), within)
        self.lines.append(rest.decode())
        return await self.proc.wait(), "".join(self.lines)


@contextlib.asynccontextmanager
async def started(env: dict[str, str], *args: str) -> AsyncIterator[Started]:
    proc = await asyncio.create_subprocess_exec(*CLI, "serve", "--host", "127.0.0.1", "--port", "0", *args, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        yield Started(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def run(env: dict[str, str]) -> tuple[int, str]:
    async with started(env) as serve:
        return await serve.finish()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_clear_line(output: str) -> str:
    assert "Traceback" not in output, output
    mistakes = [line for line in output.splitlines() if line.startswith("conductor-e: ")]
    assert len(mistakes) == 1, output
    return mistakes[0]


async def test_a_data_folder_that_cannot_be_made_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    code, output = await run(env_with(CONDUCTOR_E_DATA_DIR=str(tmp_path / "a-file" / "data")))
    line = one_clear_line(output)
    assert code == 2 and "the data folder" in line and "a-file/data cannot be used: Not a directory" in line
    assert "CONDUCTOR_E_DATA_DIR" in line


async def test_a_data_folder_without_write_permission_is_one_line_and_exit_2(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root may write anywhere but where the kernel refuses: sysfs
        locked = Path("/sys")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    code, output = await run(env_with(CONDUCTOR_E_DATA_DIR=str(locked / "conductor-e-data")))
    line = one_clear_line(output)
    assert code == 2 and ("Permission denied" in line or "Operation not permitted" in line), line


@pytest.mark.skipif(os.geteuid() != 0, reason="the embedded server changes permissions only when run as root")
async def test_as_root_a_folder_the_server_cannot_enter_is_named_and_left_as_it_was() -> None:
    base = Path(tempfile.mkdtemp(prefix="ce-closed-"))  # 0700, root's
    try:
        code, output = await run(env_with(CONDUCTOR_E_DATA_DIR=str(base / "data")))
        line = one_clear_line(output)
        assert code == 2 and f"cannot enter {base} (drwx------ root)" in line
        assert mode(base) == 0o700  # the wheel would have made it 0755
    finally:
        import shutil

        shutil.rmtree(base)


async def test_a_database_that_never_answers_is_retried_then_one_line_and_exit_3() -> None:
    url = f"postgresql://conductor:{SECRET}@127.0.0.1:{free_port()}/conductor"
    code, output = await run(env_with(DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT_SECONDS="2"))
    line = one_clear_line(output)
    assert code == 3 and "could not be reached within 2 s (DATABASE_CONNECT_TIMEOUT_SECONDS)" in line
    assert "Connection refused" in line or "Connect call failed" in line
    retries = [r for r in output.splitlines() if "cannot be reached yet" in r]
    assert len(retries) >= 2 and all("trying again in" in r for r in retries)
    assert SECRET not in output and "postgresql://conductor@127.0.0.1:" in line  # the DSN without its password


async def test_a_database_that_refuses_is_one_line_and_exit_2_without_waiting(pg_server_dsn: str) -> None:
    parts = urlsplit(pg_server_dsn)
    missing = urlunsplit((parts.scheme, parts.netloc, "/no_such_database", parts.query, parts.fragment))
    code, output = await run(env_with(DATABASE_URL=missing, DATABASE_CONNECT_TIMEOUT_SECONDS="600"))
    line = one_clear_line(output)
    assert code == 2 and "refused" in line and "no_such_database" in line and "cannot be reached" not in output


async def _forward(client: asyncio.StreamReader, to: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await client.read(65536):
            to.write(data)
            await to.drain()
    to.close()


async def test_a_database_that_comes_up_late_is_waited_for(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    """Compose and Kubernetes start the service and its database together: the service waits."""
    parts = urlsplit(pg_server_dsn)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]

    async def open_server() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if socket_dir:
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{parts.port or 5432}")
        return await asyncio.open_connection(parts.hostname, parts.port or 5432)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await open_server()
        await asyncio.gather(_forward(reader, up_writer), _forward(up_reader, writer))

    port = free_port()
    user_info = parts.netloc.rpartition("@")[0] or "postgres"
    late = urlunsplit(("postgresql", f"{user_info}@127.0.0.1:{port}", parts.path, "", ""))
    async with started(env_with(DATABASE_URL=late, DATABASE_CONNECT_TIMEOUT_SECONDS="60")) as serve:
        await serve.until(lambda line: "cannot be reached yet" in line)
        relay_server = await asyncio.start_server(relay, "127.0.0.1", port)  # the database comes up
        try:
            line = await serve.until(lambda line: "listening on" in line)
            url = f"http://127.0.0.1:{line.rsplit(':', 1)[1].strip()}"
            async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as resp:
                assert resp.status == 200
            serve.proc.send_signal(signal.SIGTERM)
            code, output = await serve.finish()
        finally:
            relay_server.close()
    assert code == 0 and "Traceback" not in output


async def test_a_stop_during_the_wait_ends_the_start() -> None:
    url = f"postgresql://conductor@127.0.0.1:{free_port()}/conductor"
    async with started(env_with(DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT_SECONDS="600")) as serve:
        await serve.until(lambda line: "cannot be reached yet" in line)
        serve.proc.send_signal(signal.SIGTERM)
        code, output = await serve.finish(within=20)
    assert code == 0 and "stopped before the start finished" in output and "Traceback" not in output
