"""The shipped command, as a separate process: serve (API-only) and rebuild-projections."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp
import asyncpg

CLI = [sys.executable, "-m", "bot.cli"]


def env_for(dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    env["DATABASE_URL"] = dsn
    return env


async def test_serve_api_only_says_so_once_and_stops_on_sigterm(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    proc = await asyncio.create_subprocess_exec(*CLI, "serve", "--host", "127.0.0.1", "--port", "0",
                                                env=env_for(pg_server_dsn), stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("listening on" in line for line in lines):
                line = (await proc.stderr.readline()).decode()
                assert line, "the service exited before listening:\n" + "".join(lines)
                lines.append(line)
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", "".join(lines)).group(1))  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/api/events",
                                 json={"type": "HEARTBEAT", "agentId": "dev-e-1"}) as resp:
                assert resp.status == 201
            async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await proc.wait() == 0
    output = "".join(lines) + rest.decode()
    assert output.count("running API-only") == 1
    assert "Traceback" not in output


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
