"""The shipped command, as a separate process: serve (API-only) and rebuild-projections."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg

CLI = [sys.executable, "-m", "bot.cli"]


def env_for(dsn: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CONDUCTOR_E_"))}
    env["DATABASE_URL"] = dsn
    env.update(extra)
    return env


@asynccontextmanager
async def serving(env: dict[str, str], output: list[str]) -> AsyncIterator[str]:
    """``conductor-e serve`` on a free port: yields its base URL; ``output`` gets all it printed."""
    proc = await asyncio.create_subprocess_exec(*CLI, "serve", "--host", "127.0.0.1", "--port", "0",
                                                env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while not any("listening on" in line for line in output):
                line = (await proc.stderr.readline()).decode()
                assert line, "the service exited before listening:\n" + "".join(output)
                output.append(line)
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", "".join(output)).group(1))  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        output.append((await asyncio.wait_for(proc.stderr.read(), 30)).decode())
        assert await proc.wait() == 0


async def test_serve_api_only_says_so_once_and_stops_on_sigterm(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    lines: list[str] = []
    async with serving(env_for(pg_server_dsn), lines) as url, aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/events", json={"type": "HEARTBEAT", "agentId": "dev-e-1"}) as resp:
            assert resp.status == 201
        async with http.get(f"{url}/health") as resp:
            assert resp.status == 200
    output = "".join(lines)
    assert output.count("running API-only") == 1
    assert output.count("the API is open to anyone who can reach it") == 1
    assert "Traceback" not in output


async def test_serve_in_tokens_mode_from_mounted_secret_files(pg_server_dsn: str, db: asyncpg.Pool,
                                                             tmp_path: Path) -> None:
    agent_token, operator_token = "agent-secret-" + "1" * 20, "operator-secret-" + "2" * 20
    (tmp_path / "agents").write_text(f"dev-e-1={agent_token}\n")
    (tmp_path / "operators").write_text(f"carol={operator_token}\n")
    env = env_for(pg_server_dsn, CONDUCTOR_E_AGENT_TOKENS_FILE=str(tmp_path / "agents"),
                  CONDUCTOR_E_OPERATOR_TOKENS_FILE=str(tmp_path / "operators"))
    lines: list[str] = []
    heartbeat = {"type": "HEARTBEAT", "agentId": "dev-e-1/abc12"}
    async with serving(env, lines) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/health") as resp:  # open to probes, without the parts' details
            assert resp.status == 200 and await resp.json() == {"status": "ok", "database": "up"}
        async with http.get(f"{url}/health", headers={"Authorization": f"Bearer {operator_token}"}) as resp:
            assert "components" in await resp.json()
        async with http.post(f"{url}/api/events", json=heartbeat) as resp:
            assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(f"{url}/api/events", json=heartbeat,
                             headers={"Authorization": f"Bearer {agent_token}"}) as resp:
            assert resp.status == 201
    output = "".join(lines)
    assert "tokens mode" in output and "open to anyone" not in output
    assert agent_token not in output and operator_token not in output and "Traceback" not in output


async def test_rebuild_projections_command(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    await db.execute("INSERT INTO mt_streams (id, type, version) VALUES ('a/b#1', 'issue_status', 1)")
    await db.execute("""INSERT INTO mt_events (seq_id, id, stream_id, version, data, type, "timestamp")
                        VALUES (nextval('mt_events_sequence'), gen_random_uuid(), 'a/b#1', 1,
                                '{"Repo": "a/b", "IssueNumber": 1, "Title": "x"}', 'issue_approved', now())""")
    proc = await asyncio.create_subprocess_exec(*CLI, "rebuild-projections", env=env_for(pg_server_dsn),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "rebuilt projections from 1 events"
    data = await db.fetchval("SELECT data FROM mt_doc_issuestatus WHERE id = 'a/b#1'")
    assert data["Title"] == "x" and data["State"] == "queued"


async def test_start_up_mistakes_are_one_clear_line_and_exit_2(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    import socket

    async def run(*args: str, **env: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(*CLI, *args, env=env_for(pg_server_dsn, **env),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, (out + err).decode()

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        cases = [
            ((["serve"], {"PORT": "99999"}), "PORT must be a port number from 0 to 65535"),
            ((["serve"], {"LOG_LEVEL": "verbose"}), "LOG_LEVEL must be one of"),
            ((["serve", "--port", "70000"], {}), "a port number from 0 to 65535"),
            ((["serve", "--host", "127.0.0.1", "--port", str(port)], {}), f"port {port} on 127.0.0.1 is in use"),
        ]
        for (args, env), says in cases:
            code, output = await run(*args, **env)
            assert code == 2 and says in output and "Traceback" not in output, (args, env, output)
    finally:
        busy.close()
    code, output = await run("--version")
    assert code == 0 and output.startswith("conductor-e ")
