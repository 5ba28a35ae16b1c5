"""LOG_FORMAT=json with ACCESS_LOG=true, as the shipped command writes it: every line parses, access
lines carry the request's id, its stream and their parts, and client mistakes are never errors."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from typing import Any

import aiohttp
import asyncpg

from bot.log_format import JsonLines
from tests.fake_discord import FakeDiscord

from ..conftest import FakeClock
from .discord_harness import running_rig, thread_messages
from .test_startup import env_with, started

REPO = "acme/app"


async def test_json_lines_with_the_access_log(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    env = env_with(DATABASE_URL=pg_server_dsn, LOG_FORMAT="json", ACCESS_LOG="true")
    async with started(env) as serve:
        first = json.loads(await serve.until(lambda line: "listening on" in line))
        url = f"http://127.0.0.1:{str(first['message']).rsplit(':', 1)[1]}"
        async with aiohttp.ClientSession() as http:
            heartbeat = {"type": "HEARTBEAT", "agentId": "dev-e-1"}
            async with http.post(f"{url}/api/events", json=heartbeat, headers={"X-Request-Id": "edge-42"}) as resp:
                assert resp.status == 201
            async with http.post(f"{url}/api/events", json={"type": "ISSUE_APPROVED"}) as resp:
                assert resp.status == 422
            async with http.get(f"{url}/api/nowhere") as resp:
                assert resp.status == 404
        reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")  # refused by aiohttp's parser
        await writer.drain()
        await reader.read()
        writer.close()
        serve.proc.send_signal(signal.SIGTERM)
        code, output = await serve.finish()
    assert code == 0
    lines = [json.loads(text) for text in output.splitlines() if text.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in lines)
    access = {(e["method"], e["path"], e["status"]): e for e in lines if e["logger"] == "aiohttp.access"}
    append = access[("POST", "/api/events", 201)]
    assert append["requestId"] == "edge-42" and append["streamId"] == "dev-e-1"
    assert append["level"] == "INFO" and append["durationMs"] >= 0 and "201" in append["message"]
    refused = access[("POST", "/api/events", 422)]
    assert refused["level"] == "INFO" and len(refused["requestId"]) == 16 and "streamId" not in refused
    assert access[("GET", "/api/nowhere", 404)]["level"] == "INFO"
    assert [e["level"] for e in access.values() if e["status"] == 400] == ["INFO"]  # what the parser refused
    assert [e for e in lines if e["level"] in ("ERROR", "CRITICAL")] == []  # client mistakes are not errors


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLines())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_delivery_lines_name_their_stream(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                clock: FakeClock) -> None:
    collect = Collect()
    notifier_log = logging.getLogger("bot.discord.notifier")
    notifier_log.addHandler(collect)
    try:
        async with running_rig(fake, pg_server_dsn, clock, discord_retry_seconds=0.2) as rig:
            await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 7, "title": "t"})
            await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1, what="the thread")
            [thread] = [t["id"] for t in fake.threads.values() if str(t["name"]).startswith(f"{REPO}#7")]
            fake.fail_next(1, status=403, match=rf"^POST /channels/{thread}/messages$")
            await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 7})
            await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2, what="the retry", timeout=10)
    finally:
        notifier_log.removeHandler(collect)
    refused = [e for e in collect.lines if str(e["message"]).startswith("Discord refused")]
    assert refused and all(e["streamId"] == f"{REPO}#7" for e in refused)
