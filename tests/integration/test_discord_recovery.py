"""Discord refusing the bot at start-up: the bot keeps trying by itself, /health says so, and
delivery starts once Discord answers; appends never wait for any of it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg

from bot.runtime import Service
from tests.fake_discord import FakeDiscord, redirect_discord_py

from ..conftest import FakeClock
from .discord_harness import settings_for, thread_messages


async def test_discord_503_at_start_up_then_delivery(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                    clock: FakeClock) -> None:
    fake.set_outage(True, 503)
    service = Service(settings_for(fake), clock=clock, dsn=pg_server_dsn, discord_ready_timeout=0.1)
    with redirect_discord_py(fake):
        async with service, aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{service.port}"
            async with http.post(f"{url}/api/events", json={"type": "ISSUE_APPROVED", "repo": "acme/app",
                                                            "issueNumber": 1, "title": "t"}) as resp:
                assert resp.status == 201  # appends do not wait for Discord
            report = await _until_state(http, url, "discord", "down")
            assert "503" in report["components"]["discord"]["detail"]
            assert report["status"] == "ok"  # Discord down does not fail the health check
            fake.set_outage(False)
            await _until_state(http, url, "discord", "connected", timeout=15)
            await fake.wait_for(lambda: thread_messages(fake, "acme/app#1"), timeout=15)
            report = await _until_state(http, url, "delivery", "running")
            assert report["components"]["discord"]["restarts"] >= 1
            assert report["components"]["delivery"]["lagEvents"] == 0


async def _until_state(http: aiohttp.ClientSession, url: str, component: str, state: str,
                       timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(f"{url}/health") as resp:
            report: dict[str, Any] = await resp.json()
        if report["components"].get(component, {}).get("state") == state:
            return report
        assert time.monotonic() < deadline, report
        await asyncio.sleep(0.05)
